"""What an AliExpress order's raw status means for us: THE table, `classify`, and the texts the sync shows.

Pure: no I/O. `docs/order-lifecycle.md` shows the same table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from shared.logic.accounts import RECONNECT_ATTENTION
from shared.models.order import AeOrder


class AeState(StrEnum):
    """What an AliExpress order's raw status means for us."""

    UNPAID = "unpaid"  # placed, the seller has not paid it yet            → awaiting_payment
    PAID = "paid"  # paid / risk control / waiting for the supplier         → awaiting_shipment (seller_paid)
    PART_SHIPPED = "part_shipped"  # some parcels shipped                   → packages recorded as they get numbers
    SHIPPED = "shipped"  # every parcel shipped                              → packages recorded (push → fulfilled)
    FINISHED = "finished"  # closed normally (delivered)                    → packages recorded
    CANCELLED = "cancelled"  # IN_CANCEL, or FINISH with an end reason       → failed (aliexpress_cancelled)
    ATTENTION = "attention"  # dispute, frozen, address missing, unknown     → order.attention, tab unchanged


SHIPPED_STATES = frozenset({AeState.PART_SHIPPED, AeState.SHIPPED, AeState.FINISHED})
PAID_OR_LATER = frozenset({AeState.PAID, *SHIPPED_STATES})

# THE table: (field, raw AliExpress value) → state. `logistics_status` only ever upgrades an unpaid/paid
# order_status to a shipped state (it is the more precise field for shipping); None = says nothing.
# Anything absent is unknown → ATTENTION with the raw value.
STATUS_TABLE: dict[tuple[str, str], AeState | None] = {
    ("order_status", "PLACE_ORDER_SUCCESS"): AeState.UNPAID,
    ("order_status", "PAYMENT_PROCESSING"): AeState.UNPAID,
    ("order_status", "WAIT_SELLER_EXAMINE_MONEY"): AeState.PAID,
    ("order_status", "RISK_CONTROL"): AeState.PAID,
    ("order_status", "RISK_CONTROL_HOLD"): AeState.PAID,
    ("order_status", "WAIT_GROUP"): AeState.PAID,
    ("order_status", "FUND_PROCESSING"): AeState.PAID,
    ("order_status", "WAIT_SELLER_SEND_GOODS"): AeState.PAID,
    ("order_status", "SELLER_PART_SEND_GOODS"): AeState.PART_SHIPPED,
    ("order_status", "WAIT_BUYER_ACCEPT_GOODS"): AeState.SHIPPED,
    ("order_status", "FINISH"): AeState.FINISHED,  # CANCELLED instead when a child order has an end reason
    ("order_status", "ARCHIVE"): AeState.FINISHED,  # same rule
    ("order_status", "IN_CANCEL"): AeState.CANCELLED,
    ("order_status", "IN_ISSUE"): AeState.ATTENTION,
    ("order_status", "IN_FROZEN"): AeState.ATTENTION,
    ("order_status", "WAIT_COMPLETE_ADDRESS"): AeState.ATTENTION,
    ("logistics_status", "DEFAULT"): None,
    ("logistics_status", "NO_LOGISTICS"): None,
    ("logistics_status", "WAIT_SELLER_SEND_GOODS"): None,
    ("logistics_status", "SELLER_SEND_PART_GOODS"): AeState.PART_SHIPPED,
    ("logistics_status", "SELLER_SEND_GOODS"): AeState.SHIPPED,
    ("logistics_status", "BUYER_ACCEPT_GOODS"): AeState.SHIPPED,
}

# End reasons that close an order normally (the buyer received it): not a cancellation.
COMPLETED_END_REASONS = frozenset({"buyer_accept_goods", "buyer_accept_goods_timeout", "buyer_confirm_goods"})


def classify(order_status: str, logistics_status: str | None, end_reasons: Iterable[str | None] = ()) -> AeState:
    state = STATUS_TABLE.get(("order_status", order_status.strip().upper()), AeState.ATTENTION)
    if state is None:  # pragma: no cover - order_status rows always carry a state
        state = AeState.ATTENTION
    if state is AeState.FINISHED:
        ended = [r for r in end_reasons if r and r.strip()]
        if ended and any(r.strip().lower() not in COMPLETED_END_REASONS for r in ended) and \
                (logistics_status or "").upper() != "BUYER_ACCEPT_GOODS":
            return AeState.CANCELLED
        return state
    if state in (AeState.UNPAID, AeState.PAID) and logistics_status:
        shipped = STATUS_TABLE.get(("logistics_status", logistics_status.strip().upper()))
        if shipped is not None:
            return shipped
    return state


def stored_state(ae: AeOrder) -> AeState:
    """The state of an AliExpress order as last recorded on the store order."""
    return classify(ae.order_status, ae.logistics_status, [ae.end_reason])


# ---------------------------------------------------------------- what the seller reads

CANCELLED_REASON = "Cancelled on AliExpress — order again."
CANCELLED_REASON_CODE = "aliexpress_cancelled"
ATTENTION_PREFIX = "AliExpress order "
STALLED_PREFIX = "Stalled tracking: "
UNSHIPPED_PREFIX = "Items not shipped: "

ATTENTION_TEXT = {
    "IN_ISSUE": "a dispute is open",
    "IN_FROZEN": "it is frozen",
    "WAIT_COMPLETE_ADDRESS": "AliExpress asks for a complete address",
}


def cancelled_reason(ae: AeOrder) -> str:
    return f"{CANCELLED_REASON} (AliExpress order {ae.ae_order_id}: {ae.end_reason or ae.order_status})"


def needs_you_attention(ae: AeOrder) -> str:
    """A dispute, a freeze, a missing address or a status we do not know: the seller acts on AliExpress."""
    what = ATTENTION_TEXT.get(ae.order_status.upper(), "its status is unknown to us")
    return f"{ATTENTION_PREFIX}{ae.ae_order_id} needs you on AliExpress: {what} (status {ae.order_status})."


def stalled_attention(ae_order_id: str, shipped_at: datetime, *, has_number: bool) -> str:
    problem = "its parcel has no tracking event yet" if has_number else "still has no tracking number"
    return f"{STALLED_PREFIX}AliExpress order {ae_order_id} shipped on {shipped_at:%Y-%m-%d} and {problem}; " \
           "ask the supplier."


def is_stalled_attention(attention: str | None) -> bool:
    return bool(attention and attention.startswith(STALLED_PREFIX))


def unshipped_attention(items: Iterable[tuple[str, str, int]]) -> str:
    """Every AliExpress order shipped, yet these store items ((line item id, title, quantity)) have no parcel."""
    listed = ", ".join(f"{qty} x {title or 'item'} (line item {item_id})" for item_id, title, qty in items)
    return f"{UNSHIPPED_PREFIX}AliExpress shows every AliExpress order of this order shipped, but no parcel " \
           f"holds {listed}. Ask the supplier on AliExpress, or fulfill these items by hand with their tracking " \
           "number (Fulfill)."


def is_unshipped_attention(attention: str | None) -> bool:
    return bool(attention and attention.startswith(UNSHIPPED_PREFIX))


def owned_attention(attention: str | None) -> bool:
    """Attention texts the sync sets, and may therefore clear; other writers' flags are left alone."""
    return attention is not None and (attention.startswith((ATTENTION_PREFIX, STALLED_PREFIX, UNSHIPPED_PREFIX))
                                      or attention == RECONNECT_ATTENTION)
