"""The AliExpress status table: every documented raw status, how order_status, logistics_status and end
reasons combine, and the attention texts the sync owns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.aliexpress.models import ORDER_STATUSES
from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.sync_status_map import (
    PAID_OR_LATER,
    SHIPPED_STATES,
    STATUS_TABLE,
    AeState,
    cancelled_reason,
    classify,
    is_stalled_attention,
    needs_you_attention,
    owned_attention,
    stalled_attention,
    stored_state,
)
from shared.models.order import AeOrder

# Every order_status value AliExpress documents, with what it must mean for us.
EXPECTED = {
    "PLACE_ORDER_SUCCESS": AeState.UNPAID,
    "PAYMENT_PROCESSING": AeState.UNPAID,
    "WAIT_SELLER_EXAMINE_MONEY": AeState.PAID,
    "RISK_CONTROL": AeState.PAID,
    "RISK_CONTROL_HOLD": AeState.PAID,
    "WAIT_GROUP": AeState.PAID,
    "FUND_PROCESSING": AeState.PAID,
    "WAIT_SELLER_SEND_GOODS": AeState.PAID,
    "SELLER_PART_SEND_GOODS": AeState.PART_SHIPPED,
    "WAIT_BUYER_ACCEPT_GOODS": AeState.SHIPPED,
    "FINISH": AeState.FINISHED,
    "ARCHIVE": AeState.FINISHED,
    "IN_CANCEL": AeState.CANCELLED,
    "IN_ISSUE": AeState.ATTENTION,
    "IN_FROZEN": AeState.ATTENTION,
    "WAIT_COMPLETE_ADDRESS": AeState.ATTENTION,
}


def test_the_table_covers_every_documented_status() -> None:
    assert set(EXPECTED) == ORDER_STATUSES
    for raw, state in EXPECTED.items():
        assert classify(raw, None) is state, raw
        assert STATUS_TABLE[("order_status", raw)] is state


@pytest.mark.parametrize("raw", sorted(ORDER_STATUSES))
def test_raw_status_is_read_case_and_space_insensitive(raw: str) -> None:
    assert classify(f"  {raw.lower()} ", None) is EXPECTED[raw]


@pytest.mark.parametrize(("order_status", "logistics", "reasons", "expected"), [
    ("WAIT_SELLER_SEND_GOODS", "SELLER_SEND_PART_GOODS", [], AeState.PART_SHIPPED),
    ("WAIT_SELLER_SEND_GOODS", "SELLER_SEND_GOODS", [], AeState.SHIPPED),
    ("WAIT_SELLER_SEND_GOODS", "BUYER_ACCEPT_GOODS", [], AeState.SHIPPED),
    ("WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_SEND_GOODS", [], AeState.PAID),
    ("PLACE_ORDER_SUCCESS", "SELLER_SEND_GOODS", [], AeState.SHIPPED),  # logistics is the more precise field
    ("RISK_CONTROL", "DEFAULT", [], AeState.PAID),
    ("PLACE_ORDER_SUCCESS", "NO_LOGISTICS", [], AeState.UNPAID),
    ("PLACE_ORDER_SUCCESS", "SOMETHING_NEW", [], AeState.UNPAID),  # an unknown logistics value says nothing
    ("FINISH", "BUYER_ACCEPT_GOODS", [], AeState.FINISHED),
    ("FINISH", "DEFAULT", ["buyer_pay_timeout"], AeState.CANCELLED),
    ("FINISH", "WAIT_SELLER_SEND_GOODS", [None, "seller_send_goods_timeout"], AeState.CANCELLED),
    ("FINISH", "BUYER_ACCEPT_GOODS", ["buyer_accept_goods"], AeState.FINISHED),
    ("FINISH", "BUYER_ACCEPT_GOODS", ["buyer_pay_timeout"], AeState.FINISHED),  # delivered wins
    ("FINISH", None, ["buyer_accept_goods_timeout", " "], AeState.FINISHED),
    ("ARCHIVE", None, ["seller_send_goods_timeout"], AeState.CANCELLED),
    ("SELLER_PART_SEND_GOODS", "SELLER_SEND_GOODS", [], AeState.PART_SHIPPED),  # only upgrades unpaid/paid
    ("SOMETHING_NEW", None, [], AeState.ATTENTION),
    ("", None, [], AeState.ATTENTION),
    ("IN_FROZEN", "SELLER_SEND_GOODS", [], AeState.ATTENTION),  # logistics never hides a dispute/freeze
    ("IN_CANCEL", "SELLER_SEND_GOODS", [], AeState.CANCELLED),
])
def test_classify_combines_fields(order_status: str, logistics: str | None, reasons: list[str | None],
                                  expected: AeState) -> None:
    assert classify(order_status, logistics, reasons) is expected


def test_state_groups() -> None:
    assert {AeState.PART_SHIPPED, AeState.SHIPPED, AeState.FINISHED} == SHIPPED_STATES
    assert {AeState.PAID, *SHIPPED_STATES} == PAID_OR_LATER
    assert AeState.UNPAID not in PAID_OR_LATER and AeState.ATTENTION not in PAID_OR_LATER


def test_stored_state_reads_what_the_order_recorded() -> None:
    assert stored_state(AeOrder(ae_order_id="1")) is AeState.UNPAID  # freshly placed
    assert stored_state(AeOrder(ae_order_id="1", order_status="FINISH", end_reason="buyer_pay_timeout")) \
        is AeState.CANCELLED
    assert stored_state(AeOrder(ae_order_id="1", order_status="WAIT_SELLER_SEND_GOODS",
                                logistics_status="SELLER_SEND_GOODS")) is AeState.SHIPPED


def test_texts_the_seller_reads() -> None:
    dispute = needs_you_attention(AeOrder(ae_order_id="77", order_status="IN_ISSUE"))
    assert dispute == "AliExpress order 77 needs you on AliExpress: a dispute is open (status IN_ISSUE)."
    unknown = needs_you_attention(AeOrder(ae_order_id="77", order_status="BRAND_NEW"))
    assert "its status is unknown to us" in unknown and "BRAND_NEW" in unknown
    assert "complete address" in needs_you_attention(AeOrder(ae_order_id="7", order_status="WAIT_COMPLETE_ADDRESS"))
    shipped = datetime(2026, 11, 20, tzinfo=UTC)
    assert stalled_attention("77", shipped, has_number=False) == (
        "Stalled tracking: AliExpress order 77 shipped on 2026-11-20 and still has no tracking number; "
        "ask the supplier.")
    assert "its parcel has no tracking event yet" in stalled_attention("77", shipped, has_number=True)
    assert cancelled_reason(AeOrder(ae_order_id="77", order_status="FINISH", end_reason="buyer_pay_timeout")) == (
        "Cancelled on AliExpress — order again. (AliExpress order 77: buyer_pay_timeout)")
    assert cancelled_reason(AeOrder(ae_order_id="77", order_status="IN_CANCEL")).endswith("77: IN_CANCEL)")


def test_the_sync_clears_only_its_own_flags() -> None:
    shipped = datetime(2026, 11, 20, tzinfo=UTC)
    for own in (needs_you_attention(AeOrder(ae_order_id="1", order_status="IN_FROZEN")),
                stalled_attention("1", shipped, has_number=False), RECONNECT_ATTENTION):
        assert owned_attention(own)
    assert not owned_attention("Check the address: the customer wrote twice.")
    assert not owned_attention(None)
    assert is_stalled_attention(stalled_attention("1", shipped, has_number=True))
    assert not is_stalled_attention(RECONNECT_ATTENTION) and not is_stalled_attention(None)
