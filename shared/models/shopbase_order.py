"""The ShopBase order as it arrives in a webhook: parsed leniently, stored strictly.

Quirks handled (../shared/reference/shopbase-api.md §3): `fulfillment_status` "" or null, timestamps
given as 0, prices as numbers or strings, ids as numbers or strings, unknown extra fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _id(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("must be a non-empty id")


def _optional_id(value: Any) -> Any:
    return None if value in (None, "", 0) else _id(value)


def _timestamp(value: Any) -> Any:
    # ShopBase sends 0 (or "") for "never".
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    raise ValueError("must be an ISO 8601 timestamp")


def _money(value: Any) -> Any:
    if value in (None, ""):
        return "0"
    if isinstance(value, bool):
        raise ValueError("must be a price")
    try:
        return str(Decimal(str(value)))
    except InvalidOperation as error:
        raise ValueError("must be a price") from error


def _blank_to_none(value: Any) -> Any:
    return None if value in ("", 0) else value


Id = Annotated[str, BeforeValidator(_id)]
OptionalId = Annotated[str | None, BeforeValidator(_optional_id)]
Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
Money = Annotated[str, BeforeValidator(_money)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class ShopBaseLineItem(_Lenient):
    id: Id
    variant_id: OptionalId = None
    product_id: OptionalId = None
    sku: OptionalText = None
    title: str = ""
    variant_title: OptionalText = None
    quantity: int = Field(ge=0)
    price: Money = "0"
    fulfillable_quantity: int | None = None
    fulfillment_status: OptionalText = None


class ShopBaseAddress(_Lenient):
    first_name: OptionalText = None
    last_name: OptionalText = None
    name: OptionalText = None
    address1: OptionalText = None
    address2: OptionalText = None
    city: OptionalText = None
    province: OptionalText = None
    province_code: OptionalText = None
    country: OptionalText = None
    country_code: OptionalText = None
    zip: OptionalText = None
    phone: OptionalText = None
    company: OptionalText = None


class ShopBaseCustomer(_Lenient):
    id: OptionalId = None
    email: OptionalText = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    phone: OptionalText = None


class ShopBaseFulfillment(_Lenient):
    id: OptionalId = None
    tracking_number: OptionalText = None
    tracking_numbers: list[str] = Field(default_factory=list)


class NoteAttribute(_Lenient):
    name: str = ""
    value: OptionalText = None


class ShopBaseOrder(_Lenient):
    id: Id
    name: str = ""
    email: OptionalText = None
    phone: OptionalText = None
    currency: OptionalText = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    cancelled_at: Timestamp = None
    cancel_reason: OptionalText = None
    financial_status: OptionalText = None
    fulfillment_status: OptionalText = None
    total_price: Money = "0"
    customer: ShopBaseCustomer | None = None
    shipping_address: ShopBaseAddress | None = None
    line_items: list[ShopBaseLineItem]
    fulfillments: list[ShopBaseFulfillment] = Field(default_factory=list)
    note_attributes: list[NoteAttribute] = Field(default_factory=list)

    def tracking_numbers(self) -> set[str]:
        numbers: set[str] = set()
        for fulfillment in self.fulfillments:
            if fulfillment.tracking_number:
                numbers.add(fulfillment.tracking_number)
            numbers.update(n for n in fulfillment.tracking_numbers if n)
        return numbers

    def tax_id(self) -> str | None:
        # Checkout apps store CPF / RUT / tax numbers as note attributes; names vary.
        for attribute in self.note_attributes:
            if attribute.name.lower().replace(" ", "_") in {"cpf", "tax_id", "tax_number", "rut", "rut_no",
                                                             "vat", "vat_no", "passport_no"}:
                return attribute.value
        return None


class ShopBaseRefund(_Lenient):
    """refunds/create delivers a refund, not an order."""

    id: OptionalId = None
    order_id: Id
    created_at: Timestamp = None
