"""Order intake: apply one ShopBase webhook delivery to the stored order, idempotently.

Deliveries come at least once and out of order. The newest `updated_at` wins; a duplicate or older
delivery changes nothing; a webhook never moves an order back from a status our pipeline advanced.
A new order costs one conditional write and no read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from shared.data.orders import Mutation
from shared.lifecycle import Event, begin, is_allowed, transition
from shared.models.order import Address, Customer, LineItem, Order, OrderStatus, utcnow
from shared.models.shopbase_order import ShopBaseOrder, ShopBaseRefund

CANCEL_AFTER_PLACEMENT = (
    "Cancelled in the store after it was ordered on AliExpress: AliExpress orders cannot be cancelled "
    "through the API, so cancel it on the AliExpress website."
)
PAID_STATUSES = frozenset({"paid", "partially_refunded"})
CANCELLED_STATUSES = frozenset({"refunded", "voided"})


class Topic(StrEnum):
    ORDERS_CREATE = "orders/create"
    ORDERS_UPDATED = "orders/updated"
    ORDERS_PAID = "orders/paid"
    ORDERS_CANCELLED = "orders/cancelled"
    ORDERS_FULFILLED = "orders/fulfilled"
    REFUNDS_CREATE = "refunds/create"


class OrderWriter(Protocol):
    """What intake needs of shared.data.orders.OrderRepository."""

    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None], *,
               assume_absent: bool = False) -> Mutation: ...


class IntakeOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"  # e.g. a refund for an order we never received


@dataclass(frozen=True)
class IntakeResult:
    outcome: IntakeOutcome
    order: Order | None


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def store_target(incoming: ShopBaseOrder, topic: Topic, our_tracking: set[str]) -> tuple[OrderStatus, Event]:
    """The status the store's view of the order asks for, and the event that causes it."""
    if (incoming.cancelled_at or topic is Topic.ORDERS_CANCELLED
            or (incoming.financial_status or "").lower() in CANCELLED_STATUSES):
        return OrderStatus.CANCELED, Event.STORE_CANCELLED
    store_tracking = incoming.tracking_numbers()
    if (incoming.fulfillment_status or "").lower() == "fulfilled" and not store_tracking <= our_tracking:
        # Fulfilled with tracking numbers we did not push: the seller did it by hand in the admin.
        return OrderStatus.FULFILLED, Event.STORE_FULFILLED
    if (incoming.financial_status or "").lower() in PAID_STATUSES:
        return OrderStatus.AWAITING_ORDER, Event.CUSTOMER_PAID
    return OrderStatus.PENDING, Event.ORDER_CREATED_UNPAID


def _store_fields(order: Order, incoming: ShopBaseOrder, digest: str) -> None:
    customer = incoming.customer
    order.name = incoming.name or order.name
    order.financial_status = incoming.financial_status
    order.fulfillment_status = incoming.fulfillment_status
    order.cancelled_at = incoming.cancelled_at
    order.store_updated_at = incoming.updated_at
    order.body_hash = digest
    order.currency = incoming.currency
    order.total_price = incoming.total_price_text
    order.customer = Customer(
        id=customer.id if customer else None,
        first_name=customer.first_name if customer else None,
        last_name=customer.last_name if customer else None,
        email=incoming.email or (customer.email if customer else None),
        phone=incoming.phone or (customer.phone if customer else None),
    )
    if incoming.shipping_address:
        order.shipping_address = Address(**incoming.shipping_address.model_dump(), tax_id=incoming.tax_id())
    order.line_items = [
        LineItem(id=li.id, variant_id=li.variant_id, product_id=li.product_id, sku=li.sku,
                 title=li.title[:255], variant_title=(li.variant_title or "")[:255] or None,
                 quantity=li.quantity, price=li.price_text)
        for li in incoming.line_items
    ]


def apply_order_webhook(repo: OrderWriter, shop: str, topic: Topic, incoming: ShopBaseOrder,
                        digest: str) -> IntakeResult:
    outcome = IntakeOutcome.CREATED

    def change(current: Order | None) -> Order | None:
        nonlocal outcome
        now = utcnow()
        if current is None:
            target, event = store_target(incoming, topic, set())
            order = Order(shop=shop, order_id=incoming.id, status=target,
                          created_at=incoming.created_at or incoming.updated_at or now)
            _store_fields(order, incoming, digest)
            if target is OrderStatus.FULFILLED:
                order.fulfilled_in_store = True
            outcome = IntakeOutcome.CREATED
            return begin(order, event, now)
        if current.body_hash == digest:
            outcome = IntakeOutcome.DUPLICATE
            return None
        newer = (incoming.updated_at is not None
                 and (current.store_updated_at is None or incoming.updated_at > current.store_updated_at))
        if not newer:
            outcome = IntakeOutcome.STALE
            return None
        outcome = IntakeOutcome.UPDATED
        order = current
        _store_fields(order, incoming, digest)
        target, event = store_target(incoming, topic, {p.tracking_number for p in current.packages})
        if target is not order.status and is_allowed(order.status, target, event):
            order = transition(order, target, event, now)
            if event is Event.STORE_FULFILLED:
                order.fulfilled_in_store = True
            if event is Event.STORE_CANCELLED and order.aliexpress_placed:
                order.reason, order.reason_code = CANCEL_AFTER_PLACEMENT, "cancel_on_aliexpress"
        # Otherwise the pipeline already advanced the order (or it is final): the status stays.
        return order

    mutation: Mutation = repo.mutate(shop, incoming.id, change, assume_absent=True)
    return IntakeResult(outcome=outcome, order=mutation.order)


def apply_refund_webhook(repo: OrderWriter, shop: str, refund: ShopBaseRefund) -> IntakeResult:
    """A refund alone does not say whether the whole order is refunded: the orders/updated that follows
    carries financial_status. Here the order is only flagged so the seller sees it at once."""
    outcome = IntakeOutcome.UPDATED

    def change(current: Order | None) -> Order | None:
        nonlocal outcome
        if current is None:
            outcome = IntakeOutcome.IGNORED
            return None
        note = "Refund issued in the store."
        if current.attention == note or current.status is OrderStatus.CANCELED:
            outcome = IntakeOutcome.DUPLICATE
            return None
        current.attention = note
        return current

    mutation = repo.mutate(shop, refund.order_id, change)
    return IntakeResult(outcome=outcome, order=mutation.order)
