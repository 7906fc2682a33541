"""What an order needs from the seller, in plain words, with the action that fixes it (the page's row buttons).

The rule of *when* an order needs attention is shared.models.attention (the AttentionIndex is built from it);
this module says *what* the seller sees: one Issue per problem, each with one action:
link the variant, retry, reconnect AliExpress, fulfill by hand, pay on AliExpress, cancel on AliExpress, sync.
"""

from __future__ import annotations

from datetime import datetime

from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.placement import UNLINKED
from shared.logic.sync_status_map import is_stalled_attention, is_unshipped_attention
from shared.models.attention import (
    UNPAID_ATTENTION_DAYS,
    partially_fulfilled,
    payment_wait_started,
    refunded_in_store,
    unpaid_deadline,
)
from shared.models.order import Order, OrderStatus
from shared.models.seller_api import Issue, IssueAction, OrderRow

# AliExpress refusal codes whose fix is a new authorization (shared.logic.placement.REFUSALS, "account").
RECONNECT_CODES = ("isv.insufficient-permission", "isv.invalid-authorization")


def _failed_action(order: Order) -> IssueAction:
    code = order.reason_code or ""
    if code == UNLINKED:
        return "link"
    if code.startswith(RECONNECT_CODES):
        return "reconnect"
    if code == "cancel_on_aliexpress":
        return "cancel_on_aliexpress"
    if code.startswith("push_"):
        return "fulfill"
    return "retry"


def unlinked_variants(order: Order) -> list[str]:
    """Variant ids a failed "link the variant" order names (every variant of the order when it cannot tell)."""
    return sorted({li.variant_id for li in order.line_items if li.variant_id and li.variant_id in (order.reason or "")}
                  or {li.variant_id for li in order.line_items if li.variant_id})


def issues_of(order: Order, now: datetime) -> list[Issue]:
    issues: list[Issue] = []
    if order.status is OrderStatus.FAILED and order.reason:
        action = _failed_action(order)
        issues.append(Issue(kind="failed", text=order.reason, action=action,
                            variant_ids=unlinked_variants(order) if action == "link" else []))
    elif order.reason and order.reason_code == "cancel_on_aliexpress":
        issues.append(Issue(kind="flag", text=order.reason, action="cancel_on_aliexpress"))
    attention = order.attention
    if attention == RECONNECT_ATTENTION:
        issues.append(Issue(kind="reconnect", text=attention, action="reconnect"))
    elif is_stalled_attention(attention):
        issues.append(Issue(kind="stalled", text=attention or "", action="fulfill"))
    elif is_unshipped_attention(attention):
        issues.append(Issue(kind="partial", text=attention or "", action="fulfill"))
    elif attention and not refunded_in_store(order):
        issues.append(Issue(kind="flag", text=attention, action="sync"))
    if refunded_in_store(order):
        issues.append(Issue(kind="refund", text="Refunded in the store: cancel the AliExpress order if it is not "
                                                "shipped yet, or cancel the order in the store.",
                            action="cancel_on_aliexpress" if order.ae_orders else "none"))
    if partially_fulfilled(order) and not is_unshipped_attention(attention):
        issues.append(Issue(kind="partial", text="Partly fulfilled: some items have no tracking yet. Wait for the "
                                                 "supplier or fulfill the rest by hand.", action="fulfill"))
    started = payment_wait_started(order)
    deadline = unpaid_deadline(order)
    if started is not None and deadline is not None:
        waited = (now - started).days
        if waited >= UNPAID_ATTENTION_DAYS:
            left = max(0, (deadline - now).days)
            issues.append(Issue(kind="unpaid", text=f"Unpaid on AliExpress for {waited} days: AliExpress cancels it "
                                                    f"in {left} days unless you pay.", action="pay"))
    return issues


def row_of(order: Order, now: datetime) -> OrderRow:
    return OrderRow.of(order, issues_of(order, now), unpaid_deadline(order))
