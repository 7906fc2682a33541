"""A stream consumer for the runtime's own tests: records what it was given, fails where the item says so.

An item's `probe` attribute steers it: "raise" makes the whole invocation fail, "report" reports the
record in batchItemFailures (ReportBatchItemFailures), anything else succeeds.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

CALLS: dict[str, list[list[str]]] = defaultdict(list)  # function name -> batches of "<eventName>:<sk>"
_lock = threading.Lock()


def _label(record: dict[str, Any]) -> str:
    return f"{record['eventName']}:{record['dynamodb']['Keys']['sk']['S']}"


def _mode(record: dict[str, Any]) -> str:
    image = record["dynamodb"].get("NewImage") or {}
    return str(image.get("probe", {}).get("S", ""))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event["Records"]
    with _lock:
        CALLS[context.function_name].append([_label(r) for r in records])
    if any(_mode(r) == "raise" for r in records):
        raise RuntimeError("probe asked to fail")
    return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                  for r in records if _mode(r) == "report"]}


SQS_CALLS: list[list[str]] = []  # batches of message bodies


def sqs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reports a message whose body starts with "fail" as failed; a body "raise" fails the invocation."""
    records = event["Records"]
    with _lock:
        SQS_CALLS.append([r["body"] for r in records])
    if any(r["body"] == "raise" for r in records):
        raise RuntimeError("probe asked to fail")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records
                                  if r["body"].startswith("fail")]}


SCHEDULE_EVENTS: list[dict[str, Any]] = []


def schedule_handler(event: dict[str, Any], context: Any) -> None:
    SCHEDULE_EVENTS.append(event)
    if event.get("fail"):
        raise RuntimeError("probe asked to fail")


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answers with the API Gateway event it was given; "/boom" raises; a path ending in .bin answers bytes."""
    import base64
    import json

    if event["rawPath"].endswith("/boom"):
        raise RuntimeError("probe asked to fail")
    if event["rawPath"].endswith(".bin"):
        return {"statusCode": 201, "headers": {"content-type": "application/octet-stream", "x-probe": "1"},
                "body": base64.b64encode(b"\x00\xffbytes").decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
