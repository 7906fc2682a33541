"""The order lifecycle: every allowed status change and the event that causes it, in one table.

Anything not in TRANSITIONS is refused with IllegalTransition, never applied silently.
docs/order-lifecycle.md shows the same table; tests walk every pair of statuses.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from shared.models.order import MAX_HISTORY, Order, OrderStatus, StatusChange, utcnow

S = OrderStatus


class Event(StrEnum):
    ORDER_CREATED_UNPAID = "order_created_unpaid"  # webhook: order exists, customer has not paid
    CUSTOMER_PAID = "customer_paid"  # webhook: financial_status paid
    STORE_CANCELLED = "store_cancelled"  # webhook: cancelled, refunded or voided in the store
    STORE_FULFILLED = "store_fulfilled"  # webhook: the seller fulfilled by hand in the ShopBase admin
    ORDER_PLACED = "order_placed"  # AliExpress accepted ds.order.create
    PLACEMENT_FAILED = "placement_failed"  # AliExpress refused, or a line item is not linked
    SELLER_PAID = "seller_paid"  # sync: the seller paid on AliExpress
    ALIEXPRESS_CANCELLED = "aliexpress_cancelled"  # sync: IN_CANCEL, or FINISH with an end reason
    ALL_PUSHED = "all_pushed"  # push_tracking: every line item has a fulfillment on ShopBase
    PUSH_FAILED = "push_failed"  # push_tracking: ShopBase refused for good (deleted order, bad carrier)
    SELLER_RETRY = "seller_retry"  # the seller fixed the cause and retries a failed order


# (from, to) -> the events allowed to cause it. `None` as from means "a new order".
TRANSITIONS: dict[tuple[OrderStatus | None, OrderStatus], frozenset[Event]] = {
    (None, S.PENDING): frozenset({Event.ORDER_CREATED_UNPAID}),
    (None, S.AWAITING_ORDER): frozenset({Event.CUSTOMER_PAID}),
    (None, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
    (None, S.FULFILLED): frozenset({Event.STORE_FULFILLED}),
    (S.PENDING, S.AWAITING_ORDER): frozenset({Event.CUSTOMER_PAID}),
    (S.PENDING, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
    (S.PENDING, S.FULFILLED): frozenset({Event.STORE_FULFILLED}),
    (S.AWAITING_ORDER, S.AWAITING_PAYMENT): frozenset({Event.ORDER_PLACED}),
    (S.AWAITING_ORDER, S.FAILED): frozenset({Event.PLACEMENT_FAILED, Event.PUSH_FAILED}),
    (S.AWAITING_ORDER, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
    (S.AWAITING_ORDER, S.FULFILLED): frozenset({Event.STORE_FULFILLED, Event.ALL_PUSHED}),
    (S.AWAITING_PAYMENT, S.AWAITING_SHIPMENT): frozenset({Event.SELLER_PAID}),
    (S.AWAITING_PAYMENT, S.FAILED): frozenset({Event.ALIEXPRESS_CANCELLED, Event.PUSH_FAILED}),
    (S.AWAITING_PAYMENT, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
    (S.AWAITING_PAYMENT, S.FULFILLED): frozenset({Event.STORE_FULFILLED, Event.ALL_PUSHED}),
    (S.AWAITING_SHIPMENT, S.FULFILLED): frozenset({Event.ALL_PUSHED, Event.STORE_FULFILLED}),
    (S.AWAITING_SHIPMENT, S.FAILED): frozenset({Event.ALIEXPRESS_CANCELLED, Event.PUSH_FAILED}),
    (S.AWAITING_SHIPMENT, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
    (S.FAILED, S.AWAITING_ORDER): frozenset({Event.SELLER_RETRY}),
    (S.FAILED, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
    (S.FAILED, S.FULFILLED): frozenset({Event.STORE_FULFILLED, Event.ALL_PUSHED}),
    # A refund after delivery moves the order to the Canceled tab ("cancellation or refunded orders").
    (S.FULFILLED, S.CANCELED): frozenset({Event.STORE_CANCELLED}),
}

# Statuses whose orders have AliExpress news to fetch at each sync.
SYNC_STATUSES: frozenset[OrderStatus] = frozenset({S.AWAITING_PAYMENT, S.AWAITING_SHIPMENT})


class IllegalTransition(ValueError):
    def __init__(self, from_status: OrderStatus | None, to_status: OrderStatus, event: Event) -> None:
        super().__init__(f"illegal transition {from_status} -> {to_status} on {event}")
        self.from_status = from_status
        self.to_status = to_status
        self.event = event


def is_allowed(from_status: OrderStatus | None, to_status: OrderStatus, event: Event) -> bool:
    return event in TRANSITIONS.get((from_status, to_status), frozenset())


def _record(order: Order, from_status: OrderStatus | None, to_status: OrderStatus, event: Event,
            at: datetime | None) -> None:
    order.history.append(StatusChange(at=at or utcnow(), from_status=from_status, to_status=to_status,
                                      cause=str(event)))
    # Bounded: the first entry (how the order arrived) is kept, then the most recent ones.
    if len(order.history) > MAX_HISTORY:
        order.history = [order.history[0], *order.history[-(MAX_HISTORY - 1):]]


def begin(order: Order, event: Event, at: datetime | None = None) -> Order:
    """Return a copy of a new `order` with how it arrived (nothing → its status) recorded. Refuses a start
    the table does not allow (a new order is never already placed on AliExpress)."""
    if not is_allowed(None, order.status, event):
        raise IllegalTransition(None, order.status, event)
    started = order.model_copy(deep=True)
    _record(started, None, order.status, event, at)
    return started


def transition(order: Order, to_status: OrderStatus, event: Event, at: datetime | None = None) -> Order:
    """Return a copy of `order` moved to `to_status`, with the change recorded. Refuses illegal moves."""
    if not is_allowed(order.status, to_status, event):
        raise IllegalTransition(order.status, to_status, event)
    moved = order.model_copy(deep=True)
    moved.status = to_status
    _record(moved, order.status, to_status, event, at)
    return moved
