"""The deployed wiring of the sync, read from infra/template.yaml (the same file SAM deploys)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return load_template()["Resources"]  # type: ignore[no-any-return]


def test_schedule_twice_daily_utc_with_retries_and_dlq(resources: dict[str, Any]) -> None:
    starter = resources["SyncStatusFunction"]["Properties"]
    assert starter["Handler"] == "functions.sync_status.app.lambda_handler"
    event = starter["Events"]["TwiceDaily"]
    assert event["Type"] == "ScheduleV2"
    props = event["Properties"]
    assert props["ScheduleExpression"] == "cron(0 0,12 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "UTC"
    assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert props["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["SyncScheduleDeadLetterQueue", "Arn"]}
    assert json.loads(props["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}


def test_worker_queue_dlq_redrive_capped_concurrency(resources: dict[str, Any]) -> None:
    worker = resources["SyncWorkerFunction"]["Properties"]
    queue = resources["SyncQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert worker["Timeout"] < 900
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}
    sqs = worker["Events"]["Queue"]["Properties"]
    assert sqs["Queue"] == {"Fn::GetAtt": ["SyncQueue", "Arn"]}
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SyncWorkerConcurrency"}


def test_alarms_on_both_dlqs(resources: dict[str, Any]) -> None:
    watched = {json.dumps(r["Properties"].get("Dimensions")) for r in resources.values()
               if r["Type"] == "AWS::CloudWatch::Alarm"}
    for dlq in ("SyncDeadLetterQueue", "SyncScheduleDeadLetterQueue"):
        assert json.dumps([{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]) in watched


def test_roles_are_least_privilege(resources: dict[str, Any]) -> None:
    def actions(role: str) -> set[str]:
        found: set[str] = set()
        for policy in resources[role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                acts = statement["Action"]
                found.update([acts] if isinstance(acts, str) else acts)
                assert statement["Resource"] != "*" or set(found) & {"xray:PutTraceSegments"}
        return found

    starter = actions("SyncStatusRole")
    assert "dynamodb:Scan" not in starter and "secretsmanager:GetSecretValue" not in starter
    assert "sqs:SendMessage" in starter and "sqs:ReceiveMessage" not in starter
    worker = actions("SyncWorkerRole")
    assert "dynamodb:Scan" not in worker and "dynamodb:DeleteItem" not in worker
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"} <= worker
    env = resources["SyncWorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SYNC_QUEUE_URL"] == {"Ref": "SyncQueue"}
