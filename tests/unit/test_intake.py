"""Intake decisions over an in-memory repository: the target status per topic and store state, and how each
delivery applies (created, duplicate, stale, updated, refunds, never backwards, cancel after placement)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.lifecycle import TRANSITIONS, Event, transition
from shared.logic.intake import (
    CANCEL_AFTER_PLACEMENT,
    IntakeOutcome,
    Topic,
    apply_order_webhook,
    apply_refund_webhook,
    body_hash,
    store_target,
)
from shared.models.order import AeOrder, Order, OrderStatus, Package
from shared.models.shopbase_order import ShopBaseOrder, ShopBaseRefund
from tests.unit.fakes import InMemoryOrders

SHOP = "demo-store"
ORDER_ID = "5549662"
S = OrderStatus


def body(order_paid: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(order_paid)
    payload.update(changes)
    return payload


def deliver(repo: InMemoryOrders, topic: Topic, payload: dict[str, Any]) -> tuple[IntakeOutcome, Order | None]:
    raw = json.dumps(payload).encode()
    result = apply_order_webhook(repo, SHOP, topic, ShopBaseOrder.model_validate(payload), body_hash(raw))
    return result.outcome, result.order


def later(payload: dict[str, Any], minutes: int) -> str:
    return (datetime.fromisoformat(payload["updated_at"]) + timedelta(minutes=minutes)).isoformat()


# ---------------------------------------------------------------- store_target


@pytest.mark.parametrize("topic", list(Topic))
@pytest.mark.parametrize(("changes", "expected"), [
    ({"financial_status": "paid"}, (S.AWAITING_ORDER, Event.CUSTOMER_PAID)),
    ({"financial_status": "partially_refunded"}, (S.AWAITING_ORDER, Event.CUSTOMER_PAID)),
    ({"financial_status": "pending"}, (S.PENDING, Event.ORDER_CREATED_UNPAID)),
    ({"financial_status": "authorized"}, (S.PENDING, Event.ORDER_CREATED_UNPAID)),
    ({"financial_status": "refunded"}, (S.CANCELED, Event.STORE_CANCELLED)),
    ({"financial_status": "voided"}, (S.CANCELED, Event.STORE_CANCELLED)),
    ({"cancelled_at": "2026-11-21T00:00:00Z"}, (S.CANCELED, Event.STORE_CANCELLED)),
    ({"fulfillment_status": "fulfilled", "fulfillments": [{"id": 1, "tracking_number": "BYHAND1"}]},
     (S.FULFILLED, Event.STORE_FULFILLED)),
])
def test_store_target_on_every_topic(order_paid: dict[str, Any], topic: Topic, changes: dict[str, Any],
                                     expected: tuple[OrderStatus, Event]) -> None:
    incoming = ShopBaseOrder.model_validate(body(order_paid, **changes))
    if topic is Topic.ORDERS_CANCELLED:
        expected = (S.CANCELED, Event.STORE_CANCELLED)  # the topic alone says cancelled
    assert store_target(incoming, topic, set()) == expected


def test_fulfilled_with_our_own_tracking_numbers_is_not_a_fulfillment_by_hand(order_paid: dict[str, Any]) -> None:
    incoming = ShopBaseOrder.model_validate(body(order_paid, fulfillment_status="fulfilled",
                                                 fulfillments=[{"id": 1, "tracking_number": "LP1"}]))
    assert store_target(incoming, Topic.ORDERS_FULFILLED, {"LP1"}) == (S.AWAITING_ORDER, Event.CUSTOMER_PAID)
    assert store_target(incoming, Topic.ORDERS_FULFILLED, {"LP2"}) == (S.FULFILLED, Event.STORE_FULFILLED)


def test_every_target_is_a_legal_start_and_a_legal_move_from_pending() -> None:
    for status, event in [(S.AWAITING_ORDER, Event.CUSTOMER_PAID), (S.PENDING, Event.ORDER_CREATED_UNPAID),
                          (S.CANCELED, Event.STORE_CANCELLED), (S.FULFILLED, Event.STORE_FULFILLED)]:
        assert event in TRANSITIONS[(None, status)]
        if status is not S.PENDING:
            assert event in TRANSITIONS[(S.PENDING, status)]


# ---------------------------------------------------------------- apply


@pytest.mark.parametrize(("changes", "status"), [
    ({}, S.AWAITING_ORDER),
    ({"financial_status": "pending"}, S.PENDING),
    ({"financial_status": "refunded"}, S.CANCELED),
    ({"fulfillment_status": "fulfilled", "fulfillments": [{"id": 1, "tracking_number": "BYHAND1"}]}, S.FULFILLED),
])
def test_a_new_order_costs_one_write_and_no_read(order_paid: dict[str, Any], changes: dict[str, Any],
                                                 status: OrderStatus) -> None:
    repo = InMemoryOrders()
    outcome, order = deliver(repo, Topic.ORDERS_CREATE, body(order_paid, **changes))
    assert outcome is IntakeOutcome.CREATED and order is not None and order.status is status
    assert repo.calls["write"] == 1 and repo.calls["get"] == 0 and repo.calls["conditional_failure"] == 0
    assert [(h.from_status, h.to_status) for h in order.history] == [(None, status)]
    assert order.fulfilled_in_store is (status is S.FULFILLED)
    assert order.total_price == "43.90" and [li.price for li in order.line_items] == ["12.95", "13.0"]
    assert order.created_at == datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)


def test_the_same_body_again_is_a_duplicate_and_writes_nothing(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)
    before = repo.all()
    assert deliver(repo, Topic.ORDERS_PAID, order_paid)[0] is IntakeOutcome.DUPLICATE
    assert repo.all() == before and repo.calls["write"] == 1


@pytest.mark.parametrize("updated_at", ["2026-11-20T09:14:10+00:00", "2026-11-20T09:15:41+00:00", None])
def test_an_older_or_undated_delivery_is_stale(order_paid: dict[str, Any], updated_at: str | None) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)
    before = repo.all()
    older = body(order_paid, financial_status="pending", updated_at=updated_at)
    assert deliver(repo, Topic.ORDERS_CREATE, older)[0] is IntakeOutcome.STALE
    assert repo.all() == before


def test_a_newer_delivery_updates_fields_and_status(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    unpaid = body(order_paid, financial_status="pending", updated_at="2026-11-20T09:14:10+00:00")
    deliver(repo, Topic.ORDERS_CREATE, unpaid)
    outcome, order = deliver(repo, Topic.ORDERS_PAID, order_paid)
    assert outcome is IntakeOutcome.UPDATED and order is not None and order.status is S.AWAITING_ORDER
    assert [(h.from_status, h.to_status, h.cause) for h in order.history] == [
        (None, S.PENDING, "order_created_unpaid"), (S.PENDING, S.AWAITING_ORDER, "customer_paid")]
    assert order.body_hash == body_hash(json.dumps(order_paid).encode())


def test_a_webhook_never_moves_an_advanced_order_back(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)
    repo.mutate(SHOP, ORDER_ID, lambda o: transition(o, S.AWAITING_PAYMENT, Event.ORDER_PLACED) if o else None)
    newer = body(order_paid, updated_at=later(order_paid, 30))
    newer["shipping_address"]["address2"] = "Apt 4"
    outcome, order = deliver(repo, Topic.ORDERS_UPDATED, newer)
    assert outcome is IntakeOutcome.UPDATED and order is not None
    assert order.status is S.AWAITING_PAYMENT and order.shipping_address is not None
    assert order.shipping_address.address2 == "Apt 4" and order.history[-1].cause == "order_placed"


def test_a_final_status_stays(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_CANCELLED, body(order_paid, cancelled_at="2026-11-20T09:15:00Z"))
    outcome, order = deliver(repo, Topic.ORDERS_PAID, body(order_paid, updated_at=later(order_paid, 5)))
    assert outcome is IntakeOutcome.UPDATED and order is not None and order.status is S.CANCELED


def test_cancel_after_placement_tells_the_seller_to_cancel_on_aliexpress(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)

    def placed(order: Order | None) -> Order | None:
        assert order is not None
        moved = transition(order, S.AWAITING_PAYMENT, Event.ORDER_PLACED)
        moved.ae_orders = [AeOrder(ae_order_id="8198352049851315")]
        return moved

    repo.mutate(SHOP, ORDER_ID, placed)
    cancelled = body(order_paid, updated_at=later(order_paid, 60), cancelled_at="2026-11-21T00:00:00Z",
                     financial_status="refunded")
    _, order = deliver(repo, Topic.ORDERS_CANCELLED, cancelled)
    assert order is not None and order.status is S.CANCELED
    assert (order.reason, order.reason_code) == (CANCEL_AFTER_PLACEMENT, "cancel_on_aliexpress")
    assert order.history[-1].cause == "store_cancelled"


def test_cancel_before_placement_gives_no_aliexpress_reason(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)
    _, order = deliver(repo, Topic.ORDERS_CANCELLED, body(order_paid, updated_at=later(order_paid, 5)))
    assert order is not None and order.status is S.CANCELED and order.reason_code is None


def test_fulfilled_by_hand_marks_the_order_and_our_own_packages_do_not(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)

    def shipped(order: Order | None) -> Order | None:
        assert order is not None
        moved = transition(transition(order, S.AWAITING_PAYMENT, Event.ORDER_PLACED), S.AWAITING_SHIPMENT,
                           Event.SELLER_PAID)
        moved.packages = [Package(tracking_number="LP1")]
        return moved

    repo.mutate(SHOP, ORDER_ID, shipped)
    ours = body(order_paid, updated_at=later(order_paid, 5), fulfillment_status="fulfilled",
                fulfillments=[{"id": 1, "tracking_number": "LP1"}])
    _, order = deliver(repo, Topic.ORDERS_FULFILLED, ours)
    assert order is not None and order.status is S.AWAITING_SHIPMENT and not order.fulfilled_in_store
    by_hand = body(ours, updated_at=later(order_paid, 10), fulfillments=[{"id": 2, "tracking_number": "SELLER9"}])
    _, order = deliver(repo, Topic.ORDERS_FULFILLED, by_hand)
    assert order is not None and order.status is S.FULFILLED and order.fulfilled_in_store
    assert order.history[-1].cause == "store_fulfilled"


def test_a_refund_flags_a_known_order_once_and_ignores_an_unknown_one(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    refund = ShopBaseRefund.model_validate({"id": 7, "order_id": int(ORDER_ID)})
    assert apply_refund_webhook(repo, SHOP, refund).outcome is IntakeOutcome.IGNORED
    deliver(repo, Topic.ORDERS_PAID, order_paid)
    result = apply_refund_webhook(repo, SHOP, refund)
    assert result.outcome is IntakeOutcome.UPDATED and result.order is not None
    assert result.order.attention == "Refund issued in the store." and result.order.status is S.AWAITING_ORDER
    writes = repo.calls["write"]
    assert apply_refund_webhook(repo, SHOP, refund).outcome is IntakeOutcome.DUPLICATE
    assert repo.calls["write"] == writes


def test_a_refund_on_a_canceled_order_changes_nothing(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_UPDATED, body(order_paid, financial_status="refunded"))
    refund = ShopBaseRefund.model_validate({"id": 7, "order_id": ORDER_ID})
    assert apply_refund_webhook(repo, SHOP, refund).outcome is IntakeOutcome.DUPLICATE
    assert repo.all()[0].attention is None


def test_orders_of_two_shops_never_mix(order_paid: dict[str, Any]) -> None:
    repo = InMemoryOrders()
    deliver(repo, Topic.ORDERS_PAID, order_paid)
    raw = json.dumps(order_paid).encode()
    other = apply_order_webhook(repo, "other-store", Topic.ORDERS_PAID, ShopBaseOrder.model_validate(order_paid),
                                body_hash(raw))
    assert other.outcome is IntakeOutcome.CREATED  # not a duplicate of demo-store's order
    assert sorted(o.shop for o in repo.all()) == ["demo-store", "other-store"]
