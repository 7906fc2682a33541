"""The stored order: what the pipeline needs from the ShopBase order, plus our own state.

Money stays a decimal string; ids are strings (AliExpress order ids exceed 2^53). The order id is part of the
table's keys: at most MAX_ORDER_ID_CHARS characters (intake accepts only ShopBase ids, digits). Quantities
stay within DynamoDB's 38-digit numbers (the intake model, shared.models.shopbase_order, bounds the rest).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MAX_HISTORY = 50
MAX_ORDER_ID_CHARS = 64
MAX_QUANTITY = 1_000_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrderStatus(StrEnum):
    """The seller's Manage Orders tabs ("All" is every order)."""

    PENDING = "pending"
    AWAITING_ORDER = "awaiting_order"
    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_SHIPMENT = "awaiting_shipment"
    FULFILLED = "fulfilled"
    CANCELED = "canceled"
    FAILED = "failed"


class _Model(BaseModel):
    # defer_build: each model's validator is built at its first use, not at import (cold start).
    model_config = ConfigDict(extra="ignore", defer_build=True)


class LineItem(_Model):
    id: str
    variant_id: str | None = None
    product_id: str | None = None
    sku: str | None = None
    title: str = ""
    variant_title: str | None = None
    quantity: int = Field(ge=0, le=MAX_QUANTITY)
    price: str = "0"


class Address(_Model):
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    province: str | None = None
    province_code: str | None = None
    country: str | None = None
    country_code: str | None = None
    zip: str | None = None
    phone: str | None = None
    company: str | None = None
    # Country-specific tax id (CPF in Brazil, RUT in Chile, ...) when the store order carries one.
    tax_id: str | None = None


class Customer(_Model):
    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class StatusChange(_Model):
    at: datetime
    from_status: OrderStatus | None
    to_status: OrderStatus
    cause: str


class PackageLine(_Model):
    line_item_id: str
    quantity: int = Field(ge=1)


class Package(_Model):
    """One shipped parcel with one tracking number: becomes one ShopBase fulfillment."""

    tracking_number: str
    carrier: str = ""
    tracking_url: str | None = None
    line_items: list[PackageLine] = Field(default_factory=list)
    ae_order_id: str | None = None  # None for a seller's manual fulfillment
    source: str = "aliexpress"  # "aliexpress" | "manual"
    found_at: datetime = Field(default_factory=utcnow)
    last_event_at: datetime | None = None
    pushed_at: datetime | None = None
    fulfillment_id: str | None = None
    push_error: str | None = None
    notified_at: datetime | None = None
    notify_error: str | None = None

    @property
    def needs_push(self) -> bool:
        return self.pushed_at is None and self.push_error is None

    @property
    def needs_notify(self) -> bool:
        return self.pushed_at is not None and self.notified_at is None and self.notify_error is None


class AeOrder(_Model):
    """One AliExpress order of the store order (one per supplier)."""

    ae_order_id: str
    order_status: str = "PLACE_ORDER_SUCCESS"  # raw AliExpress value
    logistics_status: str | None = None
    line_item_ids: list[str] = Field(default_factory=list)
    end_reason: str | None = None
    shipped_at: datetime | None = None  # when we first saw it shipped (for stalled tracking)
    checked_at: datetime | None = None


class Placement(_Model):
    """The claim taken before calling aliexpress.ds.order.create (never place twice)."""

    out_order_id: str
    claimed_at: datetime
    attempt: int = 1
    request_id: str | None = None


class Order(_Model):
    shop: str
    order_id: str = Field(min_length=1, max_length=MAX_ORDER_ID_CHARS)
    name: str = ""
    status: OrderStatus
    financial_status: str | None = None
    fulfillment_status: str | None = None  # the store's own, "" and null normalised to None
    cancelled_at: datetime | None = None
    created_at: datetime
    store_updated_at: datetime | None = None
    body_hash: str | None = None  # of the newest webhook body applied, to recognise duplicates
    currency: str | None = None
    total_price: str | None = None
    customer: Customer = Field(default_factory=Customer)
    shipping_address: Address | None = None
    line_items: list[LineItem] = Field(default_factory=list)
    history: list[StatusChange] = Field(default_factory=list)
    # A sentence for the seller: why the order failed, or what they must do.
    reason: str | None = None
    reason_code: str | None = None
    # Set when something needs the seller's eyes without changing the tab (dispute, unknown status, stalled).
    attention: str | None = None
    ae_orders: list[AeOrder] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)
    placement: Placement | None = None
    fulfilled_in_store: bool = False  # fulfilled by hand in the ShopBase admin: our pipeline stops acting
    last_synced_at: datetime | None = None
    version: int = 0

    @property
    def aliexpress_placed(self) -> bool:
        return bool(self.ae_orders)

    def package(self, tracking_number: str) -> Package | None:
        return next((p for p in self.packages if p.tracking_number == tracking_number), None)

    def fulfilled_quantities(self) -> dict[str, int]:
        """Quantity per line item covered by packages pushed to the store."""
        done: dict[str, int] = {}
        for package in self.packages:
            if package.pushed_at is None:
                continue
            if not package.line_items:  # pushed as "the whole order": ShopBase fulfilled everything left
                return {item.id: item.quantity for item in self.line_items}
            for line in package.line_items:
                done[line.line_item_id] = done.get(line.line_item_id, 0) + line.quantity
        return done

    def all_items_pushed(self) -> bool:
        done = self.fulfilled_quantities()
        return all(done.get(item.id, 0) >= item.quantity for item in self.line_items if item.quantity > 0)
