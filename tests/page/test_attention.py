"""What "needs attention" means and what the page says about it: shared.models.attention (the index's rule) and
shared.logic.attention (the row's plain words and the action beside them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.data.orders import encode_order
from shared.lifecycle import Event, transition
from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.attention import issues_of
from shared.logic.placement import UNLINKED
from shared.logic.sync_status_map import stalled_attention
from shared.models.attention import attention_due
from shared.models.order import AeOrder, LineItem, Order, OrderStatus, Package, Placement

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def order(status: OrderStatus = OrderStatus.AWAITING_ORDER, **fields: object) -> Order:
    base = Order(shop="s", order_id="42", name="#42", status=OrderStatus.AWAITING_ORDER, created_at=CREATED,
                 line_items=[LineItem(id="1", variant_id="v1", quantity=1), LineItem(id="2", variant_id="v2",
                                                                                     quantity=1)])
    if status is OrderStatus.AWAITING_PAYMENT:
        return unpaid_since(base, NOW - timedelta(days=1))
    return base.model_copy(update={"status": status, **fields})


def unpaid_since(base: Order, at: datetime) -> Order:
    moved = transition(base, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED, at)
    moved.placement = Placement(out_order_id="s-42", claimed_at=at)
    moved.ae_orders = [AeOrder(ae_order_id="8150001")]
    return moved


def kinds(o: Order) -> list[tuple[str, str]]:
    return [(i.kind, i.action) for i in issues_of(o, NOW)]


def test_an_order_with_nothing_wrong_needs_nothing() -> None:
    o = order()
    assert kinds(o) == [] and attention_due(o) is None and "attn_pk" not in encode_order(o, 16)


def test_a_failed_order_says_why_with_its_fix() -> None:
    unlinked = order(OrderStatus.FAILED, reason="Link variant v2 to an AliExpress product, then retry.",
                     reason_code=UNLINKED)
    assert kinds(unlinked) == [("failed", "link")] and issues_of(unlinked, NOW)[0].variant_ids == ["v2"]
    address = order(OrderStatus.FAILED, reason="AliExpress refused the shipping address", reason_code="B_X")
    assert kinds(address) == [("failed", "retry")]
    auth = order(OrderStatus.FAILED, reason="Reconnect", reason_code="isv.invalid-authorization")
    assert kinds(auth) == [("failed", "reconnect")]


def test_flags_stalled_tracking_reconnect_refund_and_partial_fulfillment() -> None:
    stalled = order(OrderStatus.AWAITING_SHIPMENT,
                    attention=stalled_attention("8150001", NOW - timedelta(days=9), has_number=False))
    assert kinds(stalled) == [("stalled", "fulfill")] and attention_due(stalled) == CREATED
    assert kinds(order(attention=RECONNECT_ATTENTION)) == [("reconnect", "reconnect")]
    refunded = order(OrderStatus.AWAITING_SHIPMENT, financial_status="partially_refunded",
                     ae_orders=[AeOrder(ae_order_id="8150001")])
    assert kinds(refunded) == [("refund", "cancel_on_aliexpress")]
    partial = order(OrderStatus.AWAITING_SHIPMENT, packages=[
        Package(tracking_number="LX1", pushed_at=NOW, line_items=[{"line_item_id": "1", "quantity": 1}])])
    assert kinds(partial) == [("partial", "fulfill")]
    assert encode_order(partial, 16)["attn_sk"].startswith("2026-11-01T00:00:00Z#42")
    # A refunded order that is cancelled is done: nothing to do.
    assert kinds(order(OrderStatus.CANCELED, financial_status="refunded")) == []


def test_an_unpaid_order_needs_attention_from_day_15_of_the_20() -> None:
    base = order()
    day_10 = unpaid_since(base, NOW - timedelta(days=10))
    assert kinds(day_10) == [] and attention_due(day_10) == NOW + timedelta(days=5)  # in the index, not due yet
    day_16 = unpaid_since(base, NOW - timedelta(days=16))
    assert kinds(day_16) == [("unpaid", "pay")]
    assert "cancels it in 4 days" in issues_of(day_16, NOW)[0].text
