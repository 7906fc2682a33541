"""The intake model's bounds (issue 10, items 6 and 8): whatever it accepts, one DynamoDB item can store; whatever it
refuses is named by its field. The HTTP answers are in tests/integration/test_webhook_bad_input.py."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.data.orders import order_sk
from shared.models.shopbase_order import (
    MAX_LINE_ITEMS,
    MAX_TEXT_CHARS,
    ShopBaseLineItem,
    ShopBaseOrder,
    ShopBaseRefund,
)


def refused_field(raw: dict[str, Any], model: Any = ShopBaseOrder) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(raw)
    return ".".join(str(part) for part in info.value.errors()[0]["loc"])


@pytest.mark.parametrize(("raw", "expected"), [
    (5549662, "5549662"), ("5549662", "5549662"), (" 5549662 ", "5549662"), (5549662.0, "5549662"),
    ("0005549662", "5549662"), (2**63 - 1, str(2**63 - 1)),
])
def test_an_order_id_is_one_canonical_shopbase_id(raw: Any, expected: str) -> None:
    assert ShopBaseOrder.model_validate({"id": raw, "line_items": []}).id == expected
    assert ShopBaseRefund.model_validate({"order_id": raw}).order_id == expected


@pytest.mark.parametrize("raw", ["10#01", "#", "a1", "12 34", "-5", 0, -5, "0", 2**63, "1" * 2000, "0x1F", "١٢٣",
                                 "1e5", 1.5, True])
def test_an_order_id_that_is_not_a_shopbase_id_is_refused(raw: Any) -> None:
    assert refused_field({"id": raw, "line_items": []}) == "id"
    assert refused_field({"order_id": raw}, ShopBaseRefund) == "order_id"


@pytest.mark.parametrize(("raw", "year"), [
    ("2026-11-20T10:14:03+01:00", 2026), ("1970-01-01T00:00:00Z", 1970), ("2199-12-31T23:59:59Z", 2199),
    (1796148550, 2026), (1796148550123, 2026),
])
def test_timestamps_in_range_are_read(raw: Any, year: int) -> None:
    order = ShopBaseOrder.model_validate({"id": 1, "line_items": [], "updated_at": raw})
    assert order.updated_at is not None and order.updated_at.year == year and order.updated_at.tzinfo is UTC


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1969-12-31T23:59:59Z",
                                 "2200-01-01T00:00:00Z", "0001-01-01T00:00:00", 1e30, "9" * 400])
def test_timestamps_out_of_range_are_refused_where_they_decide_and_dropped_elsewhere(raw: Any) -> None:
    for field in ("created_at", "updated_at", "cancelled_at"):
        assert refused_field({"id": 1, "line_items": [], field: raw}) == field
    # processed_at only informs: an unusable one is None, never an error.
    assert ShopBaseOrder.model_validate({"id": 1, "line_items": [], "processed_at": raw}).processed_at is None


def test_a_datetime_given_directly_is_range_checked_too() -> None:
    early = datetime(1, 1, 1, tzinfo=UTC)
    assert refused_field({"id": 1, "line_items": [], "updated_at": early}) == "updated_at"


@pytest.mark.parametrize(("line", "field"), [
    ({"quantity": 10**40}, "quantity"), ({"quantity": 1_000_001}, "quantity"), ({"quantity": -1}, "quantity"),
    ({"price": "1e400"}, "price"), ({"price": 10**15}, "price"), ({"price": "0." + "1" * 40}, "price"),
    ({"id": "9" * 65}, "id"), ({"variant_id": "v" * 65}, "variant_id"), ({"product_id": 10**70}, "product_id"),
    ({"title": "t" * (MAX_TEXT_CHARS + 1)}, "title"), ({"sku": "s" * 5000}, "sku"),
    ({"variant_title": "v" * 5000}, "variant_title"), ({"title": "\udc80"}, "title"),
])
def test_a_line_item_out_of_bounds_is_refused_naming_the_field(line: dict[str, Any], field: str) -> None:
    assert refused_field({"id": 1, **line}, ShopBaseLineItem) == field


def test_the_largest_values_in_bounds_are_accepted() -> None:
    item = ShopBaseLineItem.model_validate({"id": "9" * 64, "quantity": 1_000_000, "price": "999999999999999.99",
                                            "title": "t" * MAX_TEXT_CHARS})
    assert item.quantity == 1_000_000 and str(item.price) == "999999999999999.99"


@pytest.mark.parametrize(("change", "field"), [
    (lambda o: o.update(name="N" * 450_000), "name"),
    (lambda o: o.update(email="e" * 2000), "email"),
    (lambda o: o.update(currency="C" * 17), "currency"),
    (lambda o: o.update(financial_status="p" * 65), "financial_status"),
    (lambda o: o.update(total_price=10**40), "total_price"),
    (lambda o: o["customer"].update(first_name="F" * 2000), "customer.first_name"),
    (lambda o: o["customer"].update(id="c" * 65), "customer.id"),
    (lambda o: o["shipping_address"].update(address1="A" * 450_000), "shipping_address.address1"),
    (lambda o: o["shipping_address"].update(country_code="U" * 65), "shipping_address.country_code"),
    (lambda o: o.update(note_attributes=[{"name": "cpf", "value": "1" * 2000}]), "note_attributes.0.value"),
    (lambda o: o.update(line_items=[{"id": n} for n in range(1, MAX_LINE_ITEMS + 2)]), "line_items"),
    (lambda o: o.update(fulfillments=[{}] * 1001), "fulfillments"),
])
def test_an_order_field_out_of_bounds_is_refused_naming_it(order_paid: dict[str, Any], change: Any,
                                                           field: str) -> None:
    payload = copy.deepcopy(order_paid)
    change(payload)
    assert refused_field(payload) == field


def test_the_fixture_is_within_every_bound(order_paid: dict[str, Any]) -> None:
    order = ShopBaseOrder.model_validate(order_paid)
    assert order.id == "5549662" and len(order.line_items) == 2


# ------------------------------------------------------------------ the key of an order: one id, one key

@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_two_different_ids_never_share_a_key(a: str, b: str) -> None:
    if a != b:
        assert order_sk(a) != order_sk(b)


@pytest.mark.parametrize(("a", "b"), [("5", "05"), ("5", "00005"), ("-5", "-05"), ("1", "01"), ("0", "00")])
def test_ids_that_zero_padding_would_merge_get_their_own_keys(a: str, b: str) -> None:
    assert order_sk(a) != order_sk(b)


def test_shopbase_ids_keep_their_zero_padded_keys_and_sort_by_id() -> None:
    assert order_sk("5549662") == "ORDER#00000000000005549662"
    ids = ["9", "10", "5549662", str(2**63 - 1)]
    assert sorted(ids, key=order_sk) == ids
