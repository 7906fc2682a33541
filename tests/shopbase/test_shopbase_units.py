"""Pure units: protocol helpers, typed errors, the client-side throttle (the order model: tests/unit)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.shopbase import protocol
from shared.shopbase.errors import ShopBaseUnprocessable, error_for_status
from shared.shopbase.throttle import LeakyBucketThrottle

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
