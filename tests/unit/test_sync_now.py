"""The "sync now" use case over fakes: per-shop limits (LimitReached with the wait), unknown and
not-waiting orders, a small shop synced inline, a big one queued as its own run, no queue → Unavailable.
The HTTP answers (429 + Retry-After, 409 + order_status, 202) are in tests/sync/test_sync_now_api.py."""

from __future__ import annotations

import pytest

from shared.logic.order_sync import SyncOutcome
from shared.logic.sync_now import INLINE_MAX, ORDER_SYNCS_PER_MINUTE, SHOP_SYNC_INTERVAL_S, SyncNow, SyncNowLimits
from shared.logic.sync_runs import RunDeps, parse_message
from shared.models.errors import Conflict, LimitReached, NotFound, Unavailable
from shared.models.order import OrderStatus
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_sync import (
    T0,
    FakeClock,
    InMemoryInterval,
    InMemoryQueue,
    InMemorySyncRuns,
    InMemoryWindowLimit,
    ScriptedSyncer,
    placed_order,
)


class World:
    def __init__(self, *, queued: bool = True, limits: SyncNowLimits = SyncNowLimits()) -> None:
        self.orders = InMemoryOrders()
        self.syncer = ScriptedSyncer(orders=self.orders)
        self.clock = FakeClock(6000.0)  # minute 100, second 0
        self.interval = InMemoryInterval()
        self.per_minute = InMemoryWindowLimit()
        self.runs = InMemorySyncRuns()
        self.queue = InMemoryQueue()
        run_deps = RunDeps(orders=self.orders, runs=self.runs, queue=self.queue, syncer=None, shards=0,
                           clock=lambda: T0)
        self.sync_now = SyncNow(self.orders, self.syncer, self.interval, self.per_minute,
                                run_deps if queued else None, limits=limits, clock=self.clock)

    def add(self, n: int, shop: str = "a", **options: object) -> list[str]:
        ids = [str(1000 + len(self.orders.all()) + i) for i in range(n)]
        for order_id in ids:
            self.orders.add(placed_order(order_id, shop=shop, **options))  # type: ignore[arg-type]
        return ids


def test_the_defaults() -> None:
    limits = SyncNowLimits()
    assert (limits.shop_sync_interval_s, limits.order_syncs_per_minute, limits.inline_max) == (
        SHOP_SYNC_INTERVAL_S, ORDER_SYNCS_PER_MINUTE, INLINE_MAX) == (600, 30, 5)


def test_sync_one_order_answers_with_the_new_state() -> None:
    w = World()
    (order_id,) = w.add(1)
    synced = w.sync_now.sync_order("a", order_id)
    assert synced.outcome is SyncOutcome.CHANGED and not synced.failed and synced.error is None
    assert synced.order.order_id == order_id
    assert w.syncer.synced == [("a", order_id)]


def test_unknown_order_is_not_found_and_not_waiting_is_a_conflict() -> None:
    w = World()
    with pytest.raises(NotFound) as missing:
        w.sync_now.sync_order("a", "999")
    assert missing.value.what == "order 999"
    (done,) = w.add(1, status=OrderStatus.FAILED)
    w.syncer.outcomes[("a", done)] = SyncOutcome.SKIPPED
    with pytest.raises(Conflict) as conflict:
        w.sync_now.sync_order("a", done)
    assert conflict.value.details == {"order_status": "failed"}
    assert "not waiting for AliExpress" in conflict.value.message


def test_single_order_syncs_are_limited_per_shop_and_minute() -> None:
    w = World(limits=SyncNowLimits(order_syncs_per_minute=2))
    (order_id,) = w.add(1)
    w.clock.advance(15)
    w.sync_now.sync_order("a", order_id)
    w.sync_now.sync_order("a", order_id)
    with pytest.raises(LimitReached) as limited:
        w.sync_now.sync_order("a", order_id)
    assert "limited to 2 orders a minute" in limited.value.message
    assert limited.value.retry_after == pytest.approx(45)  # the next minute
    assert len(w.syncer.synced) == 2  # refused before any AliExpress call
    # Another shop has its own allowance (its order is unknown: 404, not 429).
    with pytest.raises(NotFound):
        w.sync_now.sync_order("other", "1")
    w.clock.advance(45)
    w.sync_now.sync_order("a", order_id)  # a new minute


def test_a_small_shop_is_synced_inline_then_limited() -> None:
    w = World()
    paid, unchanged = w.add(2)
    w.syncer.outcomes[("a", unchanged)] = SyncOutcome.UNCHANGED
    w.syncer.stalled.add(("a", unchanged))
    w.add(1, shop="b")  # another shop's order is not touched
    synced = w.sync_now.sync_shop("a")
    assert synced.mode == "inline" and synced.orders == 2
    assert synced.counts.model_dump() == {"examined": 2, "changed": 1, "failed": 0, "stalled": 1}
    assert sorted(w.syncer.synced) == [("a", paid), ("a", unchanged)]
    w.clock.advance(120)
    with pytest.raises(LimitReached) as limited:
        w.sync_now.sync_shop("a")
    assert "minutes ago" in limited.value.message and "try again in 8 minute(s)" in limited.value.message
    assert limited.value.retry_after == pytest.approx(480)
    assert w.sync_now.sync_shop("b").orders == 1  # per shop
    w.clock.advance(480)
    assert w.sync_now.sync_shop("a").mode == "inline"


def test_only_orders_waiting_for_aliexpress_are_synced() -> None:
    w = World()
    waiting = w.add(1) + w.add(1, status=OrderStatus.AWAITING_SHIPMENT)
    w.add(1, status=OrderStatus.FULFILLED)
    w.add(1, status=OrderStatus.AWAITING_ORDER, ae_orders=[])
    w.add(1, ae_orders=[])  # awaiting payment, but nothing placed on AliExpress
    fulfilled_by_hand = placed_order("77", shop="a", status=OrderStatus.AWAITING_SHIPMENT)
    w.orders.add(fulfilled_by_hand.model_copy(update={"fulfilled_in_store": True}))
    synced = w.sync_now.sync_shop("a")
    assert synced.counts.examined == 2 and sorted(oid for _, oid in w.syncer.synced) == sorted(waiting)


def test_a_big_shop_is_queued_as_its_own_run_over_every_page() -> None:
    w = World()
    ids = w.add(INLINE_MAX + 120)  # more than a page of the tab (LIST_PAGE)
    synced = w.sync_now.sync_shop("a")
    assert synced.mode == "queued" and synced.orders == len(ids) and synced.messages == 13
    assert w.syncer.synced == []  # nothing synced within the request
    keys = [k for body in w.queue.bodies for k in parse_message(body).keys]  # type: ignore[union-attr]
    assert sorted(oid for _, oid in keys) == sorted(ids)
    run = w.runs.get(synced.run_id)
    assert run is not None and run.kind == "sync_now" and run.pending == 13 and run.enqueued
    assert synced.run_id.startswith("now-a-")


def test_no_queue_means_a_big_shop_cannot_be_synced_now() -> None:
    w = World(queued=False)
    w.add(INLINE_MAX + 1)
    with pytest.raises(Unavailable):
        w.sync_now.sync_shop("a")
    small = World(queued=False)
    small.add(INLINE_MAX)
    assert small.sync_now.sync_shop("a").mode == "inline"  # a small shop needs no queue
