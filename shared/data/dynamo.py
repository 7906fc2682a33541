"""AWS plumbing shared by the data layer: client and table factories (for the wiring), item (de)serialisation."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Standard retry mode retries throttling and 5xx with backoff; timeouts keep a stuck call from
# eating the whole Lambda budget.
BOTO_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
)


def table(name: str, config: Config = BOTO_CONFIG) -> Any:
    """The table `name` (built by the wiring, once per container). The endpoint comes from AWS_ENDPOINT_URL
    when set (moto locally), else the real one."""
    return boto3.resource("dynamodb", config=config).Table(name)


def client(service: str) -> Any:
    """A boto3 client with the project's timeouts and retries (built by the wiring)."""
    return boto3.client(service, config=BOTO_CONFIG)


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON-mode dump to DynamoDB types: floats become Decimal, empty values are dropped."""
    cleaned = json.loads(json.dumps(data), parse_float=Decimal)
    return {k: v for k, v in cleaned.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's Decimals back to int/float so Pydantic sees plain JSON values."""
    return json.loads(json.dumps(item, default=_decimal))  # type: ignore[no-any-return]


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def condition_failed(error: ClientError) -> bool:
    """True when a conditional write (or a transaction's condition) was refused: an expected outcome."""
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        return any(r.get("Code") == "ConditionalCheckFailed" for r in error.response.get("CancellationReasons") or [])
    return False


def conditional_write(operation: Callable[..., Any], **request: Any) -> bool:
    """`operation(**request)` (a table's put_item, update_item, delete_item with a ConditionExpression): True
    when it wrote, False when DynamoDB refused its condition (an expected outcome); any other error raises."""
    try:
        operation(**request)
    except ClientError as error:
        if condition_failed(error):
            return False
        raise
    return True
