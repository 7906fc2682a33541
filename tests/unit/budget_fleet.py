"""A fleet of rate budgets on one virtual clock: each container is a thread, its work and its budget's waits are
sleeps on a clock that moves only when every container sleeps (work between sleeps takes no time). So a
minute of calls by a dozen containers runs in a moment, and what the tests check is counted, never timed.

`run_fleet` gives each container a budget over one shared store, makes it work `gap()` seconds between calls
and oversleep by `late()` seconds (a busy machine waking it late) whenever its budget sleeps.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.logic.rate_budget import RateBudget
from tests.unit.fakes_sync import InMemorySlots


class VirtualTime:
    """Epoch seconds shared by `participants` threads; `sleep` returns when the clock reaches the sleeper's
    time, and the clock jumps to the next wake-up as soon as every participant sleeps."""

    def __init__(self, participants: int, now: float = 1_000_000.0) -> None:
        self.now = now
        self._lock = threading.Lock()
        self._running = participants
        self._sleepers: list[tuple[float, int, threading.Event]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        wake = threading.Event()
        with self._lock:
            heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), wake))
            self._running -= 1
            self._advance()
        wake.wait()

    def leave(self) -> None:
        """A participant is done: the others no longer wait for it."""
        with self._lock:
            self._running -= 1
            self._advance()

    def _advance(self) -> None:
        while self._running == 0 and self._sleepers:
            self.now = max(self.now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, wake = heapq.heappop(self._sleepers)
                self._running += 1
                wake.set()


@dataclass
class Fleet:
    store: InMemorySlots
    budgets: list[RateBudget]
    stamps: list[float] = field(default_factory=list)  # when each call was let through, sorted
    start: float = 0.0
    end: float = 0.0

    @property
    def used(self) -> int:
        return sum(b.stats.used for b in self.budgets)

    @property
    def wasted(self) -> int:
        return sum(b.stats.wasted for b in self.budgets)

    def max_in_window(self, window: float = 1.0) -> int:
        s = self.stamps
        return max((bisect.bisect_right(s, t + window - 1e-9) - i for i, t in enumerate(s)), default=0)

    def min_span(self, calls: int) -> float:
        """The shortest time holding `calls` + 1 consecutive calls (≥ 1 s: no sliding second holds more)."""
        s = self.stamps
        return min((s[i + calls] - s[i] for i in range(len(s) - calls)), default=float("inf"))


def run_fleet(rate: float, containers: int, seconds: float, *, gap: Callable[[random.Random], float],
              late: Callable[[random.Random], float] = lambda _: 0.0, seed: int = 7,
              store: InMemorySlots | None = None, messages: list[int] | None = None, answer_time: float = 0.0,
              **options: Any) -> Fleet:
    """`seconds` of calls; or with `messages` (the calls of each), a run: every container takes the next message
    until none is left, makes its calls, and stops (at most `seconds`); `fleet.end` is then the last call."""
    clock = VirtualTime(containers)
    store = store or InMemorySlots()
    if answer_time:
        store.answer_time = lambda: clock.sleep(answer_time)
    start = clock.now
    end = start + seconds
    fleet = Fleet(store, [], start=start, end=end)
    lock = threading.Lock()
    rngs = [random.Random(seed * 1000 + n) for n in range(containers)]
    queue = list(reversed(messages)) if messages is not None else None

    def sleeper(rng: random.Random) -> Callable[[float], None]:
        return lambda s: clock.sleep(s + late(rng))

    for n in range(containers):
        fleet.budgets.append(RateBudget(store, rate, clock=clock, sleep=sleeper(rngs[n]),  # type: ignore[arg-type]
                                        **options))

    def container(n: int) -> None:
        rng, budget = rngs[n], fleet.budgets[n]
        left = -1  # calls left in this container's message (-1: calls for `seconds`, no messages)
        try:
            clock.sleep(rng.uniform(0, 0.5))  # containers start at different times
            while clock.now < end:
                if queue is not None and left <= 0:
                    with lock:
                        left = queue.pop() if queue else 0
                    if not left:
                        break
                budget.acquire("aliexpress.trade.ds.order.get")
                left -= 1
                if clock.now < end:
                    with lock:
                        fleet.stamps.append(clock.now)
                clock.sleep(gap(rng))
        finally:
            clock.leave()

    threads = [threading.Thread(target=container, args=(n,), daemon=True) for n in range(containers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "the fleet did not finish"
    fleet.stamps.sort()
    if messages is not None and fleet.stamps:
        fleet.end = fleet.stamps[-1]
    return fleet
