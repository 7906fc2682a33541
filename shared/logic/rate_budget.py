"""One AliExpress call budget for the whole fleet, plugged into the client's `before_call` hook.

`calls_per_second` (R) is what AliExpress allows the app (the wiring passes ALIEXPRESS_CALLS_PER_SECOND) in
any sliding second. Every HTTP attempt (retries included: the client calls the hook before each) needs a
permit, and a permit is a slot of one schedule shared by the fleet (`shared/data/rate_budget.py`).

The schedule: slot k is at k / rate (epoch seconds), evenly spaced, `rate` being the whole calls a second may
hold, A = floor(R * (1 - headroom)), minus `margin` (half a call): 19.5 a second for R = 20, 49.5 for R = 50
(and at least `min_slack` below: 99 for R = 100). So any A + 1 consecutive slots span a second and `slack`
(25.6 ms at R = 20, 10.1 ms at R = 50). A permit is used no earlier than its slot and at most half that slack
after it: a caller that wakes later drops it (and takes another) rather than bunch with the next calls; the
other half of the slack is left for the way to AliExpress.

Lanes: the schedule is dealt out in A lanes (at most 64), lane j holding every A-th slot: one slot every
1 s + slack. So a lane never has two calls in a sliding second, and A lanes never more than A. One
conditional write takes a run of one lane's slots (`shared/data/rate_budget.py`): one slot, or, when callers
queue for the budget anyway and this container's work between calls always fit in a lane's stride (over its
last calls), `max_batch` of them a stride apart: a worker making one call at a time uses them in turn, one
write for several calls. The lane to take from is the one whose next free slot comes first in a view of the
lanes: the last answer (every answer, refusals too, carries every lane), or one read first when that is more
than a slot or two old (else the truly earliest slots could pass unused while callers wait for later ones).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.data.rate_budget import LaneTake


class SlotStore(Protocol):
    def take_slots(self, grid: str, lane: int, count: int, first: int, last: int, *, lagging: bool,
                   now: float) -> LaneTake: ...

    def lanes(self, grid: str) -> dict[int, int]: ...


@dataclass
class BudgetStats:
    permits: int = 0  # slots taken from the store
    used: int = 0  # handed to a caller
    wasted: int = 0  # taken, not used: `late` + `expired`
    late: int = 0  # dropped by a caller that woke up too late for it
    late_answers: int = 0  # of which the store's answer (not a sleep) came too late
    expired: int = 0  # held by this container, and its time passed before a call needed it
    batches: int = 0  # granted takes (one write each)
    store_calls: int = 0  # writes and reads
    reads: int = 0
    refused: int = 0  # store calls whose condition failed (a stale view of a lane: the answer corrects it)
    waited_s: float = 0.0
    max_late_s: float = 0.0  # the latest a permit was used after its slot


class RateBudget:
    """Thread-safe; one per container (per worker). Call it (or `acquire`) before every AliExpress call."""

    MAX_TRIES = 4  # store calls in a row before pausing one slot (each refusal carries the fresh counters)
    MAX_LANES = 64  # counters in the item (it stays under 1 KB: one write unit)

    def __init__(self, store: SlotStore, calls_per_second: float, *, headroom: float = 0.0,
                 margin: float = 0.5, min_slack: float = 0.01, max_batch: int = 3, horizon: float = 10.0,
                 fresh_for: float | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        allowed = calls_per_second * (1 - headroom)
        if calls_per_second <= 0 or allowed <= 0:
            raise ValueError("calls per second must be positive")
        # Whole calls a sliding second may hold, and the schedule's rate a fraction below it: `margin` calls,
        # and at least `min_slack` seconds of slack (at a high R half a call is too little time to absorb).
        self.window_calls = max(1, math.floor(allowed))
        rate = min(self.window_calls - max(margin, 0.05), self.window_calls / (1 + max(min_slack, 0.0)))
        self.rate = min(allowed, rate if rate > 0 else self.window_calls / 2)
        self.spacing = 1 / self.rate
        # window_calls + 1 consecutive slots span 1 s + slack: half for a late wake-up, half for the network.
        self.slack = self.window_calls * self.spacing - 1
        self.late_tolerance = self.slack / 2
        # A lanes: lane j's slots are A slots (1 s + slack) apart. Above 64, a divisor of A's size: shorter strides.
        self.lanes = self.window_calls // math.ceil(self.window_calls / self.MAX_LANES)
        self.stride = self.lanes * self.spacing
        self.grid = f"{round(self.spacing * 1e9)}ns-{self.lanes}"
        self._store = store
        self._max_batch = max(1, max_batch)
        self._horizon = max(horizon, 2 * self.stride)
        # A view of the lanes older than this is read again before choosing from it (None: two slots' time).
        self._fresh_for = 2 * self.spacing if fresh_for is None else fresh_for
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: deque[float] = deque()  # this container's slots, in time order
        self._known: dict[int, int] = {}  # lane → its counter, as of the last answer
        self._gaps: deque[float] = deque(maxlen=8)  # work between a permit and the next ask, last calls
        self._known_at = -math.inf
        self._handed: dict[int, float] = {}  # thread → when it got its last permit
        self._store_rtt = 0.005  # seconds, a moving average of the store's answer time
        self._rtts: deque[float] = deque(maxlen=8)  # and its last answer times
        self.stats = BudgetStats()

    def __call__(self, api_name: str = "") -> None:
        self.acquire(api_name)

    def acquire(self, api_name: str = "") -> None:
        """Block until this caller may make one call now."""
        me = threading.get_ident()
        with self._lock:
            last = self._handed.get(me)
            if last is not None:
                self._gaps.append(self._clock() - last)
        while True:
            slot, pause = self._next_slot()
            if slot is None:
                self._pause(pause)
                continue
            wait = slot - self._clock()
            if wait > 0:
                self._pause(wait)
            late = self._clock() - slot
            with self._lock:
                if late > self.late_tolerance:
                    # Woke too late: used now, this call could bunch with the next slots' calls.
                    self.stats.wasted += 1
                    self.stats.late += 1
                    if wait <= 0:
                        self.stats.late_answers += 1
                    continue
                self.stats.used += 1
                self.stats.max_late_s = max(self.stats.max_late_s, late)
                self._handed[me] = self._clock()
            return

    # ------------------------------------------------------------------ the schedule

    def slot_time(self, lane: int, q: int) -> float:
        """When lane slot `q` of `lane` is (grid slot q * lanes + lane)."""
        return (q * self.lanes + lane) / self.rate

    def _first_at(self, lane: int, at: float) -> int:
        """The first slot of `lane` not before `at`."""
        return math.ceil((at * self.rate - lane) / self.lanes - 1e-9)

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self.stats.waited_s += seconds
        self._sleep(seconds)

    def _next_slot(self) -> tuple[float | None, float]:
        """The next slot of this container (taking more from the store when it has none), or None and how
        long to pause before asking again."""
        with self._lock:
            now = self._clock()
            while self._slots and self._slots[0] + self.late_tolerance < now:
                self._slots.popleft()  # its time passed while nobody here needed it
                self.stats.wasted += 1
                self.stats.expired += 1
            if self._slots:
                return self._slots.popleft(), 0.0
            return self._take(now)

    def _take(self, now: float) -> tuple[float | None, float]:
        for _ in range(self.MAX_TRIES):
            # Slots due before the answer arrives are skipped: a slow answer does not hand out late permits.
            ready = now + self._answer_time()
            if now - self._known_at > self._fresh_for:
                # The view is older than a slot or two: others have taken since, and choosing from it would
                # leave the truly earliest slots to pass unused (or cost a refused write). One read gives the
                # item as it is.
                self._known, self._known_at = dict(self._store.lanes(self.grid)), self._clock()
                self.stats.store_calls += 1
                self.stats.reads += 1
                now = self._known_at
                ready = now + self._answer_time()
            lane, first, lagging, at = self._pick_lane(ready)
            if at > now + self._horizon:
                # Every lane is booked beyond the horizon: come back when the earliest comes within it.
                return None, max(self.spacing, at - self._horizon - now)
            count = self._batch_size(at - ready)  # the queue ahead, not the answer time
            last = math.floor(((now + self._horizon) * self.rate - lane) / self.lanes)
            started = self._clock()
            answer = self._store.take_slots(self.grid, lane, count, first, last, lagging=lagging, now=now)
            rtt = max(0.0, self._clock() - started)
            self._store_rtt = 0.8 * self._store_rtt + 0.2 * rtt
            self._rtts.append(rtt)
            self.stats.store_calls += 1
            self._known, self._known_at = dict(answer.lanes), self._clock()  # the item as the write found or left it
            if answer.count:
                self.stats.permits += answer.count
                self.stats.batches += 1
                self._slots.extend(self.slot_time(lane, q) for q in range(answer.start, answer.start + answer.count))
                return self._slots.popleft(), 0.0
            self.stats.refused += 1
            now = self._known_at
        return None, self.spacing

    def _answer_time(self) -> float:
        """How long the store's answer may take: half as long again as the slowest of the last few."""
        return 1.5 * max(self._store_rtt, max(self._rtts, default=0.0))

    def _pick_lane(self, ready: float) -> tuple[int, int, bool, float]:
        """(lane, its first usable slot, lagging, when its next free slot is) for the lane whose next free slot
        comes first."""
        best: tuple[float, int, int, bool] | None = None
        for lane in range(self.lanes):
            first = self._first_at(lane, ready)
            counter = self._known.get(lane)
            lagging = counter is None or counter < first
            at = self.slot_time(lane, first if lagging or counter is None else counter)
            if best is None or at < best[0]:
                best = (at, lane, first, lagging)
        assert best is not None
        at, lane, first, lagging = best
        return lane, first, lagging, at

    def _batch_size(self, wait: float) -> int:
        """One slot, unless this container would wait for the budget anyway (`wait`, from when an answer could
        arrive to the next free slot, plus its usual work between calls, is about a stride or more: callers
        queue for the budget) and its
        work between calls always fit in a stride (over its last calls): then `max_batch`, a stride apart, which
        it uses in turn, taken with one write."""
        if self._max_batch == 1 or len(self._gaps) < 3:
            return 1
        gaps = sorted(self._gaps)
        if gaps[-1] + self.late_tolerance >= self.stride:
            return 1  # it could miss a slot a stride after the last one: that slot would be wasted
        if wait + gaps[len(gaps) // 2] < 0.9 * self.stride:
            return 1  # the budget lets it call sooner than a stride from now: a batch would slow it down
        return self._max_batch
