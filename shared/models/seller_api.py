"""What the seller API answers about orders: a list row (Manage Orders tabs) and the detail of one order.

A row carries what a list shows and nothing more: the customer's name and country, never their email,
phone or address. The detail (GET /shops/{shop}/orders/{id}) carries the rest.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared.models.order import (
    Address,
    AeOrder,
    Customer,
    LineItem,
    Order,
    OrderStatus,
    Package,
    Placement,
    StatusChange,
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _OrderHead(_Out):
    """Fields a row and the detail both carry."""

    order_id: str
    name: str
    status: OrderStatus
    created_at: datetime
    store_updated_at: datetime | None
    last_synced_at: datetime | None
    financial_status: str | None
    fulfillment_status: str | None
    currency: str | None
    total_price: str | None
    reason: str | None
    reason_code: str | None
    attention: str | None
    fulfilled_in_store: bool


class CustomerSummary(_Out):
    name: str | None
    country: str | None  # ISO code of the shipping country


class ItemRow(_Out):
    title: str
    variant_title: str | None
    quantity: int
    variant_id: str | None


class OrderRow(_OrderHead):
    tab: str  # the Manage Orders tab the order is in
    customer: CustomerSummary
    items: list[ItemRow]
    ae_order_ids: list[str]
    tracking_numbers: list[str]
    aliexpress_placed: bool

    @classmethod
    def of(cls, order: Order) -> OrderRow:
        address = order.shipping_address
        person = " ".join(p for p in (order.customer.first_name, order.customer.last_name) if p)
        name = person or (address.name if address else None) or None
        return cls.model_validate({
            **{field: getattr(order, field) for field in _OrderHead.model_fields},
            "tab": order.status.value,
            "customer": CustomerSummary(name=name, country=address.country_code if address else None),
            "items": [ItemRow(title=li.title, variant_title=li.variant_title, quantity=li.quantity,
                              variant_id=li.variant_id) for li in order.line_items],
            "ae_order_ids": [a.ae_order_id for a in order.ae_orders],
            "tracking_numbers": [p.tracking_number for p in order.packages],
            "aliexpress_placed": order.aliexpress_placed,
        })


class OrderDetail(_OrderHead):
    shop: str
    cancelled_at: datetime | None
    customer: Customer
    shipping_address: Address | None
    line_items: list[LineItem]
    history: list[StatusChange]
    ae_orders: list[AeOrder]
    packages: list[Package]
    placement: Placement | None

    @classmethod
    def of(cls, order: Order) -> OrderDetail:
        return cls.model_validate(order, from_attributes=True)
