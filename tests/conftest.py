"""Shared fixtures: moto in-process AWS, the table created from infra/template.yaml, a Lambda context."""

from __future__ import annotations

import os

# Before any boto3 import: moto 5.2.5 + botocore >= 1.44 needs this for DynamoDB Streams.
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DropshipConnectorTest")
os.environ.setdefault("TABLE_NAME", "dropship-orders-test")
os.environ.pop("AWS_ENDPOINT_URL", None)

import copy
import functools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from local.moto_serial import answer_dynamodb_in_plain_json
from local.template import load_template, table_create_args
from shared import wiring

# moto's DynamoDB answers in plain JSON in every test process, as in the local runtime (the same JSON as moto's
# serializer writes: tests/local/test_moto_serial.py), so no test's path depends on which ran before it.
answer_dynamodb_in_plain_json()

# Vendored from the team handbook's reference/fixtures, so a clone with nothing beside it passes.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# In-process moto takes no lock, so two threads' conditional writes on one item could both pass their
# condition (DynamoDB never lets them). One request at a time restores DynamoDB's per-request atomicity
# for the concurrency tests (never-twice placement, racing writers).
_moto_lock = threading.RLock()
_moto_call = BotocoreStubber.__call__


def _serial_moto_call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
    with _moto_lock:
        return _moto_call(self, event_name, request, **kwargs)


BotocoreStubber.__call__ = _serial_moto_call  # type: ignore[method-assign]

# mock_aws() gives every test a fresh boto3 session, and each session's loader parses botocore's service
# models (several MB of JSON) again: half of a moto test's setup. The files do not change during a run, so
# one parse per process serves every session (botocore treats loaded models as read-only; its extras
# merge is idempotent).
_load_file = botocore.loaders.JSONFileLoader.load_file
_parsed_files: dict[str, Any] = {}


def _load_file_once(self: botocore.loaders.JSONFileLoader, file_path: str) -> Any:
    if file_path not in _parsed_files:
        _parsed_files[file_path] = _load_file(self, file_path)
    return _parsed_files[file_path]


botocore.loaders.JSONFileLoader.load_file = _load_file_once  # type: ignore[method-assign]

# The same for the directory walk that lists the services botocore knows (once per session otherwise).
_list_services = botocore.loaders.Loader.list_available_services
_service_lists: dict[tuple[tuple[str, ...], str], list[str]] = {}


def _list_services_once(self: botocore.loaders.Loader, type_name: str) -> list[str]:
    key = (tuple(self.search_paths), type_name)
    if key not in _service_lists:
        _service_lists[key] = _list_services(self, type_name)
    return list(_service_lists[key])


botocore.loaders.Loader.list_available_services = _list_services_once  # type: ignore[method-assign]


@dataclass
class FakeLambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        wiring.reset()
        yield
        wiring.reset()


@functools.cache
def _template_table_args(name: str) -> dict[str, Any]:
    return table_create_args(load_template(), "OrdersTable", name)


def _orders_table_args(name: str) -> dict[str, Any]:
    """The table's definition from the template, read once per process (a fresh copy for each table)."""
    return copy.deepcopy(_template_table_args(name))


@pytest.fixture
def table(aws: None) -> Any:
    """The orders table, created from the definition in infra/template.yaml (not a copy)."""
    client = boto3.client("dynamodb")
    client.create_table(**_orders_table_args(wiring.settings().table_name))
    return boto3.resource("dynamodb").Table(wiring.settings().table_name)


@pytest.fixture
def shop(table: Any) -> str:
    """A registered shop with a webhook secret."""
    wiring.shop_secrets().put("demo-store", {"webhook_secret": "whsec-demo", "shopbase_access_token": "sbtok"})
    return "demo-store"


@pytest.fixture
def order_paid() -> dict[str, Any]:
    return json.loads((FIXTURES / "shopbase" / "order_paid.json").read_text())
