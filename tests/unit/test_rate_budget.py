"""The rate budget's pacing over a fake clock (sleep moves time) and an in-memory permit store: never more
than the cap in a second or R in any sliding second, calls spread over the second, a full second waits
for the next, stale and overslept permits are not used. The DynamoDB store and real threads are in
tests/sync/test_rate_budget.py."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from itertools import pairwise

import pytest

from shared.logic.rate_budget import RateBudget
from tests.unit.fakes_sync import FakeClock, InMemoryPermits


def budget(rate: float, clock: FakeClock, store: InMemoryPermits | None = None, **options: float) -> RateBudget:
    return RateBudget(store or InMemoryPermits(), rate, clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


def calls(b: RateBudget, clock: FakeClock, n: int) -> list[float]:
    stamps = []
    for _ in range(n):
        b.acquire("aliexpress.trade.ds.order.get")
        stamps.append(clock())
    return stamps


def max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    return max(bisect.bisect_right(stamps, t + window - 1e-9) - i for i, t in enumerate(stamps))


@pytest.mark.parametrize(("rate", "headroom", "cap"), [(20, 0, 19), (20, 0.1, 17), (20, 0.25, 14), (2, 0, 1),
                                                       (1, 0, 1), (0.5, 0, 1), (500, 0, 499)])
def test_cap_keeps_one_call_and_the_headroom_in_reserve(rate: float, headroom: float, cap: int) -> None:
    assert budget(rate, FakeClock(), headroom=headroom).cap == cap


@pytest.mark.parametrize("rate", [0, -1])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        budget(rate, FakeClock())


def test_calls_are_spread_over_the_second_and_never_exceed_the_cap() -> None:
    clock = FakeClock(1000.0)
    b = budget(20, clock)
    stamps = calls(b, clock, 60)
    per_second = Counter(math.floor(t) for t in stamps)
    assert max(per_second.values()) <= b.cap == 19
    assert max_in_window(stamps) <= 20  # a sliding second, how AliExpress counts
    gaps = [later - earlier for earlier, later in pairwise(stamps)]
    assert min(gaps) >= 1 / 19 - 1e-9  # spaced by index, not bunched at the second's start
    assert stamps[-1] - stamps[0] >= 60 / 19 - 1.5  # about cap a second
    assert b.stats.used == 60 and b.stats.wasted == 0 and b.stats.waited_s > 0


def test_a_full_second_waits_for_the_next() -> None:
    clock = FakeClock(1000.2)
    store = InMemoryPermits()
    store.used[1000] = 19  # the other workers took this second's permits
    b = budget(20, clock, store)
    b.acquire()
    assert clock() == pytest.approx(1001.0)
    assert store.used[1001] == 1


def test_two_full_seconds_wait_for_the_one_after() -> None:
    clock = FakeClock(1000.2)
    store = InMemoryPermits()
    store.used[1000] = store.used[1001] = 19
    b = budget(20, clock, store)
    b.acquire()
    assert 1001.0 < clock() < 1002.1 and store.used[1002] == 1


def test_a_late_start_skips_the_past_indices_instead_of_bursting() -> None:
    clock = FakeClock(1000.5)  # nobody called during the first half of the second
    store = InMemoryPermits()
    b = budget(20, clock, store)
    stamps = calls(b, clock, 5)
    assert store.used[1000] >= 10  # indices 0..9 (due before now) were skipped, not handed out
    assert all(t >= 1000.5 for t in stamps)
    assert min(later - earlier for earlier, later in pairwise(stamps)) >= 1 / 19 - 1e-9


def test_an_overslept_permit_is_dropped() -> None:
    clock = FakeClock(1000.0)
    late = {"by": 0.2}

    def sleepy(seconds: float) -> None:  # the first wake-up comes 0.2 s late (a busy container)
        clock.sleep(seconds + late["by"])
        late["by"] = 0.0

    b = RateBudget(InMemoryPermits(), 20, clock=clock, sleep=sleepy)
    b.acquire()
    b.acquire()
    assert b.stats.wasted >= 1 and b.stats.used == 2
    assert b.late_tolerance == pytest.approx(0.5 / 19)


def test_the_budget_is_the_clients_before_call_hook() -> None:
    clock = FakeClock(1000.0)
    store = InMemoryPermits()
    b = budget(20, clock, store)
    for _ in range(3):
        b("aliexpress.ds.order.tracking.get")
    assert b.stats.used == 3 and sum(store.used.values()) >= 3 and b.stats.store_calls == store.calls


def test_headroom_lowers_the_calls_a_second() -> None:
    clock = FakeClock(1000.0)
    b = budget(20, clock, headroom=0.25)
    stamps = calls(b, clock, 40)
    assert max(Counter(math.floor(t) for t in stamps).values()) <= 14
