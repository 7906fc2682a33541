"""The ShopBase order, one model for webhook bodies and Admin API answers: parsed leniently, held strictly.

Quirks handled (../shared/reference/shopbase-api.md §3 and ShopBase's own samples): `""` or 0 where
Shopify sends null (statuses, texts, ids), timestamps given as 0, "0" or epoch numbers, prices as numbers
or strings, ids as numbers or strings, an empty object sent as `[]` or `""`, unknown extra fields (kept in
`model_extra`, except on the address, which is copied into the stored order field by field).

What comes out is strict: ids are `str` (as in the stored order), money is `Decimal` or None (absent; an
unreadable amount is refused; never a float; `money_text` gives the stored string), timestamps are aware
UTC datetimes or None, statuses lower-case or None. Refused, so that the webhook answers 422 instead of guessing: an
order without id or without line_items (null is an empty list), a line item without id or with a
negative or non-numeric quantity, and
an unreadable created_at / updated_at / cancelled_at of an order or a refund (deliveries are ordered and
cancellations decided by them). Other unreadable timestamps only inform, and become None.
reprs show no customer data, so a model can be logged.

Bounded, so that whatever is accepted can be stored (one DynamoDB item, its key sizes and 38-digit numbers):
an order id is a ShopBase id (digits, 1 to 2^63-1, leading zeros dropped: it is part of the table's keys); other
ids at most 64 characters; texts at most 1,024 characters (codes 64, currency 16); quantities 0 to 1,000,000;
amounts below 10^15 with at most 30 digits; timestamps from 1970 to 2200; at most 2,500 line items. Out of
bounds is refused, naming the field. (pydantic refuses strings that are not valid Unicode, such as the lone
surrogate an escape like "\\udc80" makes.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.models.order import MAX_QUANTITY

TAX_ID_ATTRIBUTES = frozenset({"cpf", "tax_id", "tax_number", "rut", "rut_no", "vat", "vat_no", "passport_no"})

# Bounds (see the module docstring).
MAX_ORDER_ID = 2**63 - 1
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 1024
MAX_CODE_CHARS = 64
MAX_CURRENCY_CHARS = 16
MAX_AMOUNT = Decimal(10) ** 15
MAX_AMOUNT_DIGITS = 30
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_LINE_ITEMS = 2500
MAX_LISTED = 1000  # fulfillments, tracking numbers, note attributes, refunds: read, not stored
_DIGITS = re.compile(r"[0-9]+")


def _order_id(value: Any) -> str:
    # Part of the table's keys: one spelling per order ("0042" is order 42), nothing a key cannot hold.
    text = _id(value)
    if not _DIGITS.fullmatch(text) or not 0 < int(text) <= MAX_ORDER_ID:
        raise ValueError("must be a ShopBase order id (digits, 1 to 2^63-1)")
    return str(int(text))


def _id(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("must be an id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("must be a non-empty id")


def _optional_id(value: Any) -> str | None:
    if value is None or value == 0 or (isinstance(value, str) and not value.strip()):
        return None
    return _id(value)


def _text(value: Any) -> str | None:
    # "" and 0 mean "not set"; phones and zips sometimes come as numbers; other shapes are unusable here.
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float | Decimal):
        return None if value == 0 else str(value)
    return None


def _plain_text(value: Any) -> str:
    # A name or title: numbers become text, anything else unusable becomes "".
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def _status(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip().lower() or None
    return None


def _timestamp(value: Any, *, strict: bool) -> datetime | None:
    # 0, "", "0" and null mean "not set"; numbers > 0 are epoch seconds (or milliseconds).
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _in_range(value, strict=strict)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            return None
        try:
            moment = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        except (OverflowError, OSError, ValueError):
            moment = datetime.max.replace(tzinfo=UTC)  # past any date: refused or None below
        return _in_range(moment, strict=strict)
    if isinstance(value, str):
        text = value.strip()
        if not text or text == "0":
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            if len(text) <= 32 and text.lstrip("-").replace(".", "", 1).isdigit():
                return _timestamp(float(text), strict=strict)
        else:
            return _in_range(parsed, strict=strict)
    if strict:
        raise ValueError("must be an ISO 8601 timestamp")
    return None


def _in_range(moment: datetime, *, strict: bool) -> datetime | None:
    try:
        # Year 1 with a positive offset, or 9999 with a negative one, has no UTC date: OverflowError.
        utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is not None and EARLIEST <= utc < LATEST:
        return utc
    if strict:
        raise ValueError(f"must be a timestamp from {EARLIEST.year} to {LATEST.year}")
    return None


def _money(value: Any) -> Decimal | None:
    # Absent is None; an amount that is there but unreadable is refused (a seller must never see a
    # made-up 0.00 where the store sent something else).
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("must be an amount")
    if isinstance(value, Decimal | int):
        money = Decimal(value)
    elif isinstance(value, float):
        # repr() of a float is the shortest string that round-trips: 13.0 -> "13.0", not 12.99999...
        money = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            money = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("must be an amount") from None
    else:
        raise ValueError("must be an amount")
    if not money.is_finite():
        raise ValueError("must be a finite amount")
    if abs(money) >= MAX_AMOUNT or len(money.as_tuple().digits) > MAX_AMOUNT_DIGITS:
        raise ValueError(f"must be an amount below 10^15 with at most {MAX_AMOUNT_DIGITS} digits")
    return money


def _optional_int(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _optional_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


def _list(value: Any) -> Any:
    return [] if value is None or value == "" else value


def _anything_listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _object(value: Any) -> Any:
    # PHP-style backends send [] or "" for an empty object.
    return None if value is None or value == "" or value == [] else value


def money_text(value: Decimal | None) -> str:
    """The stored form of a price (the stored order keeps money as a decimal string): "0" when absent."""
    return "0" if value is None else str(value)


Id = Annotated[str, BeforeValidator(_id)]
OptionalId = Annotated[str | None, BeforeValidator(_optional_id)]
Text = Annotated[str, BeforeValidator(_plain_text)]
OptionalText = Annotated[str | None, BeforeValidator(_text)]
Status = Annotated[str | None, BeforeValidator(_status)]
Timestamp = Annotated[datetime | None, BeforeValidator(partial(_timestamp, strict=False))]
StrictTimestamp = Annotated[datetime | None, BeforeValidator(partial(_timestamp, strict=True))]
Money = Annotated[Decimal | None, BeforeValidator(_money)]
OptionalInt = Annotated[int | None, BeforeValidator(_optional_int)]
OptionalBool = Annotated[bool | None, BeforeValidator(_optional_bool)]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
# What the stored order keeps, bounded (the types above stay as they are for the other Admin API objects).
OrderId = Annotated[str, BeforeValidator(_order_id)]
# Strings of at most so many characters (on the string: an optional field's None passes).
IdChars = Annotated[str, Field(max_length=MAX_ID_CHARS)]
TextChars = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
CodeChars = Annotated[str, Field(max_length=MAX_CODE_CHARS)]
CurrencyChars = Annotated[str, Field(max_length=MAX_CURRENCY_CHARS)]
ItemId = Annotated[IdChars, BeforeValidator(_id)]
OptionalItemId = Annotated[IdChars | None, BeforeValidator(_optional_id)]
BoundedText = Annotated[TextChars, BeforeValidator(_plain_text)]
OptionalBoundedText = Annotated[TextChars | None, BeforeValidator(_text)]
Code = Annotated[CodeChars | None, BeforeValidator(_text)]
Currency = Annotated[CurrencyChars | None, BeforeValidator(_text)]
BoundedStatus = Annotated[CodeChars | None, BeforeValidator(_status)]


class ShopBaseModel(BaseModel):
    # defer_build: built at first use, not at import (cold start); subclasses' configs merge with this one.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, defer_build=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only declared fields marked repr=True: extras may carry customer data.
        for name, info in type(self).model_fields.items():
            if info.repr:
                yield name, getattr(self, name)


class ShopBaseCustomer(ShopBaseModel):
    id: OptionalItemId = None
    email: OptionalBoundedText = Field(default=None, repr=False)
    first_name: OptionalBoundedText = Field(default=None, repr=False)
    last_name: OptionalBoundedText = Field(default=None, repr=False)
    phone: OptionalBoundedText = Field(default=None, repr=False)


class ShopBaseAddress(ShopBaseModel):
    # Copied into the stored address with model_dump(): an unknown key (a checkout app's tax_id, say)
    # must not ride along.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    first_name: OptionalBoundedText = Field(default=None, repr=False)
    last_name: OptionalBoundedText = Field(default=None, repr=False)
    name: OptionalBoundedText = Field(default=None, repr=False)
    address1: OptionalBoundedText = Field(default=None, repr=False)
    address2: OptionalBoundedText = Field(default=None, repr=False)
    city: OptionalBoundedText = Field(default=None, repr=False)
    province: OptionalBoundedText = None
    province_code: Code = None
    country: OptionalBoundedText = None
    country_code: Code = None
    zip: OptionalBoundedText = Field(default=None, repr=False)
    phone: OptionalBoundedText = Field(default=None, repr=False)
    company: OptionalBoundedText = Field(default=None, repr=False)


class ShopBaseLineItem(ShopBaseModel):
    id: ItemId
    variant_id: OptionalItemId = None
    product_id: OptionalItemId = None
    sku: OptionalBoundedText = None
    title: BoundedText = ""  # stored cut to 255 characters
    variant_title: OptionalBoundedText = None
    quantity: Quantity = 0
    price: Money = None
    fulfillable_quantity: OptionalInt = None
    fulfillment_status: Status = None
    requires_shipping: OptionalBool = None

    @property
    def price_text(self) -> str:
        return money_text(self.price)


class ShopBaseFulfillment(ShopBaseModel):
    id: OptionalId = None
    order_id: OptionalId = None
    status: Status = None
    name: OptionalText = None
    service: OptionalText = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    tracking_company: OptionalText = None
    tracking_number: OptionalText = None
    tracking_numbers: Annotated[list[str], BeforeValidator(_list)] = Field(default_factory=list,
                                                                          max_length=MAX_LISTED)
    tracking_url: OptionalText = None
    tracking_urls: Annotated[list[str], BeforeValidator(_list)] = Field(default_factory=list, max_length=MAX_LISTED)
    shipment_status: Status = None
    notify_customer: OptionalBool = None
    line_items: Annotated[list[ShopBaseLineItem], BeforeValidator(_list)] = Field(default_factory=list,
                                                                                  max_length=MAX_LINE_ITEMS)

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


class NoteAttribute(ShopBaseModel):
    name: BoundedText = ""
    value: OptionalBoundedText = Field(default=None, repr=False)  # a tax id is stored with the address


class ShopBaseOrder(ShopBaseModel):
    id: OrderId
    name: BoundedText = ""
    email: OptionalBoundedText = Field(default=None, repr=False)
    phone: OptionalBoundedText = Field(default=None, repr=False)
    currency: Currency = None
    created_at: StrictTimestamp = None
    updated_at: StrictTimestamp = None
    processed_at: Timestamp = None
    closed_at: Timestamp = None
    cancelled_at: StrictTimestamp = None
    cancel_reason: Status = None
    financial_status: BoundedStatus = None
    fulfillment_status: BoundedStatus = None
    total_price: Money = None
    subtotal_price: Money = None
    customer: Annotated[ShopBaseCustomer | None, BeforeValidator(_object)] = Field(default=None, repr=False)
    shipping_address: Annotated[ShopBaseAddress | None, BeforeValidator(_object)] = Field(default=None, repr=False)
    billing_address: Annotated[ShopBaseAddress | None, BeforeValidator(_object)] = Field(default=None, repr=False)
    line_items: Annotated[list[ShopBaseLineItem], BeforeValidator(_list)] = Field(max_length=MAX_LINE_ITEMS)
    fulfillments: Annotated[list[ShopBaseFulfillment], BeforeValidator(_list)] = Field(default_factory=list,
                                                                                       max_length=MAX_LISTED)
    # Kept as sent: nothing reads them, and a refund we cannot parse must not cost us the order.
    refunds: Annotated[list[Any], BeforeValidator(_anything_listed)] = Field(default_factory=list, repr=False,
                                                                            max_length=MAX_LISTED)
    note_attributes: Annotated[list[NoteAttribute], BeforeValidator(_list)] = Field(default_factory=list, repr=False,
                                                                                    max_length=MAX_LISTED)

    @property
    def total_price_text(self) -> str:
        return money_text(self.total_price)

    def tracking_numbers(self) -> set[str]:
        return {number for f in self.fulfillments for number in f.all_tracking_numbers if number}

    def tax_id(self) -> str | None:
        # Checkout apps store CPF / RUT / tax numbers as note attributes; names vary.
        for attribute in self.note_attributes:
            if attribute.name.lower().replace(" ", "_") in TAX_ID_ATTRIBUTES:
                return attribute.value
        return None


class ShopBaseRefund(ShopBaseModel):
    """refunds/create delivers a refund, not an order."""

    id: OptionalId = None
    order_id: OrderId
    created_at: StrictTimestamp = None
    note: OptionalText = Field(default=None, repr=False)
    refund_line_items: Annotated[list[dict[str, Any]], BeforeValidator(_list)] = Field(
        default_factory=list, repr=False
    )
