"""The template wires both stream consumers as the code expects (filters, retry caps, bisect, on-failure
queues with alarms, least-privilege roles), and its filters select the records Lambda would deliver."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from local.template import ROOT, load_template

CONSUMERS = {"PushTrackingFunction": ("push_tracking", "push_pending", "PushTrackingFailureQueue"),
             "NotifyCustomerFunction": ("notify_customer", "notify_pending", "NotifyCustomerFailureQueue")}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("function_id", sorted(CONSUMERS))
def test_stream_consumer_wiring(template: dict[str, Any], function_id: str) -> None:
    folder, counter, queue = CONSUMERS[function_id]
    resources = template["Resources"]
    props = resources[function_id]["Properties"]
    assert props["Handler"] == f"functions.{folder}.app.lambda_handler"
    event = props["Events"]["OrdersStream"]
    assert event["Type"] == "DynamoDB"
    esm = event["Properties"]
    assert esm["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert esm["BisectBatchOnFunctionError"] is True
    assert 1 <= esm["MaximumRetryAttempts"] <= 10
    assert 60 <= esm["MaximumRecordAgeInSeconds"] <= 6 * 3600
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": {"Fn::GetAtt": [queue, "Arn"]}}
    pattern = json.loads(esm["FilterCriteria"]["Filters"][0]["Pattern"])
    assert counter in pattern["dynamodb"]["NewImage"]
    # Our own retry cap gives up (and records the failure on the order) before Lambda's does.
    from shared.settings import Settings

    cap = Settings.model_fields["push_max_attempts" if folder == "push_tracking" else "notify_max_attempts"].default
    assert cap <= esm["MaximumRetryAttempts"] + 1
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
              and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
              in r["Properties"].get("Dimensions", [])]
    assert len(alarms) == 1 and alarms[0]["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert f"build-{function_id}:" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("function_id", sorted(CONSUMERS))
def test_roles_touch_only_their_resources(template: dict[str, Any], function_id: str) -> None:
    role = template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    for statement in _statements(template, role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith("dynamodb:") for a in actions):
            assert statement["Resource"] in ({"Fn::GetAtt": ["OrdersTable", "Arn"]},
                                             {"Fn::GetAtt": ["OrdersTable", "StreamArn"]})
        if any(a.startswith("ses:") for a in actions):
            assert statement["Resource"] == {"Ref": "SenderIdentityArn"}
        if statement["Resource"] == "*":
            assert all(a.startswith("xray:") for a in actions)
    ses = [s for s in _statements(template, role) if "ses:SendEmail" in s["Action"]]
    assert bool(ses) is (function_id == "NotifyCustomerFunction")


def _record(event_name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Keys": {"pk": {"S": "SHOP#s"}, "sk": {"S": "ORDER#1"}}, "SequenceNumber": "1"}
    if new is not None:
        body["NewImage"] = new
    if old is not None:
        body["OldImage"] = old
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": body}


def test_filters_select_what_lambda_would_deliver(template: dict[str, Any]) -> None:
    def accepts(function_id: str, record: dict[str, Any]) -> bool:
        esm = template["Resources"][function_id]["Properties"]["Events"]["OrdersStream"]["Properties"]
        patterns = [EventPattern.load(f["Pattern"]) for f in esm["FilterCriteria"]["Filters"]]
        return any(p.matches_event(record) for p in patterns)  # type: ignore[arg-type]

    order = {"entity": {"S": "order"}, "push_pending": {"N": "1"}, "notify_pending": {"N": "0"}}
    assert accepts("PushTrackingFunction", _record("MODIFY", order))
    assert accepts("PushTrackingFunction", _record("INSERT", order))
    assert not accepts("NotifyCustomerFunction", _record("MODIFY", order))
    pushed = {**order, "push_pending": {"N": "0"}, "notify_pending": {"N": "2"}}
    assert accepts("NotifyCustomerFunction", _record("MODIFY", pushed))
    assert not accepts("PushTrackingFunction", _record("MODIFY", pushed))
    assert not accepts("PushTrackingFunction", _record("REMOVE", None, order))
    ledger = {"entity": {"S": "email"}, "status": {"S": "sent"}}
    assert not accepts("PushTrackingFunction", _record("INSERT", ledger))
    assert not accepts("NotifyCustomerFunction", _record("INSERT", ledger))
    legacy = {"entity": {"S": "order"}}  # written before the counters existed: not delivered
    assert not accepts("PushTrackingFunction", _record("MODIFY", legacy))
