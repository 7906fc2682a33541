"""Pydantic models of ShopBase objects: parse leniently, store strictly.

ShopBase quirks handled (confirmed in its own sample): `""` where Shopify sends null (statuses),
timestamps sent as the integer 0, prices as numbers or strings, extra ShopBase-only fields (kept in
`model_extra`). Output types are strict: `Decimal` money, aware `datetime` or None, lower-case status
or None. reprs hide customer data and extra fields so a model can be logged safely.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _to_str(value: Any) -> str | None:
    # Phones and zips sometimes come as numbers; anything else non-string is unusable here.
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


def _to_status(value: Any) -> str | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower()
    return None


def _to_timestamp(value: Any) -> datetime | None:
    # 0, "", "0" and null mean "not set"; numbers > 0 are epoch seconds (or milliseconds).
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "0":
            return None
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return _to_timestamp(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            return None
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _to_money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr() of a float is the shortest string that round-trips: 13.0 -> "13.0", not 12.99999...
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            money = Decimal(value.strip())
        except InvalidOperation:
            return None
        return money if money.is_finite() else None
    return None


def _to_int_or_none(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _to_bool(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def _none_to_list(value: Any) -> Any:
    return [] if value is None or value == "" else value


def _empty_to_none(value: Any) -> Any:
    # PHP-style backends send [] or "" for an empty object.
    if value is None or value == "" or value == [] or value == {}:
        return None
    return value


LStr = Annotated[str | None, BeforeValidator(_to_str)]
Status = Annotated[str | None, BeforeValidator(_to_status)]
Timestamp = Annotated[datetime | None, BeforeValidator(_to_timestamp)]
Money = Annotated[Decimal | None, BeforeValidator(_to_money)]
OptInt = Annotated[int | None, BeforeValidator(_to_int_or_none)]
OptBool = Annotated[bool | None, BeforeValidator(_to_bool)]


class ShopBaseModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only declared fields marked repr=True: extras may carry customer data.
        for name, info in type(self).model_fields.items():
            if info.repr:
                yield name, getattr(self, name)


class Customer(ShopBaseModel):
    id: OptInt = None
    email: LStr = Field(default=None, repr=False)
    first_name: LStr = Field(default=None, repr=False)
    last_name: LStr = Field(default=None, repr=False)


class Address(ShopBaseModel):
    first_name: LStr = Field(default=None, repr=False)
    last_name: LStr = Field(default=None, repr=False)
    name: LStr = Field(default=None, repr=False)
    address1: LStr = Field(default=None, repr=False)
    address2: LStr = Field(default=None, repr=False)
    city: LStr = Field(default=None, repr=False)
    province: LStr = None
    province_code: LStr = None
    country: LStr = None
    country_code: LStr = None
    zip: LStr = Field(default=None, repr=False)
    phone: LStr = Field(default=None, repr=False)
    company: LStr = Field(default=None, repr=False)


class LineItem(ShopBaseModel):
    id: int
    variant_id: OptInt = None
    product_id: OptInt = None
    sku: LStr = None
    title: LStr = None
    variant_title: LStr = None
    quantity: int = 0
    price: Money = None
    fulfillable_quantity: OptInt = None
    fulfillment_status: Status = None
    requires_shipping: OptBool = None


class Fulfillment(ShopBaseModel):
    id: int
    order_id: OptInt = None
    status: Status = None
    name: LStr = None
    service: LStr = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    tracking_company: LStr = None
    tracking_number: LStr = None
    tracking_numbers: Annotated[list[str], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    tracking_url: LStr = None
    tracking_urls: Annotated[list[str], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    shipment_status: Status = None
    notify_customer: OptBool = None
    line_items: Annotated[list[LineItem], BeforeValidator(_none_to_list)] = Field(default_factory=list)

    @property
    def is_active(self) -> bool:
        """False for fulfillments that were cancelled or failed (Shopify status values)."""
        return self.status not in ("cancelled", "error", "failure")

    @property
    def all_tracking_numbers(self) -> list[str]:
        numbers = list(self.tracking_numbers)
        if self.tracking_number and self.tracking_number not in numbers:
            numbers.insert(0, self.tracking_number)
        return numbers


class Refund(ShopBaseModel):
    id: int
    order_id: OptInt = None
    created_at: Timestamp = None
    note: LStr = Field(default=None, repr=False)
    refund_line_items: Annotated[list[dict[str, Any]], BeforeValidator(_none_to_list)] = Field(
        default_factory=list, repr=False
    )


class Order(ShopBaseModel):
    id: int
    name: LStr = None
    email: LStr = Field(default=None, repr=False)
    phone: LStr = Field(default=None, repr=False)
    created_at: Timestamp = None
    updated_at: Timestamp = None
    processed_at: Timestamp = None
    closed_at: Timestamp = None
    cancelled_at: Timestamp = None
    cancel_reason: Status = None
    financial_status: Status = None
    fulfillment_status: Status = None
    currency: LStr = None
    total_price: Money = None
    subtotal_price: Money = None
    customer: Annotated[Customer | None, BeforeValidator(_empty_to_none)] = Field(default=None, repr=False)
    shipping_address: Annotated[Address | None, BeforeValidator(_empty_to_none)] = Field(default=None, repr=False)
    billing_address: Annotated[Address | None, BeforeValidator(_empty_to_none)] = Field(default=None, repr=False)
    line_items: Annotated[list[LineItem], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    fulfillments: Annotated[list[Fulfillment], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    refunds: Annotated[list[Refund], BeforeValidator(_none_to_list)] = Field(default_factory=list)

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def line_item(self, line_item_id: int) -> LineItem | None:
        return next((li for li in self.line_items if li.id == line_item_id), None)


class Webhook(ShopBaseModel):
    id: int
    topic: LStr = None
    address: LStr = None
    format: LStr = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


def parse_order(data: Mapping[str, Any]) -> Order:
    return Order.model_validate(data)
