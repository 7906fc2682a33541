"""One order's sync: ask AliExpress about each of its AliExpress orders, write only what changed.

Per order (`OrderSyncer.sync`): `aliexpress.trade.ds.order.get` for each of its AliExpress orders, and once an
AliExpress order has shipped `aliexpress.ds.order.tracking.get` for its parcels. What comes back is applied
by one pure function (`apply_observations`) inside the repository's `mutate`, so concurrent writers (webhook,
seller, another worker) are merged, and an order with no news costs zero writes: nothing here stores "last
checked" timestamps; only values that changed are written.

Parcels are matched to the store's line items (`package_lines`) through the variant links (product + SKU);
a parcel item's quantity is spread over every line item of that product + SKU (placement merges them into
one AliExpress line), after what the AliExpress order's other parcels already cover. An AliExpress order
of a store order split over several suppliers learns its lines from its child orders (`child_line_ids`).
Stalled tracking (shipped `STALL_AFTER` ago, no number or no event yet) flags the order, and so does an
order AliExpress shipped completely while some store item has no parcel (`unshipped_items`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar

from shared.aliexpress.client import AliExpressClient
from shared.aliexpress.errors import AliExpressError
from shared.aliexpress.models import TrackingPackage, TradeOrder
from shared.lifecycle import SYNC_STATUSES, Event, transition
from shared.logic.accounts import RECONNECT_ATTENTION, AliExpressDisconnected
from shared.logic.sync_status_map import (
    CANCELLED_REASON_CODE,
    PAID_OR_LATER,
    SHIPPED_STATES,
    AeState,
    cancelled_reason,
    classify,
    is_stalled_attention,
    needs_you_attention,
    owned_attention,
    stalled_attention,
    stored_state,
    unshipped_attention,
)
from shared.models.order import AeOrder, LineItem, Order, OrderStatus, Package, PackageLine, utcnow
from shared.models.shop import Link
from shared.observability import logger

if TYPE_CHECKING:
    from shared.data.orders import Mutation

T = TypeVar("T")

STALL_AFTER = timedelta(hours=72)

LinksOf = Callable[[], dict[str, Link]]  # the order's variant links, read at most once, when needed


class Accounts(Protocol):
    def call(self, shop: str, fn: Callable[[AliExpressClient, str], T]) -> T: ...


class Orders(Protocol):
    def get(self, shop: str, order_id: str) -> Order | None: ...

    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None]) -> Mutation: ...


class Links(Protocol):
    def batch_get(self, shop: str, variant_ids: list[str]) -> dict[str, Link]: ...


class SyncOutcome(StrEnum):
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
    # Parcels AliExpress listed without a tracking number yet: their items are not in `packages`.
    unnumbered: int = 0


@dataclass
class SyncResult:
    shop: str
    order_id: str
    outcome: SyncOutcome
    order: Order | None = None
    failed: bool = False
    stalled: bool = False
    calls: int = 0
    error: str | None = None


class Syncer(Protocol):
    """One order's sync (OrderSyncer; runs and sync now take any object with this method)."""

    def sync(self, shop: str, order_id: str) -> SyncResult: ...


def waits_for_aliexpress(order: Order) -> bool:
    """Placed on AliExpress and not done yet: what the sync looks at."""
    return order.status in SYNC_STATUSES and not order.fulfilled_in_store and bool(order.ae_orders)


# ---------------------------------------------------------------- parcels → store line items


def child_line_ids(order: Order, trade: TradeOrder, links: LinksOf) -> list[str]:
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


def _matches(link: Link | None, product_id: str | None, sku_id: str | None) -> bool:
    if link is None or link.product_id != product_id:
        return False
    return not (link.sku_id and sku_id and link.sku_id != sku_id)


def _allocate(parcel: TrackingPackage, candidates: dict[str, LineItem], room: Mapping[str, int],
              by_variant: Mapping[str, Link]) -> dict[str, int]:
    """Each parcel item's quantity spread over EVERY line item of its product + SKU, in order, up to each
    line's `room`: placement merges line items of one SKU into one AliExpress line, so one parcel item may
    stand for several store line items."""
    left = dict(room)
    lines: dict[str, int] = {}
    for pi in parcel.package_item_list:
        matching = [i for i, li in candidates.items()
                    if _matches(by_variant.get(li.variant_id or ""), pi.item_id, pi.sku_id)]
        # No quantity on the item: it holds whatever its lines still lack.
        units = pi.quantity if pi.quantity else sum(left[i] for i in matching)
        for item_id in matching:
            take = min(units, left[item_id])
            if take > 0:
                lines[item_id] = lines.get(item_id, 0) + take
                left[item_id] -= take
                units -= take
    return lines


def package_lines(order: Order, ae: AeOrder, parcel: TrackingPackage, links: LinksOf,
                  covered: Mapping[str, int] | None = None) -> list[PackageLine]:
    """The store line items (and quantities) in one parcel, from its package_item_list.

    `covered`: quantities of this AliExpress order's line items already in its other parcels; a parcel's
    items go first to what those do not cover yet (two parcels of one merged SKU → one line item each).
    """
    ids = _line_ids(order, ae)
    items = {li.id: li for li in order.line_items if li.id in ids and li.quantity > 0}
    if not items:
        return []
    done = covered or {}
    room = {i: max(0, li.quantity - done.get(i, 0)) for i, li in items.items()}
    if not parcel.package_item_list:
        # No item list: the parcel is the whole AliExpress order (what its other parcels left).
        rest = {i: q for i, q in room.items() if q > 0} or {i: li.quantity for i, li in items.items()}
        return [PackageLine(line_item_id=i, quantity=q) for i, q in rest.items()]
    if len(items) == 1:
        (only_id, only), = items.items()
        qty = sum(pi.quantity or 0 for pi in parcel.package_item_list) or room[only_id] or only.quantity
        return [PackageLine(line_item_id=only_id, quantity=min(qty, room[only_id] or only.quantity))]
    by_variant = links()
    # What the earlier parcels left first; a parcel of items already covered (AliExpress re-labelled
    # it?) maps as if alone rather than to nothing.
    lines = _allocate(parcel, items, room, by_variant) or \
        _allocate(parcel, items, {i: li.quantity for i, li in items.items()}, by_variant)
    if not lines:
        logger.warning("parcel items not matched to line items; recording the whole AliExpress order",
                       extra={"shop": order.shop, "order_id": order.order_id, "ae_order_id": ae.ae_order_id})
        return [PackageLine(line_item_id=i, quantity=li.quantity) for i, li in items.items()]
    return [PackageLine(line_item_id=i, quantity=lines[i]) for i in items if i in lines]


def _ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def observed_package(order: Order, ae: AeOrder, parcel: TrackingPackage, now: datetime,
                     links: LinksOf, covered: Mapping[str, int] | None = None) -> Package | None:
    """The parcel as a package of the store order; None while it has no tracking number ("not yet")."""
    number = parcel.mail_no.strip()
    if not number:
        return None
    events = [n.time_stamp for n in parcel.detail_node_list if n.time_stamp]
    return Package(tracking_number=number, carrier=(parcel.carrier_name or parcel.cp_name or "").strip(),
                   tracking_url=parcel.tracking_url, line_items=package_lines(order, ae, parcel, links, covered),
                   ae_order_id=ae.ae_order_id, found_at=now, last_event_at=_ms(max(events)) if events else None)


# ---------------------------------------------------------------- applying the news


def stalled(order: Order, now: datetime, stall_after: timedelta = STALL_AFTER) -> str | None:
    """The stalled-tracking text for the first AliExpress order shipped too long ago without tracking news."""
    for ae in order.ae_orders:
        if ae.shipped_at is None or stored_state(ae) not in SHIPPED_STATES or now - ae.shipped_at <= stall_after:
            continue
        parcels = [p for p in order.packages if p.ae_order_id == ae.ae_order_id]
        if not parcels:
            return stalled_attention(ae.ae_order_id, ae.shipped_at, has_number=False)
        if all(p.last_event_at is None for p in parcels):
            return stalled_attention(ae.ae_order_id, ae.shipped_at, has_number=True)
    return None


def unshipped_items(order: Order, waiting_for_numbers: bool = False) -> list[tuple[str, str, int]]:
    """(line item id, title, quantity missing) of store items no parcel holds although every AliExpress order
    of the order has shipped everything; [] while anything may still come (part shipped, a parcel without a
    number yet, a parcel whose items we could not tell)."""
    if waiting_for_numbers or not order.ae_orders:
        return []
    if any(stored_state(ae) not in (AeState.SHIPPED, AeState.FINISHED) for ae in order.ae_orders):
        return []
    if any(not p.line_items for p in order.packages):
        return []  # pushed as "the whole order": ShopBase fulfils what is left
    shipped = {p.ae_order_id for p in order.packages}
    if any(ae.ae_order_id not in shipped for ae in order.ae_orders):
        return []  # no parcel at all yet: that is stalled tracking's case
    done: dict[str, int] = {}
    for package in order.packages:
        for line in package.line_items:
            done[line.line_item_id] = done.get(line.line_item_id, 0) + line.quantity
    return [(li.id, li.title, li.quantity - done.get(li.id, 0)) for li in order.line_items
            if li.quantity > done.get(li.id, 0)]


def _merge_package(known: Package, parcel: Package) -> None:
    if parcel.last_event_at and (known.last_event_at is None or parcel.last_event_at > known.last_event_at):
        known.last_event_at = parcel.last_event_at
    if not known.carrier and parcel.carrier:
        known.carrier = parcel.carrier
    if not known.tracking_url and parcel.tracking_url:
        known.tracking_url = parcel.tracking_url
    if not known.line_items and parcel.line_items:
        known.line_items = parcel.line_items


def _record(new: Order, ob: Observation, now: datetime) -> None:
    ae = next((a for a in new.ae_orders if a.ae_order_id == ob.ae_order_id), None)
    if ae is None:
        return
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
        else:
            _merge_package(known, parcel)


def apply_observations(order: Order, observations: Sequence[Observation], now: datetime, *,
                       disconnected: bool = False, stall_after: timedelta = STALL_AFTER) -> Order | None:
    """The order with AliExpress's news applied, or None when nothing changed (→ no write)."""
    if order.status not in SYNC_STATUSES or order.fulfilled_in_store:
        return None
    new = order.model_copy(deep=True)
    for ob in observations:
        _record(new, ob, now)

    states = {ae.ae_order_id: stored_state(ae) for ae in new.ae_orders}
    cancelled = [a for a in new.ae_orders if states[a.ae_order_id] is AeState.CANCELLED]
    if cancelled:
        new = transition(new, OrderStatus.FAILED, Event.ALIEXPRESS_CANCELLED, at=now)
        new.reason = cancelled_reason(cancelled[0])
        new.reason_code = CANCELLED_REASON_CODE
    elif new.status is OrderStatus.AWAITING_PAYMENT and states and all(s in PAID_OR_LATER for s in states.values()):
        new = transition(new, OrderStatus.AWAITING_SHIPMENT, Event.SELLER_PAID, at=now)

    attention: str | None = None
    if disconnected:
        attention = RECONNECT_ATTENTION
    else:
        odd = next((a for a in new.ae_orders if states[a.ae_order_id] is AeState.ATTENTION), None)
        if odd is not None:
            attention = needs_you_attention(odd)
        elif new.status in SYNC_STATUSES:
            attention = stalled(new, now, stall_after)
            if attention is None:
                missing = unshipped_items(new, waiting_for_numbers=any(ob.unnumbered for ob in observations))
                attention = unshipped_attention(missing) if missing else None
    if attention is not None:
        new.attention = attention
    elif owned_attention(new.attention):
        new.attention = None

    if new.model_dump() == order.model_dump():
        return None
    new.last_synced_at = now
    return new


# ---------------------------------------------------------------- the use case


@dataclass
class OrderSyncer:
    """Syncs one order: reads it, asks AliExpress, writes only what changed. Thread-safe."""

    orders: Orders
    accounts: Accounts
    links: Links | None = None
    _: KW_ONLY
    clock: Callable[[], datetime] = utcnow
    stall_after: timedelta = STALL_AFTER

    def sync(self, shop: str, order_id: str) -> SyncResult:
        order = self.orders.get(shop, order_id)
        if order is None or not waits_for_aliexpress(order):
            return SyncResult(shop, order_id, SyncOutcome.SKIPPED, order=order)
        now = self.clock()
        observations: list[Observation] = []
        result = SyncResult(shop, order_id, SyncOutcome.UNCHANGED, order=order)
        disconnected = False
        links = self._links_of(order)

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
                                      stall_after=self.stall_after)

        if change(order) is not None:
            mutation = self.orders.mutate(shop, order_id, change)
            result.order = mutation.order
            if mutation.written:
                result.outcome = SyncOutcome.CHANGED
        result.stalled = bool(result.order and is_stalled_attention(result.order.attention))
        if result.failed:
            result.outcome = SyncOutcome.FAILED
        return result

    def _links_of(self, order: Order) -> LinksOf:
        cache: dict[str, Link] | None = None

        def links() -> dict[str, Link]:
            nonlocal cache
            if cache is None:
                variants = [li.variant_id for li in order.line_items if li.variant_id]
                cache = self.links.batch_get(order.shop, variants) if self.links and variants else {}
            return cache

        return links

    def _observe(self, order: Order, ae: AeOrder, now: datetime, links: LinksOf, result: SyncResult) -> Observation:
        shop = order.shop
        result.calls += 1
        trade: TradeOrder = self.accounts.call(shop, lambda c, token: c.get_order(token, ae.ae_order_id))
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
            parcels = self.accounts.call(shop, lambda c, token: c.get_tracking(token, ae.ae_order_id))
            # What this AliExpress order's parcels already cover, so the next parcel of a merged SKU goes to
            # the line items still lacking it. A parcel recorded before keeps its lines.
            covered: dict[str, int] = {}
            for known in order.packages:
                if known.ae_order_id == ae.ae_order_id:
                    for line in known.line_items:
                        covered[line.line_item_id] = covered.get(line.line_item_id, 0) + line.quantity
            for parcel in parcels:
                if not parcel.mail_no.strip():
                    ob.unnumbered += 1
                    continue
                stored = order.package(parcel.mail_no.strip())
                package = observed_package(order, ae, parcel, now, links, None if stored else covered)
                if package is None:
                    continue
                ob.packages.append(package)
                if stored is None:
                    for line in package.line_items:
                        covered[line.line_item_id] = covered.get(line.line_item_id, 0) + line.quantity
        return ob
