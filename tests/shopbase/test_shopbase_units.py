"""Pure units: lenient models, protocol helpers, the client-side throttle."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.shopbase import protocol
from shared.shopbase.errors import ShopBaseUnprocessable, error_for_status
from shared.shopbase.models import Fulfillment, LineItem, Order
from shared.shopbase.throttle import LeakyBucketThrottle

# --- models --------------------------------------------------------------------------------------


def test_fixture_parses_strictly(fixture_order: dict[str, Any]) -> None:
    order = Order.model_validate(fixture_order)
    assert order.created_at == datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)
    assert order.cancel_reason is None and order.cancelled_at is None and not order.is_cancelled
    assert order.shipping_address is not None and order.shipping_address.country_code == "US"
    assert order.line_item(90817002) is not None and order.line_item(1) is None
    assert order.model_extra is not None and "discount_code" in order.model_extra


def test_repr_hides_customer_data(fixture_order: dict[str, Any]) -> None:
    text = repr(Order.model_validate(fixture_order)) + str(Order.model_validate(fixture_order))
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
        ("garbage", None),
    ],
)
def test_timestamps(raw: Any, expected: datetime | None) -> None:
    assert Order.model_validate({"id": 1, "updated_at": raw}).updated_at == expected


@given(st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False))
def test_money_as_string_or_number_parses_to_the_same_decimal(price: Decimal) -> None:
    as_string = LineItem.model_validate({"id": 1, "price": str(price)}).price
    as_number = LineItem.model_validate({"id": 1, "price": float(str(price))}).price
    assert as_string == as_number == price


@pytest.mark.parametrize("raw", ["", None, "n/a", True, "NaN"])
def test_unusable_money_is_none(raw: Any) -> None:
    assert LineItem.model_validate({"id": 1, "price": raw}).price is None


def test_lenient_odd_shapes() -> None:
    order = Order.model_validate(
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
    assert order.id == 42 and order.fulfillment_status == "partial"
    assert order.shipping_address is None and order.line_items == [] and order.refunds == []
    assert order.financial_status == "some_new_status"
    assert order.phone == "15551234"
    assert order.fulfillments[0].status is None and order.fulfillments[0].is_active


def test_fulfillment_tracking_numbers() -> None:
    f = Fulfillment.model_validate({"id": 1, "tracking_number": "A", "tracking_numbers": ["B"], "status": "cancelled"})
    assert f.all_tracking_numbers == ["A", "B"] and not f.is_active


# --- protocol and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "kind"),
    [
        ({"base": ["Line items are already fulfilled"]}, protocol.UnprocessableKind.ALREADY_FULFILLED),
        (["Order is already fulfilled"], protocol.UnprocessableKind.ALREADY_FULFILLED),
        ("fulfillment: line item has already been fulfilled", protocol.UnprocessableKind.ALREADY_FULFILLED),
        ({"tracking_company": ["is not a supported carrier"]}, protocol.UnprocessableKind.INVALID_CARRIER),
        ({"base": ["Unknown carrier code"]}, protocol.UnprocessableKind.INVALID_CARRIER),
        ({"base": ["Cannot fulfill a cancelled order"]}, protocol.UnprocessableKind.ORDER_CANCELLED),
        ({"line_items": ["Line item 5 does not exist"]}, protocol.UnprocessableKind.INVALID_LINE_ITEMS),
        ({"email": ["is invalid"]}, protocol.UnprocessableKind.OTHER),
        (None, protocol.UnprocessableKind.OTHER),
    ],
)
def test_classify_unprocessable(errors: Any, kind: protocol.UnprocessableKind) -> None:
    assert protocol.classify_unprocessable(errors) is kind


def test_error_message_has_no_body_content() -> None:
    err = error_for_status(422, method="POST", path=protocol.FULFILLMENTS_PATH, errors={"email": ["a@b.c bad"]})
    assert isinstance(err, ShopBaseUnprocessable)
    assert "a@b.c" not in str(err) and err.errors == {"email": ["a@b.c bad"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12/30", (12, 30)), (" 1 / 40 ", (1, 40)), ("x/30", None), ("30", None), (None, None), ("3/0", None)],
)
def test_parse_call_limit(value: str | None, expected: tuple[int, int] | None) -> None:
    assert protocol.parse_call_limit(value) == expected


def test_parse_retry_after() -> None:
    assert protocol.parse_retry_after(None) == protocol.DEFAULT_RETRY_AFTER
    assert protocol.parse_retry_after("2.0") == 2.0
    assert protocol.parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") == protocol.DEFAULT_RETRY_AFTER
    assert protocol.parse_retry_after("-1") == protocol.DEFAULT_RETRY_AFTER
    assert protocol.parse_retry_after("9999") == 60.0


def test_fulfillment_payload_shape() -> None:
    body = protocol.fulfillment_create_payload(
        tracking_number="T1",
        tracking_company="4PX",
        tracking_url=None,
        line_items=[(1, 2), {"id": "3", "quantity": 1}],
        notify_customer=True,
    )
    assert body == {
        "fulfillment": {
            "notify_customer": True,
            "tracking_number": "T1",
            "tracking_company": "4PX",
            "line_items": [{"id": 1, "quantity": 2}, {"id": 3, "quantity": 1}],
        }
    }
    with pytest.raises(ValueError):
        protocol.fulfillment_create_payload(
            tracking_number="T", tracking_company=None, tracking_url=None, line_items=[(1, 0)], notify_customer=False
        )


# --- throttle ------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_allows_burst_then_paces_at_leak_rate() -> None:
    clock = FakeClock()
    throttle = LeakyBucketThrottle(30, 2.0, headroom=2, clock=clock)
    waits = [throttle.reserve() for _ in range(32)]
    assert waits[:28] == [0.0] * 28
    assert waits[28:] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    clock.now += 60
    assert throttle.level() == 0 and throttle.reserve() == 0.0


@given(st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=80))
def test_throttle_never_lets_the_bucket_overflow(gaps: list[float]) -> None:
    # Simulate the server's bucket at the send times the throttle prescribes.
    clock = FakeClock()
    throttle = LeakyBucketThrottle(10, 2.0, headroom=1, clock=clock)
    level, last = 0.0, clock.now
    for gap in gaps:
        clock.now += gap
        send_at = clock.now + throttle.reserve()
        level = max(0.0, level - (send_at - last) * 2.0) + 1
        last = send_at
        clock.now = send_at
        assert level <= 10 - 1 + 1e-9


def test_throttle_resync_only_raises() -> None:
    clock = FakeClock()
    throttle = LeakyBucketThrottle(30, 2.0, clock=clock)
    throttle.observe(20, 30)
    assert throttle.level() == pytest.approx(20)
    throttle.observe(3, 30)
    assert throttle.level() == pytest.approx(20)
    throttle.observe(3, 40)
    assert throttle.capacity == 40
    throttle.note_rate_limited()
    assert throttle.level() == pytest.approx(40)
