"""The seller's manual fulfillment over fakes: which items a package covers, idempotency per tracking number,
what the order's state allows, and the domain errors the API maps to 404/409/422. (Through the HTTP API and
the stream to ShopBase: tests/tracking/test_fulfill_api.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.logic.manual_fulfillment import ManualFulfillment, add_manual_package, remaining_quantities
from shared.models.errors import Conflict, Invalid, NotFound
from shared.models.order import LineItem, Order, OrderStatus, Package, PackageLine
from tests.unit.fakes import InMemoryOrders

SHOP = "demo-store"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def orders_with(status: OrderStatus = OrderStatus.AWAITING_ORDER, *packages: Package, **fields: Any) -> InMemoryOrders:
    orders = InMemoryOrders()
    orders.add(Order(shop=SHOP, order_id="1001", status=status, created_at=NOW,
                     line_items=[LineItem(id="11", quantity=1), LineItem(id="12", quantity=3)],
                     packages=list(packages), **fields))
    return orders


def request(number: str = "MAN000000001", carrier: str = "USPS", **fields: Any) -> ManualFulfillment:
    return ManualFulfillment.model_validate({"tracking_number": number, "carrier": carrier, **fields})


def fulfill(orders: InMemoryOrders, body: ManualFulfillment, order_id: str = "1001") -> Any:
    return add_manual_package(orders, SHOP, order_id, body, now=NOW)


def test_default_lines_are_everything_not_yet_covered() -> None:
    orders = orders_with()
    first = fulfill(orders, request("MAN1", line_items=[{"id": 12, "quantity": 1}]))
    assert first.outcome == "created" and first.package.source == "manual" and first.package.ae_order_id is None
    assert [(x.line_item_id, x.quantity) for x in first.package.line_items] == [("12", 1)]
    rest = fulfill(orders, request("MAN2"))
    assert [(x.line_item_id, x.quantity) for x in rest.package.line_items] == [("11", 1), ("12", 2)]
    assert rest.package.needs_push and rest.package.found_at == NOW
    with pytest.raises(Conflict, match="already has a tracking number"):
        fulfill(orders, request("MAN3"))


def test_remaining_quantities_do_not_count_refused_packages() -> None:
    refused = Package(tracking_number="BAD1", line_items=[PackageLine(line_item_id="12", quantity=3)],
                      push_error="carrier refused")
    pending = Package(tracking_number="OK1", line_items=[PackageLine(line_item_id="11", quantity=1)])
    order = orders_with(OrderStatus.FAILED, refused, pending).get(SHOP, "1001")
    assert order is not None and remaining_quantities(order) == {"11": 0, "12": 3}


def test_line_items_must_be_the_orders_and_not_more_than_left() -> None:
    orders = orders_with()
    with pytest.raises(Invalid, match="line item 999 is not part of this order") as unknown:
        fulfill(orders, request(line_items=[{"id": "999", "quantity": 1}]))
    assert unknown.value.field == "line_items" and unknown.value.details == {"field": "line_items"}
    with pytest.raises(Invalid, match="quantity 4 is more than the 3 not yet fulfilled"):
        fulfill(orders, request(line_items=[{"id": "12", "quantity": 2}, {"id": "12", "quantity": 2}]))
    stored = orders.get(SHOP, "1001")
    assert stored is not None and stored.packages == []


def test_same_tracking_number_again_is_unchanged_other_items_is_a_conflict() -> None:
    orders = orders_with()
    fulfill(orders, request(line_items=[{"id": "12", "quantity": 1}]))
    writes = orders.calls["write"]
    again = fulfill(orders, request())  # a double click, a client retry
    assert again.outcome == "unchanged" and orders.calls["write"] == writes
    same = fulfill(orders, request(line_items=[{"id": "12", "quantity": 1}]))
    assert same.outcome == "unchanged"
    with pytest.raises(Conflict, match="already used for other items") as other:
        fulfill(orders, request(line_items=[{"id": "12", "quantity": 2}]))
    assert other.value.details == {"field": "tracking_number"}


def test_a_refused_number_sent_again_clears_the_refusal_with_the_new_carrier() -> None:
    reason = "ShopBase does not accept the carrier 'Bogus Post'"
    refused = Package(tracking_number="MAN1", carrier="Bogus Post", source="manual", push_error=reason,
                      line_items=[PackageLine(line_item_id="11", quantity=1)])
    orders = orders_with(OrderStatus.FAILED, refused, reason=reason, attention=reason)
    result = fulfill(orders, request("MAN1", carrier="UPS", tracking_url="https://ups.example/MAN1"))
    assert result.outcome == "retrying"
    package = result.package
    assert package.push_error is None and package.carrier == "UPS" and package.tracking_url == "https://ups.example/MAN1"
    assert package.needs_push and result.order.attention is None


@pytest.mark.parametrize(("status", "fields", "words"), [
    (OrderStatus.CANCELED, {}, "canceled"),
    (OrderStatus.AWAITING_SHIPMENT, {"fulfilled_in_store": True}, "fulfilled in the ShopBase admin"),
    (OrderStatus.PENDING, {}, "not paid"),
    (OrderStatus.FULFILLED, {}, "already fulfilled"),
])
def test_states_that_cannot_be_fulfilled(status: OrderStatus, fields: dict[str, Any], words: str) -> None:
    with pytest.raises(Conflict, match=words):
        fulfill(orders_with(status, **fields), request())


@pytest.mark.parametrize("status", [OrderStatus.AWAITING_ORDER, OrderStatus.AWAITING_PAYMENT,
                                    OrderStatus.AWAITING_SHIPMENT, OrderStatus.FAILED])
def test_states_that_can_be_fulfilled(status: OrderStatus) -> None:
    assert fulfill(orders_with(status), request()).outcome == "created"


def test_unknown_order_is_not_found() -> None:
    with pytest.raises(NotFound, match="order 424242 not found"):
        fulfill(orders_with(), request(), order_id="424242")
    orders = orders_with()
    with pytest.raises(NotFound):
        fulfill(orders, request(), order_id="12a")
    assert orders.calls["mutate"] == 0  # not a ShopBase order id: not even looked up


@pytest.mark.parametrize(("body", "field"), [
    ({"tracking_number": "x", "carrier": "USPS"}, "tracking_number"),
    ({"tracking_number": "MAN/1000001", "carrier": "USPS"}, "tracking_number"),
    ({"tracking_number": "MAN1000001"}, "carrier"),
    ({"tracking_number": "MAN1000001", "carrier": "USPS", "tracking_url": "ftp://nope"}, "tracking_url"),
    ({"tracking_number": "MAN1000001", "carrier": "USPS", "line_items": []}, "line_items"),
    ({"tracking_number": "MAN1000001", "carrier": "USPS", "line_items": [{"id": "1", "quantity": 0}]}, "line_items"),
    ({"tracking_number": "MAN1000001", "carrier": "USPS", "extra": 1}, "extra"),
])
def test_request_body_validation(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        ManualFulfillment.model_validate(body)
    assert error.value.errors()[0]["loc"][0] == field


def test_request_body_is_trimmed_and_ids_become_text() -> None:
    body = ManualFulfillment.model_validate({"tracking_number": "  MAN 100-0001 ", "carrier": " USPS ",
                                             "line_items": [{"id": 11, "quantity": 1}]})
    assert body.tracking_number == "MAN 100-0001" and body.carrier == "USPS" and body.tracking_url is None
    assert body.line_items is not None and body.line_items[0].id == "11"
