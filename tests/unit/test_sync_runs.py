"""Runs and messages over fakes: one run per slot, the fan-out over shards and pages, counting each message
once, the run's end, handing the rest on when out of time, parsing. SQS and DynamoDB's conditional writes,
and workers dying for real, are in tests/sync/test_runs.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from functions.sync_status.app import scheduled_time
from shared.logic.order_sync import SyncOutcome
from shared.logic.sync_runs import (
    OrdersMessage,
    RunDeps,
    ShardMessage,
    parse_message,
    process_message,
    slot_of,
    start_scheduled_run,
    start_shop_run,
)
from shared.models.order import OrderStatus
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_sync import T0, InMemoryQueue, InMemorySyncRuns, ScriptedSyncer, placed_order

SLOT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def deps(shards: int = 4, orders: InMemoryOrders | None = None, **options: int) -> RunDeps:
    return RunDeps(orders=orders or InMemoryOrders(sync_shards=shards), runs=InMemorySyncRuns(),
                   queue=InMemoryQueue(), syncer=ScriptedSyncer(), shards=shards, clock=Clock(), **options)


def runs(d: RunDeps) -> InMemorySyncRuns:
    assert isinstance(d.runs, InMemorySyncRuns)
    return d.runs


def queue(d: RunDeps) -> InMemoryQueue:
    assert isinstance(d.queue, InMemoryQueue)
    return d.queue


def next_body(d: RunDeps) -> str:
    body = queue(d).take()
    assert body is not None, "the queue is empty"
    return body


def drain(d: RunDeps) -> Iterator[ShardMessage | OrdersMessage]:
    while (body := queue(d).take()) is not None:
        message = parse_message(body)
        process_message(d, message)
        yield message


def with_orders(n: int, shards: int = 4, shops: int = 2) -> InMemoryOrders:
    orders = InMemoryOrders(sync_shards=shards)
    for i in range(n):
        orders.add(placed_order(str(1000 + i), shop=f"shop-{i % shops}"))
    orders.add(placed_order("1", shop="shop-0", status=OrderStatus.FULFILLED))  # not a candidate
    return orders


def test_slot_and_scheduled_time() -> None:
    assert slot_of(SLOT) == "2026-11-26T12:00"
    assert slot_of(datetime(2026, 11, 26, 13, 0, 59, tzinfo=UTC)) == "2026-11-26T13:00"
    now = datetime(2026, 11, 26, 13, 45, tzinfo=UTC)
    assert scheduled_time({}, now) == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert scheduled_time({"scheduled_time": "<aws.scheduler.scheduled-time>"}, now).hour == 12
    assert scheduled_time({"scheduled_time": "2026-11-26T00:00:00Z"}, now).hour == 0
    assert scheduled_time({"time": "2026-11-27T00:00:00Z"}, now).day == 27
    assert scheduled_time({}, datetime(2026, 11, 26, 3, 0, tzinfo=UTC)).hour == 0


def test_the_slot_runs_once_and_enqueues_one_message_per_shard() -> None:
    d = deps(shards=4)
    first = start_scheduled_run(d, SLOT)
    assert (first.run_id, first.started, first.messages) == ("2026-11-26T12:00", True, 4)
    assert [parse_message(b) for b in queue(d).bodies] == [
        ShardMessage(run="2026-11-26T12:00", unit=f"s{i}", since=T0, shard=i) for i in range(4)]
    again = start_scheduled_run(d, SLOT)
    assert not again.started and again.messages == 0 and len(queue(d).bodies) == 4
    run = d.runs.get("2026-11-26T12:00")
    assert run is not None and run.enqueued and run.pending == 4 and run.kind == "scheduled"


def test_a_starter_that_died_before_enqueuing_is_taken_over_later() -> None:
    d = deps(shards=2)
    clock = d.clock
    assert isinstance(clock, Clock)
    d.runs.claim("2026-11-26T12:00", kind="scheduled", started_at=T0, pending=2)  # claimed, then died
    clock.now = T0 + timedelta(minutes=1)
    assert not start_scheduled_run(d, SLOT).started  # too soon: the starter may still be working
    clock.now = T0 + timedelta(minutes=6)
    report = start_scheduled_run(d, SLOT)
    assert report.started and report.messages == 2
    assert {parse_message(b).since for b in queue(d).bodies} == {T0}  # the run's own start
    assert not start_scheduled_run(d, SLOT).started  # enqueued now: never twice


def test_a_whole_run_examines_every_candidate_once_and_ends() -> None:
    orders = with_orders(23)
    d = deps(shards=4, orders=orders, keys_per_message=3, shard_page=5)
    start_scheduled_run(d, SLOT)
    handled = list(drain(d))
    syncer = d.syncer
    assert isinstance(syncer, ScriptedSyncer)
    assert sorted(syncer.synced) == sorted((o.shop, o.order_id) for o in orders.all() if o.order_id != "1")
    assert all(len(m.keys) <= 3 for m in handled if isinstance(m, OrdersMessage))
    assert any(m.cursor for m in handled if isinstance(m, ShardMessage))  # a shard longer than a page
    run = d.runs.get("2026-11-26T12:00")
    assert run is not None and run.ended_at == T0 and run.pending == 0
    assert run.totals.examined == 23 == run.totals.changed and run.totals.failed == 0
    assert {s: c.examined for s, c in run.shops.items()} == {"shop-0": 12, "shop-1": 11}


def test_counts_failed_and_stalled_per_shop() -> None:
    d = deps(shards=1)
    syncer = d.syncer
    assert isinstance(syncer, ScriptedSyncer)
    syncer.outcomes = {("a", "1"): SyncOutcome.FAILED, ("a", "2"): SyncOutcome.UNCHANGED,
                       ("b", "3"): SyncOutcome.SKIPPED}
    syncer.stalled = {("a", "2")}
    run_id, messages = start_shop_run(d, "a", [("a", "1"), ("a", "2"), ("b", "3"), ("b", "4")])
    assert messages == 1
    report = process_message(d, parse_message(next_body(d)))
    assert report.counts.model_dump() == {"examined": 4, "changed": 1, "failed": 1, "stalled": 1}
    assert report.run_ended and report.counted and report.enqueued == 0
    run = d.runs.get(run_id)
    assert run is not None and run.kind == "sync_now" and run.ended_at is not None
    assert run.shops["a"].model_dump() == {"examined": 2, "changed": 0, "failed": 1, "stalled": 1}
    assert run.shops["b"].model_dump() == {"examined": 2, "changed": 1, "failed": 0, "stalled": 0}


def test_a_redelivered_message_is_counted_once() -> None:
    d = deps(shards=1)
    run_id, _ = start_shop_run(d, "a", [("a", "1"), ("a", "2")])
    body = next_body(d)
    first = process_message(d, parse_message(body))
    again = process_message(d, parse_message(body))  # SQS delivered it twice
    assert first.counted and not again.counted
    run = d.runs.get(run_id)
    assert run is not None and run.totals.examined == 2 and run.pending == 0 and run.ended_at is not None
    assert first.run_ended and not again.run_ended  # the end is recorded once


def test_a_message_that_died_uncounted_still_counts_what_its_first_delivery_changed() -> None:
    orders = InMemoryOrders()
    order = orders.add(placed_order("1", shop="a"))
    d = deps(shards=1, orders=orders)
    run_id, _ = start_shop_run(d, "a", [("a", "1")])
    body = next_body(d)

    def crash(run: str, unit: str) -> None:
        raise RuntimeError("the worker died before counting")

    runs(d).fail_commit = crash
    with pytest.raises(RuntimeError):
        process_message(d, parse_message(body))  # it wrote the order, then died
    runs(d).fail_commit = None
    orders.add(order.model_copy(update={"last_synced_at": T0 + timedelta(seconds=5)}))
    # The redelivery finds nothing new (UNCHANGED), but the order was changed by this run: counted changed.
    d.syncer = ScriptedSyncer(outcomes={("a", "1"): SyncOutcome.UNCHANGED}, orders=orders)
    report = process_message(d, parse_message(body))
    assert report.counts.changed == 1 and report.counted
    run = d.runs.get(run_id)
    assert run is not None and run.totals.changed == 1 and run.ended_at is not None
    # An order synced before the run started is not counted as changed by it.
    earlier = deps(shards=1, orders=orders)
    assert isinstance(earlier.clock, Clock)
    earlier.clock.now = T0 + timedelta(minutes=1)
    earlier.syncer = ScriptedSyncer(outcomes={("a", "1"): SyncOutcome.UNCHANGED}, orders=orders)
    start_shop_run(earlier, "a", [("a", "1")])
    assert process_message(earlier, parse_message(next_body(earlier))).counts.changed == 0


def test_out_of_time_hands_the_rest_on_but_always_takes_one() -> None:
    d = deps(shards=1)
    keys = [("a", str(i)) for i in range(5)]
    run_id, _ = start_shop_run(d, "a", keys)
    body = next_body(d)
    left = iter([100.0, 100.0, 5.0])
    report = process_message(d, parse_message(body), lambda: next(left))
    assert report.counts.examined == 3 and report.enqueued == 1
    rest = parse_message(queue(d).bodies[0])
    assert isinstance(rest, OrdersMessage) and rest.keys == keys[3:] and rest.unit == "n/0+3"
    none_left = process_message(d, parse_message(next_body(d)), lambda: 0.0)
    assert none_left.counts.examined == 1 and none_left.enqueued == 1  # the first order is always taken
    list(drain(d))
    run = d.runs.get(run_id)
    assert run is not None and run.totals.examined == 5 and run.ended_at is not None


def test_an_empty_shard_ends_the_run() -> None:
    d = deps(shards=2)
    start_scheduled_run(d, SLOT)
    handled = list(drain(d))
    assert len(handled) == 2
    run = d.runs.get("2026-11-26T12:00")
    assert run is not None and run.ended_at is not None and run.totals.examined == 0


def test_order_messages_need_a_syncer() -> None:
    d = deps()
    d.syncer = None
    start_shop_run(d, "a", [("a", "1")])
    with pytest.raises(RuntimeError, match="OrderSyncer"):
        process_message(d, parse_message(next_body(d)))


@pytest.mark.parametrize("body", ["[1]", '"x"', '{"kind": "orders", "run": "r"}', '{"kind": "shard", "run": "r"}'])
def test_malformed_messages_are_refused(body: str) -> None:
    with pytest.raises(ValueError):
        parse_message(body)


def test_messages_round_trip() -> None:
    shard = ShardMessage(run="r", unit="s1@abc", since=T0, shard=1, cursor={"sync_pk": "SYNC#001", "n": 3})
    assert parse_message(shard.model_dump_json()) == shard
    orders = OrdersMessage(run="r", unit="s1/0", since=T0, keys=[("a", "1")])
    assert parse_message(orders.model_dump_json()) == orders
