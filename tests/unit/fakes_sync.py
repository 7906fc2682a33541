"""In-memory fakes for the sync's interfaces: AliExpress accounts with canned answers, the run store, the
work queue, the permit store, per-shop limits, and a clock whose sleep moves time (no moto, no network).

Each keeps the semantics of what it stands for (see the docstrings); `tests/unit/fakes.py` has the
repositories shared by every room (orders, shops, links).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from shared.aliexpress.errors import AliExpressError
from shared.aliexpress.models import TrackingPackage, TradeOrder
from shared.data.sync_runs import Counts, SyncRun
from shared.logic.accounts import AliExpressDisconnected
from shared.logic.order_sync import SyncOutcome, SyncResult
from shared.models.order import AeOrder, LineItem, Order, OrderStatus

T = TypeVar("T")

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------- AliExpress


class FakeAliExpress:
    """What AliExpress answers, per AliExpress order id: a raw status (+ child orders) and its parcels.

    Stands in for both `AliExpressAccounts` (`call(shop, fn)`) and the client `fn` receives
    (`get_order`, `get_tracking`). `fail[ae_id]` raises that AliExpressError; `disconnected` raises
    AliExpressDisconnected for every call, as the accounts do for a shop whose connection is gone.
    """

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.parcels: dict[str, list[dict[str, Any]]] = {}
        self.fail: dict[str, AliExpressError] = {}
        self.disconnected = False
        self.calls: Counter[str] = Counter()

    def set(self, ae_order_id: str, order_status: str, logistics_status: str | None = None, *,
            children: list[dict[str, Any]] | None = None, parcels: list[dict[str, Any]] | None = None) -> None:
        self.orders[ae_order_id] = {"order_status": order_status, "logistics_status": logistics_status,
                                    "child_order_list": children or []}
        if parcels is not None:
            self.parcels[ae_order_id] = parcels

    # -- AliExpressAccounts
    def call(self, shop: str, fn: Callable[[Any, str], T]) -> T:
        if self.disconnected:
            raise AliExpressDisconnected(shop)
        return fn(self, "token")

    # -- AliExpressClient
    def get_order(self, access_token: str, ae_order_id: str) -> TradeOrder:
        self.calls["get_order"] += 1
        if ae_order_id in self.fail:
            raise self.fail[ae_order_id]
        return TradeOrder.model_validate({"order_id": ae_order_id, **self.orders[ae_order_id]})

    def get_tracking(self, access_token: str, ae_order_id: str) -> list[TrackingPackage]:
        self.calls["get_tracking"] += 1
        return [TrackingPackage.model_validate(p) for p in self.parcels.get(ae_order_id, [])]


def transient(code: str = "isp.service-unavailable") -> AliExpressError:
    return AliExpressError(code, "try again later", "req-1")


def placed_order(order_id: str = "1001", *, status: OrderStatus = OrderStatus.AWAITING_PAYMENT,
                 ae_orders: list[AeOrder] | None = None, lines: list[LineItem] | None = None,
                 shop: str = "s") -> Order:
    """A store order placed on AliExpress (one AliExpress order "9<id>" over every line by default)."""
    line_items = lines or [LineItem(id=f"{order_id}-1", variant_id="v1", quantity=1)]
    return Order(shop=shop, order_id=order_id, name=f"#{order_id}", status=status,
                 created_at=T0 - timedelta(days=1), line_items=line_items,
                 ae_orders=ae_orders if ae_orders is not None else [AeOrder(ae_order_id=f"9{order_id}")])


# ---------------------------------------------------------------- runs


class InMemorySyncRuns:
    """Fake of `shared.data.sync_runs.SyncRunRepository`: each counter (the run's, each shop's) counts a
    unit once, so a redelivered message, or one that died half-way through counting, adds only what is
    missing; `pending` = the starter's count + every counted message's (children - 1)."""

    def __init__(self) -> None:
        self.runs: dict[str, SyncRun] = {}
        self.taken_over: dict[str, datetime] = {}
        self.deltas: dict[str, int] = Counter()
        self.counted: set[tuple[str, str, str]] = set()  # (run, counter, unit)
        self.fail_commit: Callable[[str, str], None] | None = None  # a test's crash, before counting

    def claim(self, run_id: str, *, kind: str, started_at: datetime, pending: int) -> bool:
        if run_id in self.runs:
            return False
        self.runs[run_id] = SyncRun(run_id=run_id, kind=kind, started_at=started_at, pending=pending)
        return True

    def take_over(self, run_id: str, *, claimed_before: datetime, now: datetime) -> bool:
        run = self.runs.get(run_id)
        if run is None or run.enqueued or run.started_at >= claimed_before:
            return False
        if run_id in self.taken_over and self.taken_over[run_id] >= claimed_before:
            return False
        self.taken_over[run_id] = now
        return True

    def mark_enqueued(self, run_id: str) -> None:
        self.runs[run_id].enqueued = True

    def commit(self, run_id: str, unit_id: str, counts: Counts, by_shop: dict[str, Counts], *,
               pending_delta: int, now: datetime) -> tuple[bool, int]:
        if self.fail_commit is not None:
            self.fail_commit(run_id, unit_id)
        run = self.runs[run_id]
        for shop, values in sorted(by_shop.items()):
            if values.nonzero() and (run_id, f"SHOP#{shop}", unit_id) not in self.counted:
                self.counted.add((run_id, f"SHOP#{shop}", unit_id))
                run.shops.setdefault(shop, Counts()).add(values)
        if (run_id, "CNT", unit_id) in self.counted:
            return False, self.pending(run_id)
        self.counted.add((run_id, "CNT", unit_id))
        run.totals.add(counts)
        self.deltas[run_id] += pending_delta
        return True, self.pending(run_id)

    def pending(self, run_id: str) -> int:
        return self.runs[run_id].pending + self.deltas[run_id]

    def finish_if_done(self, run_id: str, now: datetime, pending: int | None = None) -> bool:
        run = self.runs.get(run_id)
        if run is None or run.ended_at is not None or (pending if pending is not None else self.pending(run_id)) > 0:
            return False
        run.ended_at = now
        return True

    def get(self, run_id: str) -> SyncRun | None:
        run = self.runs.get(run_id)
        return run.model_copy(deep=True, update={"pending": self.pending(run_id)}) if run else None


class InMemoryQueue:
    """Fake of `shared.data.sync_runs.SyncQueue`: messages kept as the JSON bodies SQS would carry."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, messages: Sequence[dict[str, Any]]) -> None:
        self.bodies += [json.dumps(m, separators=(",", ":")) for m in messages]

    def take(self) -> str | None:
        return self.bodies.pop(0) if self.bodies else None


@dataclass
class ScriptedSyncer:
    """A syncer answering from a script: outcome per (shop, order id), CHANGED unless told otherwise; the
    result carries the stored order when given the orders it reads (`orders`), as OrderSyncer's does."""

    outcomes: dict[tuple[str, str], SyncOutcome] = field(default_factory=dict)
    stalled: set[tuple[str, str]] = field(default_factory=set)
    orders: Any = None
    synced: list[tuple[str, str]] = field(default_factory=list)

    def sync(self, shop: str, order_id: str) -> SyncResult:
        self.synced.append((shop, order_id))
        outcome = self.outcomes.get((shop, order_id), SyncOutcome.CHANGED)
        order = self.orders.get(shop, order_id) if self.orders is not None else None
        return SyncResult(shop, order_id, outcome, order=order, failed=outcome is SyncOutcome.FAILED,
                          stalled=(shop, order_id) in self.stalled)


# ---------------------------------------------------------------- time, permits and limits


class FakeClock:
    """Epoch seconds that only move when someone sleeps (or the test says so)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InMemoryPermits:
    """Fake of `shared.data.rate_budget.RateBudgetStore`: a counter per window, never past the cap; a
    counter lagging behind `not_before` skips the past indices instead of handing them out."""

    def __init__(self) -> None:
        self.used: Counter[int] = Counter()
        self.calls = 0

    def take(self, second: int, wanted: int, cap: int, not_before: int = 0) -> range:
        self.calls += 1
        start = max(self.used[second], not_before)
        end = min(cap, start + wanted)
        if end <= start:
            return range(0)
        self.used[second] = end
        return range(start, end)


class InMemoryInterval:
    """Fake of `shared.data.rate_budget.IntervalGate`: one pass per shop per interval."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def pass_once(self, shop: str, now: float, min_interval: float) -> float:
        last = self.last.get(shop)
        if last is not None and last > now - min_interval:
            return max(1.0, last + min_interval - now)
        self.last[shop] = now
        return 0.0


class InMemoryWindowLimit:
    """Fake of `shared.data.rate_budget.WindowLimit`: at most `cap` passes per key per window."""

    def __init__(self, window_seconds: int = 60) -> None:
        self.window_seconds = window_seconds
        self.used: Counter[tuple[str, int]] = Counter()

    def pass_once(self, key: str, now: float, cap: int) -> float:
        window = math.floor(now / self.window_seconds)
        if self.used[(key, window)] >= cap:
            return (window + 1) * self.window_seconds - now
        self.used[(key, window)] += 1
        return 0.0
