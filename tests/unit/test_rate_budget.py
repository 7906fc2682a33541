"""The rate budget's schedule over fake clocks and an in-memory slot store: never more than R calls in any
sliding second (with late wake-ups too), the schedule used to ≥ 0.95 R by a fleet, batches that cut the
store's writes, lagging lanes that skip the past instead of bursting, stale views corrected by one refusal.
Fleets run on a virtual clock (tests/unit/budget_fleet.py): counted, never timed. The DynamoDB store and real
threads are in tests/sync/test_rate_budget.py."""

from __future__ import annotations

import math
import random
from itertools import pairwise
from typing import Any

import pytest

from shared.logic.rate_budget import RateBudget
from tests.unit.budget_fleet import run_fleet
from tests.unit.fakes_sync import FakeClock, InMemorySlots


def budget(rate: float, clock: FakeClock, store: InMemorySlots | None = None, **options: Any) -> RateBudget:
    return RateBudget(store or InMemorySlots(), rate, clock=clock, sleep=clock.sleep,  # type: ignore[arg-type]
                      **options)


def calls(b: RateBudget, clock: FakeClock, n: int) -> list[float]:
    stamps = []
    for _ in range(n):
        b.acquire("aliexpress.trade.ds.order.get")
        stamps.append(clock())
    return stamps


@pytest.mark.parametrize(("rate", "headroom", "window", "paced"), [
    (20, 0, 20, 19.5), (50, 0, 50, 49.5), (20, 0.1, 18, 17.5), (20, 0.25, 15, 14.5), (2, 0, 2, 1.5),
    (1, 0, 1, 0.5), (0.5, 0, 1, 0.5), (100, 0, 100, 100 / 1.01), (500, 0, 500, 500 / 1.01)])
def test_the_schedule_keeps_half_a_call_and_the_headroom_in_reserve(rate: float, headroom: float, window: int,
                                                                    paced: float) -> None:
    b = budget(rate, FakeClock(), headroom=headroom)
    assert b.window_calls == window and b.rate == pytest.approx(paced)
    # window + 1 consecutive slots span more than a second: the slack, half of it for a late wake-up.
    assert b.slack == pytest.approx(window / paced - 1) and b.slack >= 0.01 - 1e-9
    assert b.late_tolerance == pytest.approx(b.slack / 2)
    assert b.lanes * b.spacing == pytest.approx(b.stride) and 1 <= b.lanes <= RateBudget.MAX_LANES
    if window <= RateBudget.MAX_LANES:
        assert b.lanes == window and b.stride == pytest.approx(1 + b.slack)  # a lane: one slot a second + slack


@pytest.mark.parametrize("rate", [0, -1])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        budget(rate, FakeClock())


def test_one_caller_gets_the_next_free_slots_on_the_schedule() -> None:
    clock = FakeClock(1000.0)
    b = budget(20, clock)
    stamps = calls(b, clock, 60)
    # Each call is on a slot of the grid (k / rate), never two on one, and no sliding second holds R + 1.
    grid = [t * b.rate for t in stamps]
    assert all(abs(k - round(k)) < 1e-6 for k in grid) and len({round(k) for k in grid}) == 60
    assert min(later - earlier for earlier, later in pairwise(stamps)) >= b.spacing - 1e-9
    assert all(stamps[i + 20] - stamps[i] > 1.0 for i in range(len(stamps) - 20))
    assert b.stats.used == 60 and b.stats.wasted == 0 and b.stats.waited_s > 0


def test_a_lagging_lane_skips_the_past_instead_of_bursting() -> None:
    clock = FakeClock(1000.5)
    store = InMemorySlots()
    b = budget(20, clock, store)
    grid = b.grid
    store.counters[grid] = {lane: 100 for lane in range(b.lanes)}  # last used long ago
    stamps = calls(b, clock, 5)
    assert all(t >= 1000.5 for t in stamps)  # nothing from the past handed out
    assert all(b.slot_time(lane, q) >= 1000.5 for _, lane, q in store.handed)
    assert min(later - earlier for earlier, later in pairwise(stamps)) >= b.spacing - 1e-9


def test_a_stale_view_costs_one_refusal_and_never_a_shared_slot() -> None:
    clock = FakeClock(1000.0)
    store = InMemorySlots()
    b = budget(20, clock, store)
    other = budget(20, clock, store)
    b.acquire()
    # Another container takes every lane just before this one's next write lands: this view is now stale.

    def another_container_takes_every_lane() -> None:
        for _ in range(b.lanes):
            other.acquire()

    store.before_write = another_container_takes_every_lane
    b.acquire()
    assert store.refused >= 1
    slots = [(lane, q) for _, lane, q in store.handed]
    assert len(slots) == len(set(slots))  # every slot handed out once


def test_an_overslept_permit_is_dropped() -> None:
    clock = FakeClock(1000.0)
    late = {"by": 0.2}

    def sleepy(seconds: float) -> None:  # the first wake-up comes 0.2 s late (a busy container)
        clock.sleep(seconds + late["by"])
        late["by"] = 0.0

    b = RateBudget(InMemorySlots(), 20, clock=clock, sleep=sleepy)
    b.acquire()
    b.acquire()
    assert b.stats.wasted >= 1 and b.stats.used == 2
    assert b.stats.max_late_s <= b.late_tolerance


def test_booked_beyond_the_horizon_waits_until_it_comes_within() -> None:
    clock = FakeClock(1000.0)
    store = InMemorySlots()
    b = budget(20, clock, store, horizon=5.0)
    ahead = b.lanes * math.ceil(1030 * b.rate / b.lanes)  # every lane booked until about 1030
    store.counters[b.grid] = {lane: ahead // b.lanes for lane in range(b.lanes)}
    b.acquire()
    assert clock() >= 1029.0 and b.stats.used == 1


def test_the_budget_is_the_clients_before_call_hook() -> None:
    clock = FakeClock(1000.0)
    store = InMemorySlots()
    b = budget(20, clock, store)
    for _ in range(3):
        b("aliexpress.ds.order.tracking.get")
    assert b.stats.used == 3 and len(store.handed) >= 3
    assert b.stats.store_calls == store.calls + store.reads and b.stats.refused == store.refused


def test_headroom_lowers_the_calls_in_any_second() -> None:
    clock = FakeClock(1000.0)
    b = budget(20, clock, headroom=0.25)
    stamps = calls(b, clock, 40)
    assert all(stamps[i + 15] - stamps[i] > 1.0 for i in range(len(stamps) - 15))


# ---------------------------------------------------------------- fleets on a virtual clock


def test_a_fleet_uses_the_schedule_to_at_least_095_r() -> None:
    fleet = run_fleet(20, 24, 60, gap=lambda rng: rng.uniform(0.15, 0.45))
    assert len(fleet.stamps) >= 0.95 * 20 * 60
    assert fleet.max_in_window() <= 20


def test_a_fleet_at_r_50_uses_the_schedule_to_at_least_095_r() -> None:
    fleet = run_fleet(50, 60, 30, gap=lambda rng: rng.uniform(0.15, 0.45))
    assert len(fleet.stamps) >= 0.95 * 50 * 30
    assert fleet.max_in_window() <= 50


def test_no_lane_ever_has_two_calls_in_a_sliding_second() -> None:
    fleet = run_fleet(20, 24, 60, gap=lambda rng: rng.uniform(0.15, 0.45))
    b = fleet.budgets[0]
    by_lane: dict[int, list[float]] = {}
    for t in fleet.stamps:  # a call is at most the late tolerance (under half a slot) after its slot
        by_lane.setdefault(math.floor(t * b.rate + 1e-6) % b.lanes, []).append(t)
    assert len(by_lane) == b.lanes == 20
    assert min(later - earlier for times in by_lane.values() for earlier, later in pairwise(times)) > 1.0


def test_a_run_of_messages_ends_close_to_the_schedule() -> None:
    # Containers take messages of 10 to 20 calls until none is left (a sync run): the last ones are not held
    # back (the budget's share is even, so the last messages end together) and batches left over by
    # containers that ran out of work cost little.
    rng = random.Random(3)
    messages = [sum(1 + (rng.random() < 0.2) for _ in range(10)) for _ in range(120)]
    fleet = run_fleet(20, 24, 300, gap=lambda rng: rng.uniform(0.15, 0.45), messages=messages)
    assert len(fleet.stamps) == sum(messages)
    assert fleet.end - fleet.start <= sum(messages) / fleet.budgets[0].rate + 2.5
    assert fleet.store.calls + fleet.store.reads < 0.9 * len(fleet.stamps)


def test_one_slot_at_a_time_when_callers_do_not_queue() -> None:
    fleet = run_fleet(20, 3, 30, gap=lambda _: 0.2)  # 3 containers want about 14 calls a second of 19.5
    assert all(b.stats.batches == b.stats.permits > 100 for b in fleet.budgets)
    assert fleet.wasted == 0


def test_a_slow_store_is_not_taken_for_a_queue() -> None:
    # Each store call takes 0.5 s: a lone container waits for answers, not for the budget, so no batches (a
    # stride apart they would slow it down), and once it knows the answer time no slot it takes is already
    # past when the answer comes (the first one, before, may be).
    fleet = run_fleet(20, 1, 60, gap=lambda _: 0.2, answer_time=0.5)
    b = fleet.budgets[0]
    assert b.stats.batches == b.stats.permits > 20 and b.stats.late_answers <= 1


def test_batches_cut_the_store_writes_below_half_a_call() -> None:
    fleet = run_fleet(20, 24, 60, gap=lambda rng: rng.uniform(0.15, 0.45))
    assert fleet.store.calls < 0.5 * fleet.used
    assert fleet.store.refused < 0.1 * fleet.used
    assert sum(b.stats.batches for b in fleet.budgets) < fleet.store.calls + 1
    slots = [(lane, q) for _, lane, q in fleet.store.handed]
    assert len(slots) == len(set(slots))


def test_one_slot_at_a_time_when_a_container_may_not_keep_up_with_a_stride() -> None:
    # Work between calls often longer than a stride: a batch's next slot could be missed, so (nearly always,
    # when one of its last 8 gaps was long) one slot per write, and hardly a slot wasted.
    fleet = run_fleet(20, 40, 30, gap=lambda rng: rng.choice([0.2, 0.3, 1.5]))
    permits = sum(b.stats.permits for b in fleet.budgets)
    assert sum(b.stats.batches for b in fleet.budgets) >= 0.9 * permits
    assert fleet.wasted <= 0.02 * fleet.used


@pytest.mark.parametrize("rate", [20, 50])
def test_late_wake_ups_never_overspend_a_sliding_second(rate: int) -> None:
    # A busy machine: one sleep in four wakes up to 0.2 s late. Late permits are dropped, not used bunched:
    # any R + 1 calls span more than a second by at least the half slack left for the network.
    def late(rng: random.Random) -> float:
        return rng.uniform(0, 0.2) if rng.random() < 0.25 else rng.uniform(0, 0.002)

    fleet = run_fleet(rate, 2 * rate, 30, gap=lambda rng: rng.uniform(0.1, 0.5), late=late)
    b = fleet.budgets[0]
    assert fleet.max_in_window() <= rate
    assert fleet.min_span(rate) >= 1 + b.slack - b.late_tolerance - 1e-9
    assert fleet.wasted > 0 and all(x.stats.max_late_s <= b.late_tolerance for x in fleet.budgets)
