"""Sync now: the seller asks for AliExpress news of one order, or of a whole shop, right away.

Both spend the fleet's AliExpress rate budget (the same counter the scheduled sync uses), and each shop has
its own limits so one shop cannot starve the others: `shop_sync_interval_s` between whole-shop syncs,
`order_syncs_per_minute` single-order syncs. Over a limit → `LimitReached` (with the seconds to wait).
A shop with at most `inline_max` orders waiting is synced within the request; a bigger one is queued as a
run of its own (`start_shop_run`), handled by the sync workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Protocol

from shared.data.sync_runs import Counts
from shared.lifecycle import SYNC_STATUSES
from shared.logic.order_sync import Syncer, SyncOutcome
from shared.logic.sync_runs import RunDeps, start_shop_run
from shared.models.errors import Conflict, LimitReached, NotFound, Unavailable
from shared.models.order import Order, OrderStatus
from shared.observability import logger

if TYPE_CHECKING:
    from shared.data.orders import OrderPage

SHOP_SYNC_INTERVAL_S = 600
ORDER_SYNCS_PER_MINUTE = 30
INLINE_MAX = 5  # a shop with at most this many orders waiting is synced within the request
LIST_PAGE = 100


class ShopOrders(Protocol):
    def list_orders(self, shop: str, status: OrderStatus | None = None, *, limit: int = 50,
                    cursor: str | None = None) -> OrderPage: ...


class ShopInterval(Protocol):
    """At most one pass per shop per interval (shared.data.rate_budget.IntervalGate)."""

    def pass_once(self, shop: str, now: float, min_interval: float) -> float: ...


class ShopWindowLimit(Protocol):
    """At most `cap` passes per shop per window (shared.data.rate_budget.WindowLimit)."""

    def pass_once(self, key: str, now: float, cap: int) -> float: ...


@dataclass(frozen=True)
class SyncNowLimits:
    shop_sync_interval_s: int = SHOP_SYNC_INTERVAL_S
    order_syncs_per_minute: int = ORDER_SYNCS_PER_MINUTE
    inline_max: int = INLINE_MAX


@dataclass(frozen=True)
class OrderSyncedNow:
    outcome: SyncOutcome
    failed: bool
    error: str | None
    order: Order


@dataclass(frozen=True)
class ShopSyncedNow:
    mode: str  # "inline": synced within the request (counts); "queued": a run of its own (run_id)
    orders: int
    counts: Counts = field(default_factory=Counts)
    run_id: str = ""
    messages: int = 0


@dataclass
class SyncNow:
    """The "sync now" use case. `queued` is None when this function has no sync queue (→ Unavailable)."""

    orders: ShopOrders
    syncer: Syncer
    shop_interval: ShopInterval
    order_limit: ShopWindowLimit
    queued: RunDeps | None
    _: KW_ONLY
    limits: SyncNowLimits = field(default_factory=lambda: SyncNowLimits())
    clock: Callable[[], float] = time.time

    def sync_order(self, shop: str, order_id: str) -> OrderSyncedNow:
        per_minute = self.limits.order_syncs_per_minute
        wait = self.order_limit.pass_once(shop, self.clock(), per_minute)
        if wait > 0:
            raise LimitReached(f"Sync now is limited to {per_minute} orders a minute per shop; "
                               "try again in a minute.", retry_after=wait)
        result = self.syncer.sync(shop, order_id)
        if result.order is None:
            raise NotFound.order(order_id)
        if result.outcome is SyncOutcome.SKIPPED:
            raise Conflict("This order is not waiting for AliExpress news (not placed yet, or already done).",
                           order_status=result.order.status.value)
        logger.info("sync now (order)", extra={"shop": shop, "order_id": order_id, "outcome": result.outcome.value})
        return OrderSyncedNow(result.outcome, result.failed, result.error, result.order)

    def sync_shop(self, shop: str) -> ShopSyncedNow:
        interval = self.limits.shop_sync_interval_s
        wait = self.shop_interval.pass_once(shop, self.clock(), interval)
        if wait > 0:
            raise LimitReached(f"This shop was synced less than {interval // 60} minutes ago; "
                               f"try again in {math.ceil(wait / 60)} minute(s).", retry_after=wait)
        keys = self._waiting_keys(shop)
        if len(keys) <= self.limits.inline_max:
            totals = Counts()
            for _, order_id in keys:
                result = self.syncer.sync(shop, order_id)
                totals.examined += 1
                totals.changed += result.outcome is SyncOutcome.CHANGED
                totals.failed += result.failed
                totals.stalled += result.stalled
            return ShopSyncedNow("inline", orders=len(keys), counts=totals)
        if self.queued is None:
            raise Unavailable("Sync now for a whole shop is not available right now.")
        run_id, messages = start_shop_run(self.queued, shop, keys)
        logger.info("sync now (shop) queued", extra={"shop": shop, "run_id": run_id, "orders": len(keys)})
        return ShopSyncedNow("queued", orders=len(keys), run_id=run_id, messages=messages)

    def _waiting_keys(self, shop: str) -> list[tuple[str, str]]:
        """Every order of the shop waiting for AliExpress news, tab by tab."""
        keys: list[tuple[str, str]] = []
        for status in sorted(SYNC_STATUSES):
            cursor: str | None = None
            while True:
                page = self.orders.list_orders(shop, status, limit=LIST_PAGE, cursor=cursor)
                keys += [(shop, o.order_id) for o in page.orders if o.ae_orders and not o.fulfilled_in_store]
                cursor = page.cursor
                if not cursor:
                    break
        return keys
