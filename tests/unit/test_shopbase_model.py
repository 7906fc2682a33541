"""The one ShopBase order model: what webhook bodies and Admin API answers may look like, and what comes out."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.models.order import Address
from shared.models.shopbase_order import (
    ShopBaseAddress,
    ShopBaseFulfillment,
    ShopBaseLineItem,
    ShopBaseOrder,
    ShopBaseRefund,
    money_text,
)


def test_fixture_parses_strictly(order_paid: dict[str, Any]) -> None:
    order = ShopBaseOrder.model_validate(order_paid)
    assert order.created_at == datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)
    assert order.cancel_reason is None and order.cancelled_at is None
    assert order.shipping_address is not None and order.shipping_address.country_code == "US"
    assert [li.id for li in order.line_items] == ["90817001", "90817002"]
    assert order.model_extra is not None and "discount_code" in order.model_extra


def test_repr_hides_customer_data(order_paid: dict[str, Any]) -> None:
    text = repr(ShopBaseOrder.model_validate(order_paid)) + str(ShopBaseOrder.model_validate(order_paid))
    for pii in ("jane.doe@example.com", "12 Example Street", "Doe", "555 0100", "62701"):
        assert pii not in text
    assert "5549662" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, None),
        ("0", None),
        ("", None),
        (None, None),
        ("2026-11-20T09:14:03Z", datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)),
        ("2026-11-20T10:14:03+01:00", datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)),
        ("2026-11-20 09:14:03", datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)),
        (1795684443, datetime(2026, 11, 26, 9, 14, 3, tzinfo=UTC)),
        (1795684443000, datetime(2026, 11, 26, 9, 14, 3, tzinfo=UTC)),
        ("20261120", datetime(2026, 11, 20, tzinfo=UTC)),
        ("garbage", None),
    ],
)
def test_timestamps(raw: Any, expected: datetime | None) -> None:
    assert ShopBaseFulfillment.model_validate({"id": 1, "updated_at": raw}).updated_at == expected
    if raw != "garbage":  # an order's own timestamps are refused instead (below)
        order = ShopBaseOrder.model_validate({"id": 1, "line_items": [], "updated_at": raw})
        assert order.updated_at == expected


@pytest.mark.parametrize("field", ["created_at", "updated_at", "cancelled_at"])
def test_unreadable_order_timestamp_is_refused(field: str) -> None:
    # The webhook answers 422 rather than order deliveries (or decide a cancellation) on a guess.
    with pytest.raises(ValidationError) as info:
        ShopBaseOrder.model_validate({"id": 1, "line_items": [], field: "garbage"})
    assert [e["loc"] for e in info.value.errors()] == [(field,)]


@given(st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False))
def test_money_as_string_or_number_parses_to_the_same_decimal(price: Decimal) -> None:
    as_string = ShopBaseLineItem.model_validate({"id": 1, "price": str(price)})
    as_number = ShopBaseLineItem.model_validate({"id": 1, "price": float(str(price))})
    assert as_string.price == as_number.price == price
    assert isinstance(as_number.price, Decimal) and as_string.price_text == str(price)


@pytest.mark.parametrize("raw", ["", None])
def test_absent_money_is_none(raw: Any) -> None:
    item = ShopBaseLineItem.model_validate({"id": 1, "price": raw})
    assert item.price is None and item.price_text == "0"  # the stored order keeps "0"


@pytest.mark.parametrize("raw", ["n/a", True, "NaN", "Infinity", [], {"amount": "1"}])
def test_unreadable_money_is_refused_naming_the_field(raw: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        ShopBaseLineItem.model_validate({"id": 1, "price": raw})
    assert caught.value.errors()[0]["loc"] == ("price",)


def test_lenient_odd_shapes() -> None:
    order = ShopBaseOrder.model_validate(
        {
            "id": "42",
            "fulfillment_status": " Partial ",
            "shipping_address": [],
            "customer": None,
            "line_items": None,
            "fulfillments": [{"id": 9, "tracking_numbers": None, "status": "", "line_items": None}],
            "refunds": None,
            "financial_status": "SOME_NEW_STATUS",
            "phone": 15551234,
        }
    )
    assert order.id == "42" and order.fulfillment_status == "partial"
    assert order.shipping_address is None and order.line_items == [] and order.refunds == []
    assert order.financial_status == "some_new_status"
    assert order.phone == "15551234"
    assert order.fulfillments[0].status is None and order.fulfillments[0].is_active


def test_fulfillment_tracking_numbers() -> None:
    raw = {"id": 1, "tracking_number": "A", "tracking_numbers": ["B"], "status": "cancelled"}
    f = ShopBaseFulfillment.model_validate(raw)
    assert f.all_tracking_numbers == ["A", "B"] and not f.is_active


# --- what the webhook and the API models each accepted, now one model ----------------------------------


@pytest.mark.parametrize(("raw", "expected"), [(5549662, "5549662"), (" 5549662 ", "5549662"), (5549662.0, "5549662")])
def test_ids_are_strings_from_numbers_or_text(raw: Any, expected: str) -> None:
    item = ShopBaseLineItem.model_validate({"id": raw, "variant_id": raw, "product_id": 0})
    assert (item.id, item.variant_id, item.product_id) == (expected, expected, None)


@pytest.mark.parametrize("raw", [True, "", "  ", None, 1.5, {"id": 1}])
def test_a_line_item_needs_a_usable_id(raw: Any) -> None:
    with pytest.raises(ValidationError) as info:
        ShopBaseLineItem.model_validate({"id": raw})
    assert [e["loc"] for e in info.value.errors()] == [("id",)]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o.pop("id"), ("id",)),
        (lambda o: o.pop("line_items"), ("line_items",)),
        (lambda o: o["line_items"][0].update(quantity="two"), ("line_items", 0, "quantity")),
        (lambda o: o["line_items"][0].update(quantity=-1), ("line_items", 0, "quantity")),
        (lambda o: o.update(line_items="oops"), ("line_items",)),
    ],
)
def test_what_the_webhook_refuses(order_paid: dict[str, Any], mutate: Any, field: tuple[Any, ...]) -> None:
    payload = copy.deepcopy(order_paid)
    mutate(payload)
    with pytest.raises(ValidationError) as info:
        ShopBaseOrder.model_validate(payload)
    assert info.value.errors()[0]["loc"] == field


def test_money_is_decimal_and_its_stored_text_keeps_the_sent_digits(order_paid: dict[str, Any]) -> None:
    payload = copy.deepcopy(order_paid)
    del payload["line_items"][0]["price"]
    order = ShopBaseOrder.model_validate(payload)
    assert order.total_price == Decimal("43.90") and order.subtotal_price == Decimal("38.9")
    assert order.total_price_text == "43.90"
    assert [li.price for li in order.line_items] == [None, Decimal("13.0")]
    assert [li.price_text for li in order.line_items] == ["0", "13.0"]  # absent: "0", as stored before
    assert ShopBaseOrder.model_validate({"id": 1, "line_items": [], "total_price": 43.9}).total_price_text == "43.9"
    assert money_text(Decimal("1E+2")) == "1E+2" and money_text(None) == "0"


def test_texts_blank_or_zero_are_none_numbers_become_text() -> None:
    address = ShopBaseAddress.model_validate({"zip": 62701, "phone": 0, "company": "", "city": {"x": 1}})
    assert (address.zip, address.phone, address.company, address.city) == ("62701", None, None, None)
    item = ShopBaseLineItem.model_validate({"id": 1, "title": None, "sku": "", "variant_title": 7})
    assert (item.title, item.sku, item.variant_title) == ("", None, "7")
    assert ShopBaseLineItem.model_validate({"id": 1, "title": 0}).title == "0"  # a title is text, never None


def test_statuses_are_lower_case_or_none(order_paid: dict[str, Any]) -> None:
    order = ShopBaseOrder.model_validate(dict(order_paid, financial_status=" Paid ", fulfillment_status=""))
    assert (order.financial_status, order.fulfillment_status, order.cancel_reason) == ("paid", None, None)


def test_timestamps_are_utc() -> None:
    order = ShopBaseOrder.model_validate({"id": 1, "line_items": [], "updated_at": "2026-11-20T10:14:03+01:00"})
    assert order.updated_at is not None and order.updated_at.utcoffset() is not None
    assert order.updated_at.isoformat() == "2026-11-20T09:14:03+00:00"


def test_empty_objects_and_lists() -> None:
    order = ShopBaseOrder.model_validate(
        {"id": 1, "line_items": [], "customer": "", "billing_address": [], "shipping_address": {},
         "fulfillments": "", "note_attributes": None}
    )  # fmt: skip
    assert order.customer is None and order.billing_address is None
    assert order.shipping_address == ShopBaseAddress()  # an empty object is an (empty) address
    assert order.fulfillments == [] and order.note_attributes == [] and order.tax_id() is None


def test_address_copies_into_the_stored_address_without_unknown_keys(order_paid: dict[str, Any]) -> None:
    raw = dict(order_paid["shipping_address"], tax_id="sent-by-an-app", latitude=39.8)
    address = ShopBaseAddress.model_validate(raw)
    stored = Address(**address.model_dump(), tax_id="from-note-attributes")
    assert stored.tax_id == "from-note-attributes" and stored.city == "Springfield"


def test_tracking_numbers_and_tax_id(order_paid: dict[str, Any]) -> None:
    payload = dict(
        order_paid,
        fulfillments=[
            {"id": 1, "tracking_number": "A", "tracking_numbers": ["A", "B", ""]},
            {"id": None, "tracking_numbers": None, "status": "cancelled"},
            {"tracking_number": "C"},
        ],
        note_attributes=[{"name": "Gift", "value": "yes"}, {"name": "Tax ID", "value": "123.456.789-00"}],
    )
    order = ShopBaseOrder.model_validate(payload)
    assert order.tracking_numbers() == {"A", "B", "C"}
    assert order.tax_id() == "123.456.789-00"


def test_refunds_inside_an_order_ride_along_unparsed(order_paid: dict[str, Any]) -> None:
    odd = [{"id": 7, "created_at": "whenever"}, "?"]
    assert ShopBaseOrder.model_validate(dict(order_paid, refunds=odd)).refunds == odd
    assert ShopBaseOrder.model_validate(dict(order_paid, refunds={})).refunds == []


def test_a_refund_needs_its_order() -> None:
    refund = ShopBaseRefund.model_validate({"id": 7, "order_id": 5549662, "note": "customer@example.com"})
    assert (refund.id, refund.order_id) == ("7", "5549662")
    assert "customer@example.com" not in repr(refund)
    with pytest.raises(ValidationError):
        ShopBaseRefund.model_validate({"id": 7})
    with pytest.raises(ValidationError):
        ShopBaseRefund.model_validate({"order_id": 1, "created_at": "garbage"})
