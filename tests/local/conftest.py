"""Fixtures for the local runtime: template copies with probe consumers, a stack started from a copy."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.stack import Stack, StackConfig
from local.template import load_template
from tests.local import probe

PROBE_HANDLER = "tests.local.probe.lambda_handler"


def probe_event(**overrides: Any) -> dict[str, Any]:
    """A DynamoDB event on the orders table's stream, as a function in the template would declare it."""
    props: dict[str, Any] = {
        "Stream": {"Fn::GetAtt": ["OrdersTable", "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 10,
        "MaximumRetryAttempts": 1,
        "BisectBatchOnFunctionError": False,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "FilterCriteria": {"Filters": [
            {"Pattern": json.dumps({"dynamodb": {"NewImage": {"kind": {"S": ["probe"]}}}})}]},
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["ProbeFailures", "Arn"]}}},
    }
    props.update(overrides)
    return {"Type": "DynamoDB", "Properties": props}


def template_with_probe(tmp_path: Path, event: dict[str, Any], name: str = "template.yaml") -> Path:
    """infra/template.yaml plus a probe function on the orders stream and its OnFailure queue."""
    template = copy.deepcopy(load_template())
    template["Resources"]["ProbeFailures"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    template["Resources"]["ProbeFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Handler": PROBE_HANDLER, "CodeUri": "..", "Timeout": 5, "Events": {"Orders": event}},
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


@pytest.fixture
def start_stack() -> Iterator[Callable[..., Stack]]:
    """Start an in-process stack (no simulators) from a template path; stopped at the end of the test."""
    stacks: list[Stack] = []

    def start(template: Path, **config: Any) -> Stack:
        probe.CALLS.clear()
        settings: dict[str, Any] = dict(template_path=template, api_port=0, moto_port=0, aliexpress_port=0,
                                        shopbase_port=0, simulators=False, state_dir=None, poll_interval=0.05,
                                        retry_delay=0.01)
        settings.update(config)
        stack = Stack(StackConfig(**settings)).start()
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
