"""One AliExpress call budget for the whole fleet, plugged into the client's `before_call` hook.

`calls_per_second` is what AliExpress allows the app (the wiring passes ALIEXPRESS_CALLS_PER_SECOND). Every
HTTP attempt (retries included, since the client calls the hook before each attempt) needs a permit. Permits
come from one DynamoDB item per wall-clock second (`shared/data/rate_budget.py`), so the count per second
never exceeds the cap however many workers run.

Spending it evenly: permit `i` of second `s` is not used before `s + i / cap`. AliExpress counts calls in a
sliding window, so a second's calls must not bunch; pacing by index spreads them, indices whose time has
passed are skipped rather than used at once, a permit whose holder woke too late is dropped, and a small
headroom of one call (plus `headroom`, a fraction: ALIEXPRESS_RATE_HEADROOM, 0 by default) absorbs the
window's boundary and network jitter. A worker takes as many permits as it has threads waiting (usually 1,
at most `max_batch`): a permit taken and not used is wasted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class PermitStore(Protocol):
    def take(self, second: int, wanted: int, cap: int, not_before: int = 0) -> range: ...


@dataclass
class BudgetStats:
    permits: int = 0  # taken from the store
    used: int = 0  # handed to a caller
    wasted: int = 0  # taken but their second passed before use
    store_calls: int = 0
    waited_s: float = 0.0


class RateBudget:
    """Thread-safe; one per container (per worker). Call it (or `acquire`) before every AliExpress call."""

    def __init__(self, store: PermitStore, calls_per_second: float, *,
                 headroom: float = 0.0, max_batch: int = 4, lookahead: int = 1,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        rate, margin = calls_per_second, headroom
        if rate <= 0:
            raise ValueError("calls per second must be positive")
        # AliExpress counts a sliding window: one call of headroom for a window straddling two seconds.
        self.cap = max(1, math.floor(rate * (1 - margin)) - 1)
        # A permit used later than this after its time is dropped: late calls bunch with on-time ones. The
        # slack the cap leaves below the rate is what a sliding window can absorb.
        # Evenly spaced, every 1 s window holds `cap` slots; a call late by less than its slack (half a slot
        # with no extra headroom) adds at most one, leaving the other half slot for network jitter.
        self.late_tolerance = max(0.5, rate - self.cap - 0.5) / self.cap
        self._store = store
        self._max_batch = max(1, max_batch)
        self._lookahead = max(0, lookahead)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: deque[float] = deque()
        self._waiting = 0
        self._store_rtt = 0.005  # seconds, a moving average of the store's answer time
        self.stats = BudgetStats()

    def __call__(self, api_name: str = "") -> None:
        self.acquire(api_name)

    def acquire(self, api_name: str = "") -> None:
        """Block until this caller may make one call now. The call then belongs to the current second."""
        with self._lock:
            self._waiting += 1
        try:
            while True:
                slot = self._next_slot()
                if slot is None:
                    # Every second we may draw from is full: wait for the next one to open.
                    now = self._clock()
                    self._pause(math.floor(now) + 1 - now + 0.001)
                    continue
                wait = slot - self._clock()
                if wait > 0:
                    self._pause(wait)
                now = self._clock()
                if math.floor(now) != math.floor(slot) or now - slot > self.late_tolerance:
                    # Overslept (into the next second, or past the tolerance): using it could overspend.
                    with self._lock:
                        self.stats.wasted += 1
                    continue
                with self._lock:
                    self.stats.used += 1
                return
        finally:
            with self._lock:
                self._waiting -= 1

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self.stats.waited_s += seconds
        self._sleep(seconds)

    def _next_slot(self) -> float | None:
        with self._lock:
            now = self._clock()
            current = math.floor(now)
            while self._slots and math.floor(self._slots[0]) < current:
                self._slots.popleft()
                self.stats.wasted += 1
            if self._slots:
                return self._slots.popleft()
            wanted = min(self._max_batch, max(1, self._waiting))
            for second in range(current, current + self._lookahead + 1):
                self.stats.store_calls += 1
                # Indices whose time will have passed when the store answers are skipped, so a late start
                # cannot burst and a slow answer does not hand out permits already too late to use.
                ready = now + 2 * self._store_rtt
                not_before = max(0, math.ceil((ready - second) * self.cap)) if second == current else 0
                started = self._clock()
                taken = self._store.take(second, wanted, self.cap, not_before)
                self._store_rtt = 0.8 * self._store_rtt + 0.2 * max(0.0, self._clock() - started)
                if len(taken):
                    self.stats.permits += len(taken)
                    self._slots.extend(second + index / self.cap for index in taken)
                    return self._slots.popleft()
            return None
