"""Status sync: AliExpress news for every order waiting on it, twice a day, within the fleet's rate budget.

Per order (`OrderSyncer.sync`): `aliexpress.trade.ds.order.get` for each of its AliExpress orders, and once an
AliExpress order has shipped `aliexpress.ds.order.tracking.get` for its parcels. What comes back is applied
by one pure function (`apply_observations`) inside `OrderRepository.mutate`, so concurrent writers (webhook,
seller, another worker) are merged, and an order with no news costs zero writes: nothing here stores "last
checked" timestamps; only values that changed are written.

Per run (`start_scheduled_run`, `process_message`): the starter claims the run (one per time slot) and
enqueues one message per SyncIndex shard. A shard message reads one page of keys, enqueues them as order
messages of ≤ KEYS_PER_MESSAGE keys (and a continuation for the rest of the shard); an order message syncs
its orders and, when the invocation runs short of time, enqueues the rest. Every message is counted once
(see shared/data/sync_runs.py), so redeliveries after a crash neither lose nor double anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from shared.aliexpress.client import AliExpressClient
from shared.aliexpress.errors import AliExpressError
from shared.aliexpress.models import TrackingPackage, TradeOrder
from shared.data.links import Link, LinkRepository
from shared.data.orders import OrderRepository
from shared.data.sync_runs import Counts, SyncQueue, SyncRunRepository
from shared.lifecycle import SYNC_STATUSES, Event, transition
from shared.logic.accounts import RECONNECT_ATTENTION, AliExpressAccounts, AliExpressDisconnected, make_accounts
from shared.logic.rate_budget import RateBudget
from shared.models.order import AeOrder, Order, OrderStatus, Package, PackageLine, utcnow
from shared.observability import logger
from shared.settings import get_settings

T = TypeVar("T")

STALL_AFTER = timedelta(hours=72)
KEYS_PER_MESSAGE = 10  # orders per SQS message: small, so the last messages of a run finish together
SHARD_PAGE = 400  # keys read from one SyncIndex shard per shard message
MIN_SECONDS_PER_ORDER = 20.0  # stop taking orders when the invocation has less time than this left
CANCELLED_REASON = "Cancelled on AliExpress — order again."
CANCELLED_REASON_CODE = "aliexpress_cancelled"
ATTENTION_PREFIX = "AliExpress order "
STALLED_PREFIX = "Stalled tracking: "


# ---------------------------------------------------------------- the status table


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
# Anything absent is unknown → ATTENTION with the raw value. docs/order-lifecycle.md shows the same table.
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

ATTENTION_TEXT = {
    "IN_ISSUE": "a dispute is open",
    "IN_FROZEN": "it is frozen",
    "WAIT_COMPLETE_ADDRESS": "AliExpress asks for a complete address",
}


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
    return classify(ae.order_status, ae.logistics_status, [ae.end_reason])


# ---------------------------------------------------------------- one order


class Accounts(Protocol):
    def call(self, shop: str, fn: Callable[[AliExpressClient, str], T]) -> T: ...


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not waiting for AliExpress (gone, other tab, fulfilled by hand)


@dataclass
class Observation:
    """What AliExpress said about one AliExpress order during this sync."""

    ae_order_id: str
    order_status: str
    logistics_status: str | None
    end_reason: str | None
    state: AeState
    # Parcels with a tracking number, lines already mapped to the store's line items.
    packages: list[Package] = field(default_factory=list)
    # The store line items this AliExpress order covers, when placement could not tell (several suppliers).
    line_item_ids: list[str] = field(default_factory=list)


@dataclass
class SyncResult:
    shop: str
    order_id: str
    outcome: Outcome
    order: Order | None = None
    failed: bool = False
    stalled: bool = False
    calls: int = 0
    error: str | None = None


def _ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def _owned(attention: str | None) -> bool:
    """Attention texts the sync sets, and may therefore clear; other writers' flags are left alone."""
    return attention is not None and (attention.startswith((ATTENTION_PREFIX, STALLED_PREFIX))
                                      or attention == RECONNECT_ATTENTION)


def child_line_ids(order: Order, trade: TradeOrder, links: Callable[[], dict[str, Link]]) -> list[str]:
    """The store line items an AliExpress order holds, matched through the variant links (product + SKU)."""
    by_variant = links()
    ids: list[str] = []
    for li in order.line_items:
        link = by_variant.get(li.variant_id or "")
        if link is None:
            continue
        for child in trade.child_order_list:
            if child.product_id != link.product_id:
                continue
            if link.sku_id and child.sku_id and link.sku_id != child.sku_id:
                continue
            ids.append(li.id)
            break
    return ids


def _line_ids(order: Order, ae: AeOrder) -> list[str]:
    if ae.line_item_ids:
        return list(ae.line_item_ids)
    # One AliExpress order for the whole store order: it covers every line.
    return [li.id for li in order.line_items] if len(order.ae_orders) == 1 else []


def package_lines(order: Order, ae: AeOrder, parcel: TrackingPackage,
                  links: Callable[[], dict[str, Link]]) -> list[PackageLine]:
    """The store line items (and quantities) in one parcel, from its package_item_list."""
    ids = _line_ids(order, ae)
    items = {li.id: li for li in order.line_items if li.id in ids and li.quantity > 0}
    if not items:
        return []
    if not parcel.package_item_list:
        # No item list: the parcel is the whole AliExpress order.
        return [PackageLine(line_item_id=i, quantity=li.quantity) for i, li in items.items()]
    if len(items) == 1:
        (only_id, only), = items.items()
        qty = sum(pi.quantity or 0 for pi in parcel.package_item_list) or only.quantity
        return [PackageLine(line_item_id=only_id, quantity=min(qty, only.quantity))]
    by_variant = links()
    lines: dict[str, int] = {}
    for pi in parcel.package_item_list:
        match = None
        for item_id, li in items.items():
            link = by_variant.get(li.variant_id or "")
            if link is None or link.product_id != pi.item_id:
                continue
            if link.sku_id and pi.sku_id and link.sku_id != pi.sku_id:
                continue
            match = item_id
            break
        if match is None:
            continue
        lines[match] = min(items[match].quantity, lines.get(match, 0) + (pi.quantity or items[match].quantity))
    if not lines:
        logger.warning("parcel items not matched to line items; recording the whole AliExpress order",
                       extra={"shop": order.shop, "order_id": order.order_id, "ae_order_id": ae.ae_order_id})
        return [PackageLine(line_item_id=i, quantity=li.quantity) for i, li in items.items()]
    return [PackageLine(line_item_id=i, quantity=q) for i, q in lines.items()]


def _observed_package(order: Order, ae: AeOrder, parcel: TrackingPackage, now: datetime,
                      links: Callable[[], dict[str, Link]]) -> Package | None:
    number = parcel.mail_no.strip()
    if not number:
        return None  # shipped, no tracking number yet: "not yet", not an error
    events = [n.time_stamp for n in parcel.detail_node_list if n.time_stamp]
    return Package(tracking_number=number, carrier=(parcel.carrier_name or parcel.cp_name or "").strip(),
                   tracking_url=parcel.tracking_url, line_items=package_lines(order, ae, parcel, links),
                   ae_order_id=ae.ae_order_id, found_at=now, last_event_at=_ms(max(events)) if events else None)


def _stalled(order: Order, now: datetime, stall_after: timedelta) -> str | None:
    for ae in order.ae_orders:
        if ae.shipped_at is None or stored_state(ae) not in SHIPPED_STATES or now - ae.shipped_at <= stall_after:
            continue
        parcels = [p for p in order.packages if p.ae_order_id == ae.ae_order_id]
        if not parcels:
            return (f"{STALLED_PREFIX}AliExpress order {ae.ae_order_id} shipped on {ae.shipped_at:%Y-%m-%d} "
                    "and still has no tracking number; ask the supplier.")
        if all(p.last_event_at is None for p in parcels):
            return (f"{STALLED_PREFIX}AliExpress order {ae.ae_order_id} shipped on {ae.shipped_at:%Y-%m-%d} "
                    "and its parcel has no tracking event yet; ask the supplier.")
    return None


def apply_observations(order: Order, observations: Sequence[Observation], now: datetime, *,
                       disconnected: bool = False, stall_after: timedelta = STALL_AFTER) -> Order | None:
    """The order with AliExpress's news applied, or None when nothing changed (→ no write)."""
    if order.status not in SYNC_STATUSES or order.fulfilled_in_store:
        return None
    new = order.model_copy(deep=True)
    for ob in observations:
        ae = next((a for a in new.ae_orders if a.ae_order_id == ob.ae_order_id), None)
        if ae is None:
            continue
        before = (ae.order_status, ae.logistics_status, ae.end_reason, ae.shipped_at)
        ae.order_status, ae.logistics_status, ae.end_reason = ob.order_status, ob.logistics_status, ob.end_reason
        if ob.state in SHIPPED_STATES and ae.shipped_at is None:
            ae.shipped_at = now  # first seen shipped: the start of the stalled-tracking clock
        if (ae.order_status, ae.logistics_status, ae.end_reason, ae.shipped_at) != before:
            ae.checked_at = now
        if not ae.line_item_ids and ob.line_item_ids:
            ae.line_item_ids = list(ob.line_item_ids)
        for parcel in ob.packages:
            known = new.package(parcel.tracking_number)
            if known is None:
                new.packages.append(parcel.model_copy(deep=True))  # the change may be applied more than once
                continue
            if parcel.last_event_at and (known.last_event_at is None or parcel.last_event_at > known.last_event_at):
                known.last_event_at = parcel.last_event_at
            if not known.carrier and parcel.carrier:
                known.carrier = parcel.carrier
            if not known.tracking_url and parcel.tracking_url:
                known.tracking_url = parcel.tracking_url
            if not known.line_items and parcel.line_items:
                known.line_items = parcel.line_items

    states = {ae.ae_order_id: stored_state(ae) for ae in new.ae_orders}
    cancelled = [a for a in new.ae_orders if states[a.ae_order_id] is AeState.CANCELLED]
    if cancelled:
        ae = cancelled[0]
        new = transition(new, OrderStatus.FAILED, Event.ALIEXPRESS_CANCELLED, at=now)
        new.reason = f"{CANCELLED_REASON} (AliExpress order {ae.ae_order_id}: {ae.end_reason or ae.order_status})"
        new.reason_code = CANCELLED_REASON_CODE
    elif new.status is OrderStatus.AWAITING_PAYMENT and states and all(s in PAID_OR_LATER for s in states.values()):
        new = transition(new, OrderStatus.AWAITING_SHIPMENT, Event.SELLER_PAID, at=now)

    attention: str | None = None
    if disconnected:
        attention = RECONNECT_ATTENTION
    else:
        odd = next((a for a in new.ae_orders if states[a.ae_order_id] is AeState.ATTENTION), None)
        if odd is not None:
            what = ATTENTION_TEXT.get(odd.order_status.upper(), "its status is unknown to us")
            attention = (f"{ATTENTION_PREFIX}{odd.ae_order_id} needs you on AliExpress: {what} "
                         f"(status {odd.order_status}).")
        elif new.status in SYNC_STATUSES:
            attention = _stalled(new, now, stall_after)
    if attention is not None:
        new.attention = attention
    elif _owned(new.attention):
        new.attention = None

    if new.model_dump() == order.model_dump():
        return None
    new.last_synced_at = now
    return new


class OrderSyncer:
    """Syncs one order: reads it, asks AliExpress, writes only what changed. Thread-safe."""

    def __init__(self, orders: OrderRepository, accounts: Accounts, links: LinkRepository | None = None, *,
                 clock: Callable[[], datetime] = utcnow, stall_after: timedelta = STALL_AFTER) -> None:
        self._orders = orders
        self._accounts = accounts
        self._links = links
        self._clock = clock
        self._stall_after = stall_after

    def sync(self, shop: str, order_id: str) -> SyncResult:
        order = self._orders.get(shop, order_id)
        if order is None or order.status not in SYNC_STATUSES or order.fulfilled_in_store or not order.ae_orders:
            return SyncResult(shop, order_id, Outcome.SKIPPED, order=order)
        now = self._clock()
        observations: list[Observation] = []
        result = SyncResult(shop, order_id, Outcome.UNCHANGED, order=order)
        disconnected = False
        link_cache: dict[str, Link] | None = None

        def links() -> dict[str, Link]:
            nonlocal link_cache
            if link_cache is None:
                variants = [li.variant_id for li in order.line_items if li.variant_id]
                link_cache = self._links.batch_get(shop, variants) if self._links and variants else {}
            return link_cache

        for ae in order.ae_orders:
            known = stored_state(ae)
            if known is AeState.CANCELLED or (
                    known is AeState.FINISHED and any(p.ae_order_id == ae.ae_order_id for p in order.packages)):
                continue  # nothing more will happen to it
            try:
                observations.append(self._observe(order, ae, now, links, result))
            except AliExpressDisconnected:
                disconnected = True
                result.failed, result.error = True, "disconnected"
                break
            except AliExpressError as error:
                result.failed, result.error = True, error.code
                logger.warning("aliexpress sync failed for an order",
                               extra={"shop": shop, "order_id": order_id, "ae_order_id": ae.ae_order_id,
                                      "code": error.code, "request_id": error.request_id})

        def change(current: Order | None) -> Order | None:
            if current is None:
                return None
            return apply_observations(current, observations, now, disconnected=disconnected,
                                      stall_after=self._stall_after)

        if change(order) is None:
            result.stalled = bool(order.attention and order.attention.startswith(STALLED_PREFIX))
            if result.failed:
                result.outcome = Outcome.FAILED
            return result
        mutation = self._orders.mutate(shop, order_id, change)
        stored = mutation.order
        result.order = stored
        result.stalled = bool(stored and stored.attention and stored.attention.startswith(STALLED_PREFIX))
        if mutation.written:
            result.outcome = Outcome.CHANGED
        if result.failed:
            result.outcome = Outcome.FAILED
        return result

    def _observe(self, order: Order, ae: AeOrder, now: datetime, links: Callable[[], dict[str, Link]],
                 result: SyncResult) -> Observation:
        shop = order.shop
        result.calls += 1
        trade: TradeOrder = self._accounts.call(shop, lambda c, token: c.get_order(token, ae.ae_order_id))
        end_reasons = [c.end_reason for c in trade.child_order_list]
        state = classify(trade.order_status, trade.logistics_status, end_reasons)
        end_reason = next((r for r in end_reasons if r), None)
        ob = Observation(ae_order_id=ae.ae_order_id, order_status=trade.order_status,
                         logistics_status=trade.logistics_status, end_reason=end_reason, state=state)
        if not ae.line_item_ids and len(order.ae_orders) > 1:
            # Several suppliers: the create call does not say which order holds which items; its lines do.
            ob.line_item_ids = child_line_ids(order, trade, links)
            ae = ae.model_copy(update={"line_item_ids": ob.line_item_ids})
        if state in SHIPPED_STATES:
            result.calls += 1
            parcels = self._accounts.call(shop, lambda c, token: c.get_tracking(token, ae.ae_order_id))
            for parcel in parcels:
                package = _observed_package(order, ae, parcel, now, links)
                if package is not None:
                    ob.packages.append(package)
        return ob


# ---------------------------------------------------------------- runs and messages


class ShardMessage(BaseModel):
    kind: str = "shard"
    run: str
    unit: str
    since: datetime
    shard: int
    cursor: dict[str, Any] | None = None


class OrdersMessage(BaseModel):
    kind: str = "orders"
    run: str
    unit: str
    since: datetime
    keys: list[tuple[str, str]]


@dataclass
class RunDeps:
    orders: OrderRepository
    runs: SyncRunRepository
    queue: SyncQueue
    syncer: OrderSyncer | None  # None for the starter, which never calls AliExpress
    shards: int
    clock: Callable[[], datetime] = utcnow


@dataclass
class MessageReport:
    counts: Counts = field(default_factory=Counts)
    enqueued: int = 0
    counted: bool = True  # False: a redelivery of a message already counted
    run_ended: bool = False


def slot_of(scheduled: datetime) -> str:
    """The run id of a scheduled time: its minute, UTC ("2026-11-26T12:00")."""
    return scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _cursor_tag(cursor: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(cursor, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()


@dataclass
class StartReport:
    run_id: str
    started: bool
    messages: int = 0


def start_scheduled_run(deps: RunDeps, scheduled: datetime, *, takeover_after: timedelta = timedelta(minutes=5)
                        ) -> StartReport:
    """Claim the slot's run and enqueue one message per shard; a second delivery of the slot does nothing.

    A starter that died between the claim and the enqueue is taken over by a later delivery of the same
    slot (after `takeover_after`): shard messages have fixed unit ids, so a duplicate is counted once.
    """
    run_id = slot_of(scheduled)
    now = deps.clock()
    if not deps.runs.claim(run_id, kind="scheduled", started_at=now, pending=deps.shards):
        if not deps.runs.take_over(run_id, claimed_before=now - takeover_after, now=now):
            logger.info("sync run already started for this slot", extra={"run_id": run_id})
            return StartReport(run_id, started=False)
        logger.warning("taking over a sync run whose starter did not finish", extra={"run_id": run_id})
        existing = deps.runs.get(run_id)
        since = existing.started_at if existing else now
    else:
        since = now
    messages = [ShardMessage(run=run_id, unit=f"s{shard}", since=since, shard=shard).model_dump(mode="json")
                for shard in range(deps.shards)]
    deps.queue.send(messages)
    deps.runs.mark_enqueued(run_id)
    logger.info("sync run started", extra={"run_id": run_id, "shards": deps.shards})
    return StartReport(run_id, started=True, messages=len(messages))


def orders_messages(run_id: str, unit: str, since: datetime, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [OrdersMessage(run=run_id, unit=f"{unit}/{i}", since=since,
                          keys=list(keys[start:start + KEYS_PER_MESSAGE])).model_dump(mode="json")
            for i, start in enumerate(range(0, len(keys), KEYS_PER_MESSAGE))]


def start_shop_run(deps: RunDeps, shop: str, keys: Sequence[tuple[str, str]]) -> tuple[str, int]:
    """A "sync now" run for one shop's orders: enqueued like a scheduled run's pages."""
    now = deps.clock()
    run_id = f"now-{shop}-{now:%Y%m%dT%H%M%S%f}"
    messages = orders_messages(run_id, "n", now, keys)
    deps.runs.claim(run_id, kind="sync_now", started_at=now, pending=len(messages))
    deps.queue.send(messages)
    deps.runs.mark_enqueued(run_id)
    return run_id, len(messages)


def parse_message(body: str) -> ShardMessage | OrdersMessage:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a sync message is a JSON object")
    try:
        return ShardMessage.model_validate(data) if data.get("kind") == "shard" else OrdersMessage.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"malformed sync message: {error.error_count()} errors") from error


def process_message(deps: RunDeps, message: ShardMessage | OrdersMessage,
                    time_left: Callable[[], float] = lambda: math.inf) -> MessageReport:
    """Do one message's work, enqueue its follow-ups, then count it (once). Raises → SQS redelivers it."""
    report = MessageReport()
    by_shop: dict[str, Counts] = {}
    children: list[dict[str, Any]] = []
    if isinstance(message, ShardMessage):
        keys, cursor = deps.orders.sync_candidates(message.shard, limit=SHARD_PAGE, cursor=message.cursor)
        children = orders_messages(message.run, message.unit, message.since, keys)
        if cursor:
            children.append(ShardMessage(run=message.run, unit=f"s{message.shard}@{_cursor_tag(cursor)}",
                                         since=message.since, shard=message.shard, cursor=cursor
                                         ).model_dump(mode="json"))
    else:
        if deps.syncer is None:
            raise RuntimeError("order messages need an OrderSyncer")
        done = 0
        for shop, order_id in message.keys:
            if done and time_left() < MIN_SECONDS_PER_ORDER:
                break
            counts = by_shop.setdefault(shop, Counts())
            result = deps.syncer.sync(shop, order_id)
            done += 1
            counts.examined += 1
            # Changed by this run, possibly by an earlier delivery of this same message that died uncounted.
            if result.outcome is Outcome.CHANGED or (
                    result.order is not None and result.order.last_synced_at is not None
                    and result.order.last_synced_at >= message.since):
                counts.changed += 1
            if result.failed:
                counts.failed += 1
            if result.stalled:
                counts.stalled += 1
        rest = message.keys[done:]
        if rest:
            # Out of time: the rest goes back on the queue as its own message.
            children = [OrdersMessage(run=message.run, unit=f"{message.unit}+{done}", since=message.since,
                                      keys=rest).model_dump(mode="json")]
    if children:
        deps.queue.send(children)
    report.enqueued = len(children)
    for counts in by_shop.values():
        report.counts.add(counts)
    now = deps.clock()
    report.counted, pending = deps.runs.commit(message.run, message.unit, report.counts, by_shop,
                                               pending_delta=len(children) - 1, now=now)
    if pending <= 0:
        report.run_ended = deps.runs.finish_if_done(message.run, now, pending)
        if report.run_ended:
            logger.info("sync run ended", extra={"run_id": message.run})
    return report


# ---------------------------------------------------------------- wiring (one per container)


def sync_queue_url() -> str:
    url = os.environ.get("SYNC_QUEUE_URL", "")
    if not url:
        raise RuntimeError("SYNC_QUEUE_URL is not set")
    return url


def build_accounts(budget: RateBudget | None = None) -> AliExpressAccounts:
    """AliExpress accounts whose client spends the fleet's rate budget before every HTTP attempt."""
    return make_accounts(before_call=budget)


def build_run_deps(*, with_syncer: bool = True) -> RunDeps:
    orders = OrderRepository()
    syncer = OrderSyncer(orders, build_accounts(), LinkRepository()) if with_syncer else None
    return RunDeps(orders=orders, runs=SyncRunRepository(), queue=SyncQueue(sync_queue_url()), syncer=syncer,
                   shards=get_settings().sync_shards)
