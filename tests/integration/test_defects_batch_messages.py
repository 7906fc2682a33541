"""Issue 10, item 3: a malformed SQS message is reported alone (partial batch response, never the whole
batch), logged with its reason, and ends in the DLQ after maxReceiveCount — in place_orders as in
sync_worker. Real SQS (moto) with a redrive policy; the functions' own handlers."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from functions.place_orders import app as place_orders
from functions.sync_worker import app as sync_worker
from shared.observability import logger

MALFORMED = [
    "not json at all",
    "[1, 2]",
    json.dumps({"shop": "demo-store"}),  # no order_id
    json.dumps({"shop": "Not A Shop!", "order_id": "1"}),
    json.dumps({"shop": "demo-store", "order_id": {"nested": True}}),
    json.dumps({"shop": "demo-store", "order_id": "x" * 5000}),
    "\udcff\udcfe",  # bytes that were not UTF-8, as a JSON event string carries them
]


def record(n: int, body: str, receipt: str = "r") -> dict[str, Any]:
    return {"messageId": f"m{n}", "receiptHandle": receipt, "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "-",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}


@pytest.fixture
def worker_env(shop: str, app_secret: str) -> None:
    """The table, a shop, the app secret: what the place_orders worker builds its placer from."""


class Logs:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self, message: str) -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]
        return [e for e in entries if e.get("message") == message]


@pytest.fixture
def logs() -> Iterator[Logs]:
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[union-attr]
    try:
        yield Logs(stream)
    finally:
        logger.registered_handler.setStream(previous)  # type: ignore[union-attr]


def failures(response: dict[str, Any]) -> list[str]:
    return sorted(f["itemIdentifier"] for f in response["batchItemFailures"])


@pytest.mark.parametrize("body", MALFORMED)
def test_place_orders_reports_a_lone_malformed_message_without_failing_the_invocation(
        worker_env: None, body: str, lambda_context: Any, logs: Logs) -> None:
    response = place_orders.lambda_handler({"Records": [record(1, body)]}, lambda_context)
    assert failures(response) == ["m1"]
    (bad,) = logs.lines("malformed placement message")
    assert bad["message_id"] == "m1" and bad["reason"] and "x" * 100 not in bad["reason"]


def test_place_orders_reports_only_the_bad_records_of_a_batch(worker_env: None, lambda_context: Any) -> None:
    good = json.dumps({"shop": "demo-store", "order_id": "404"})  # unknown order: skipped, a final outcome
    records = [record(0, good)] + [record(n + 1, body) for n, body in enumerate(MALFORMED)]
    response = place_orders.lambda_handler({"Records": records}, lambda_context)
    assert failures(response) == sorted(f"m{n + 1}" for n in range(len(MALFORMED)))


def test_sync_worker_reports_and_logs_a_malformed_message(lambda_context: Any, monkeypatch: pytest.MonkeyPatch,
                                                          table: Any, logs: Logs) -> None:
    monkeypatch.setenv("SYNC_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/sync")
    bodies = ["nope", json.dumps({"kind": "shard", "run": "r"}), json.dumps({"kind": "orders", "run": "r",
              "unit": "u", "since": "2026-11-26T12:00:00Z", "keys": [["demo-store"]]})]
    response = sync_worker.lambda_handler({"Records": [record(n, b) for n, b in enumerate(bodies)]}, lambda_context)
    assert failures(response) == ["m0", "m1", "m2"]
    reasons = logs.lines("malformed sync message")
    assert len(reasons) == 3 and all(e["reason"] for e in reasons)


def _pump_until_dead(url: str, dlq: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]],
                     context: Any) -> tuple[list[str], int]:
    """Lambda's SQS poller: receive, invoke, delete what succeeded; failed messages become visible again
    (visibility timeout 0 here) until the redrive moves them to the DLQ."""
    sqs = boto3.client("sqs")
    handled = 0
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        records = [dict(record(0, m["Body"], m["ReceiptHandle"]), messageId=m["MessageId"]) for m in messages]
        failed = set(failures(handler({"Records": records}, context)))
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                handled += 1
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in dead), handled


def test_malformed_placement_messages_end_in_the_dlq_and_the_good_one_is_done(worker_env: None,
                                                                             lambda_context: Any) -> None:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="place-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="place", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})})["QueueUrl"]
    good = json.dumps({"shop": "demo-store", "order_id": "404"})
    bad = [json.dumps({"shop": "demo-store"}), "not json at all"]
    for body in [good, *bad]:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    dead, handled = _pump_until_dead(url, dlq, place_orders.lambda_handler, lambda_context)
    assert dead == sorted(bad) and handled == 1
