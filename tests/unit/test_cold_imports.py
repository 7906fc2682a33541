"""Cold start (issue 11): what importing a handler loads, checked in fresh processes (`sys.modules`).

The figures are bench/cold_import.py's (docs/benchmarks.md); these keep the cuts behind them: Powertools' event
handler without its other resolvers, no OpenAPI models until /openapi.json, the order and shop models built at
first use (defer_build), Powertools' batch without its parser models, route-only use cases imported by their
route, and with tracing on the X-Ray SDK patching libraries as they are imported rather than importing them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.template import function_specs, load_template

ROOT = Path(__file__).resolve().parents[2]
SPECS = {spec.logical_id: spec for spec in function_specs(load_template())}
HTTP = ("WebhookOrderFunction", "ConnectAliExpressFunction", "SellerApiFunction")
QUEUE = ("PlaceOrdersFunction", "SyncStatusFunction", "SyncWorkerFunction")
OTHER_RESOLVERS = ("appsync", "bedrock_agent", "bedrock_agent_function", "vpc_lattice", "lambda_function_url",
                   "http_resolver", "events_appsync")
REPORT = """
import json, sys
__import__(sys.argv[1])
import pydantic  # after the handler: importing it first changes what Powertools' batch imports
incomplete = sorted(name for name, value in vars(sys.modules["shared.models.order"]).items()
                    if isinstance(value, type) and issubclass(value, pydantic.BaseModel)
                    and value is not pydantic.BaseModel and not value.__pydantic_complete__)
built = sorted(f"{m.__name__}.{name}" for m in list(sys.modules.values())
               if getattr(m, "__name__", "").startswith("shared.models.")
               for name, value in vars(m).items()
               if isinstance(value, type) and issubclass(value, pydantic.BaseModel)
               and value.__module__ == m.__name__ and value.__pydantic_complete__)
print(json.dumps({"modules": sorted(sys.modules), "built": built, "incomplete": incomplete}))
"""


def environment(logical_id: str, lambda_like: bool = False) -> dict[str, str]:
    """The function's environment from the template, as bench/cold_import.py builds it."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPATH": str(ROOT)}
    for key, value in SPECS[logical_id].environment.items():
        env[key] = value if isinstance(value, str) else f"placeholder-{key.lower()}"
    if lambda_like:
        env.update(AWS_LAMBDA_FUNCTION_NAME=logical_id, AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
                   AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR", LAMBDA_TASK_ROOT=str(ROOT))
    return env


def imported(logical_id: str, lambda_like: bool = False) -> dict[str, Any]:
    module = SPECS[logical_id].handler.rsplit(".", 1)[0]
    out = subprocess.run([sys.executable, "-c", REPORT, module], env=environment(logical_id, lambda_like), cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    report["modules"] = set(report["modules"])
    return report


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    return {name: imported(name) for name in (*HTTP, *QUEUE)}


@pytest.mark.parametrize("name", HTTP)
def test_http_functions_import_one_powertools_resolver(reports: dict[str, dict[str, Any]], name: str) -> None:
    modules = reports[name]["modules"]
    assert "aws_lambda_powertools.event_handler.api_gateway" in modules
    loaded = [r for r in OTHER_RESOLVERS if f"aws_lambda_powertools.event_handler.{r}" in modules]
    assert not loaded, f"{name} imports Powertools' {loaded} (shared.web must come before the event handler)"
    assert "asyncio" not in modules
    assert "aws_lambda_powertools.event_handler.openapi.models" not in modules


@pytest.mark.parametrize("name", (*HTTP, *QUEUE))
def test_no_tracing_sdk_and_models_built_at_first_use(reports: dict[str, dict[str, Any]], name: str) -> None:
    report = reports[name]
    assert not {m for m in report["modules"] if m.startswith("aws_xray_sdk")}
    assert report["built"] == []  # defer_build: no model of shared.models is built by an import
    assert "Order" in report["incomplete"]


@pytest.mark.parametrize("name", ("PlaceOrdersFunction", "SyncWorkerFunction"))  # the SQS consumers (shared.batch)
def test_powertools_batch_without_its_parser_models(reports: dict[str, dict[str, Any]], name: str) -> None:
    # Powertools' batch types import (and build) its parser models when pydantic is imported before it.
    assert "aws_lambda_powertools.utilities.batch" in reports[name]["modules"]
    assert "aws_lambda_powertools.utilities.parser.models" not in reports[name]["modules"]


def test_seller_api_route_only_use_cases_are_imported_by_their_route(reports: dict[str, dict[str, Any]]) -> None:
    modules = reports["SellerApiFunction"]["modules"]
    assert not {"shared.logic.manual_fulfillment", "shared.logic.products.edit", "shared.logic.products.listing",
                "shared.logic.products.store_push"} & modules


def test_webhook_imports_no_http_client(reports: dict[str, dict[str, Any]]) -> None:
    assert "requests" not in reports["WebhookOrderFunction"]["modules"]


TRACED = """
import sys
import functions.webhook_order.app as app
import botocore.client
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
assert type(app.tracer).__name__ == "Tracer", app.tracer
assert "requests" not in sys.modules and "sqlite3" not in sys.modules, "imported to be patched"
assert getattr(botocore.client, "_xray_enabled", False) and _PATCHED_MODULES == {"botocore"}, _PATCHED_MODULES
import requests
assert type(requests.Session.__dict__["request"]).__name__ == "FunctionWrapper", "requests not patched on import"
assert _PATCHED_MODULES == {"botocore", "requests"}, _PATCHED_MODULES
print("ok")
"""


def test_tracing_on_patches_libraries_when_they_are_imported() -> None:
    out = subprocess.run([sys.executable, "-c", TRACED], env=environment("WebhookOrderFunction", lambda_like=True),
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


WHOLE_PACKAGE = """
import sys
import shared.web
import aws_lambda_powertools.event_handler as package
from aws_lambda_powertools.event_handler import content_types
assert "aws_lambda_powertools.event_handler.appsync" not in sys.modules
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, AppSyncResolver, Response
from aws_lambda_powertools.event_handler.appsync import AppSyncResolver as Real
assert AppSyncResolver is Real and APIGatewayHttpResolver is shared.web.APIGatewayHttpResolver
assert Response is shared.web.Response and "AppSyncResolver" in package.__all__
try:
    package.NoSuchName
except AttributeError:
    print("ok")
"""


def test_a_name_of_the_event_handler_package_imports_the_whole_package() -> None:
    out = subprocess.run([sys.executable, "-c", WHOLE_PACKAGE], env=environment("SellerApiFunction"), cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
