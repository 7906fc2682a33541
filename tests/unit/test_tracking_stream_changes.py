"""What a stream record changed: push_needed / notify_needed on pairs of images, as the stored item looks
(`encode_order`) and as a Lambda record carries it (DynamoDB JSON read by Powertools' DynamoDBRecord)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from boto3.dynamodb.types import TypeSerializer

from shared.data.orders import encode_order
from shared.logic.stream_changes import change_needing, notify_needed, on_change, order_change, push_needed
from shared.models.order import LineItem, Order, OrderStatus, Package, PackageLine

AT = datetime(2026, 11, 21, tzinfo=UTC)


def order(*packages: Package) -> Order:
    return Order(shop="demo-store", order_id="1001", status=OrderStatus.AWAITING_SHIPMENT, created_at=AT,
                 line_items=[LineItem(id="11", quantity=2)], packages=list(packages))


def pkg(number: str, **fields: Any) -> Package:
    return Package(tracking_number=number, line_items=[PackageLine(line_item_id="11", quantity=1)], found_at=AT,
                   **fields)


def image(value: Order | None) -> dict[str, Any]:
    return encode_order(value, 16) if value is not None else {}


def change(event: str, new: Order | None, old: Order | None = None) -> Any:
    return order_change(event, image(new), image(old))


def test_a_new_package_needs_a_push_once() -> None:
    inserted = change("INSERT", order(pkg("YT1")))
    assert inserted is not None and inserted.shop == "demo-store" and inserted.order_id == "1001"
    assert push_needed(inserted) == {"YT1"} and notify_needed(inserted) == set()
    shipped = change("MODIFY", order(pkg("YT1"), pkg("LP2")), order(pkg("YT1")))
    assert push_needed(shipped) == {"LP2"}  # YT1 was pending already: its own record started that push
    unrelated = change("MODIFY", order(pkg("YT1")), order(pkg("YT1")))
    assert push_needed(unrelated) == set()


def test_a_cleared_push_error_needs_a_push_again() -> None:
    refused = order(pkg("YT1", push_error="carrier refused"))
    retried = change("MODIFY", order(pkg("YT1")), refused)
    assert push_needed(retried) == {"YT1"}
    assert push_needed(change("MODIFY", refused, order(pkg("YT1")))) == set()


def test_a_pushed_package_needs_its_email_once() -> None:
    pushed = order(pkg("YT1", pushed_at=AT, fulfillment_id="5001"))
    just_pushed = change("MODIFY", pushed, order(pkg("YT1")))
    assert notify_needed(just_pushed) == {"YT1"} and push_needed(just_pushed) == set()
    emailed = order(pkg("YT1", pushed_at=AT, notified_at=AT))
    assert notify_needed(change("MODIFY", emailed, pushed)) == set()
    failed = order(pkg("YT1", pushed_at=AT, notify_error="no customer email"))
    assert notify_needed(change("MODIFY", failed, pushed)) == set()


def test_other_items_and_deletions_are_not_changes() -> None:
    assert order_change("MODIFY", {"entity": "email", "status": "sent"}, {}) is None
    assert order_change("INSERT", {"entity": "shop", "shop": "demo-store"}, {}) is None
    assert order_change("REMOVE", {}, image(order(pkg("YT1")))) is None
    with pytest.raises(ValueError, match="shop/order_id"):
        order_change("MODIFY", {"entity": "order", "shop": "demo-store", "order_id": Decimal(12)}, {})


def record(event: str, new: Order | None, old: Order | None = None, sequence: str = "4200") -> DynamoDBRecord:
    serializer = TypeSerializer()

    def dynamodb_json(item: dict[str, Any]) -> dict[str, Any]:
        return {key: serializer.serialize(value) for key, value in item.items()}

    body: dict[str, Any] = {"Keys": {"pk": {"S": "SHOP#demo-store"}, "sk": {"S": "ORDER#1001"}},
                            "SequenceNumber": sequence, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        body["NewImage"] = dynamodb_json(image(new))
    if old is not None:
        body["OldImage"] = dynamodb_json(image(old))
    return DynamoDBRecord({"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": body})


def test_change_needing_reads_a_lambda_record_and_keys_attempts_by_sequence_number() -> None:
    found = change_needing(record("MODIFY", order(pkg("YT1")), order(), sequence="4242"), push_needed)
    assert found is not None and found[1] == "4242" and push_needed(found[0]) == {"YT1"}
    assert change_needing(record("MODIFY", order(pkg("YT1")), order()), notify_needed) is None
    assert change_needing(record("REMOVE", None, order(pkg("YT1"))), push_needed) is None


def test_on_change_runs_the_work_only_for_records_with_work() -> None:
    calls: list[tuple[str, str, str]] = []

    def work(shop: str, order_id: str, key: str) -> str:
        calls.append((shop, order_id, key))
        return "done"

    assert on_change(record("INSERT", order(pkg("YT1")), sequence="7"), push_needed, work) == "done"
    assert on_change(record("MODIFY", order(pkg("YT1")), order(pkg("YT1"))), push_needed, work) is None
    assert calls == [("demo-store", "1001", "7")]
