"""When an order needs the seller's eyes without changing its tab ("needs attention"), as one rule the order table's
AttentionIndex is built from (shared.data.orders.encode_order) and the page explains (shared.logic.attention).

An order needs attention from `attention_due(order)` on:
- a flag is up now (`Order.attention`: stalled tracking, a dispute, reconnect AliExpress, items not shipped...),
  the store refunded it, or it is partly fulfilled: from its creation (so the list reads newest first);
- it waits for payment on AliExpress: from day UNPAID_ATTENTION_DAYS of AliExpress's 20-day payment window
  (AliExpress cancels unpaid orders after 20 days), a time in the future until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.models.order import Order, OrderStatus

AE_PAYMENT_WINDOW_DAYS = 20
UNPAID_ATTENTION_DAYS = 15
REFUNDED_STATUSES = frozenset({"refunded", "partially_refunded"})
REFUND_NOTE = "Refund issued in the store."


def refunded_in_store(order: Order) -> bool:
    if order.status is OrderStatus.CANCELED:
        return False
    return (order.financial_status or "").lower() in REFUNDED_STATUSES or order.attention == REFUND_NOTE


def partially_fulfilled(order: Order) -> bool:
    """Some packages are on the store, not every item: the customer has part of the order."""
    if order.status in (OrderStatus.FULFILLED, OrderStatus.CANCELED):
        return False
    return any(p.pushed_at is not None for p in order.packages) and not order.all_items_pushed()


def payment_wait_started(order: Order) -> datetime | None:
    """When the order entered Awaiting Payment (placed on AliExpress, not paid yet); None in any other tab."""
    if order.status is not OrderStatus.AWAITING_PAYMENT:
        return None
    entered = [change.at for change in order.history if change.to_status is OrderStatus.AWAITING_PAYMENT]
    if entered:
        return entered[-1]
    return order.placement.claimed_at if order.placement else order.created_at


def unpaid_deadline(order: Order) -> datetime | None:
    """When AliExpress cancels the order if it is still unpaid."""
    started = payment_wait_started(order)
    return started + timedelta(days=AE_PAYMENT_WINDOW_DAYS) if started else None


def flagged(order: Order) -> bool:
    return bool(order.attention) or refunded_in_store(order) or partially_fulfilled(order)


def attention_due(order: Order) -> datetime | None:
    """From when the order needs attention (maybe in the future: an unpaid order's day 15); None: never now."""
    if flagged(order):
        return order.created_at
    started = payment_wait_started(order)
    return started + timedelta(days=UNPAID_ATTENTION_DAYS) if started else None
