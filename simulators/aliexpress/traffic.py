"""Call accounting: per-method counts and errors, concurrency, the app-wide rate limit, request ids."""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    api_call_limit_errors: int = 0
    max_concurrent: int = 0
    peak_calls_per_second: int = 0
    peak_accepted_per_second: int = 0
    orders_created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "total_calls": sum(self.calls.values()),
            "errors": dict(self.errors),
            "api_call_limit_errors": self.api_call_limit_errors,
            "max_concurrent": self.max_concurrent,
            "peak_calls_per_second": self.peak_calls_per_second,
            "peak_accepted_per_second": self.peak_accepted_per_second,
            "orders_created": self.orders_created,
        }


class Traffic:
    """Counts every API call and applies the rate limit (a sliding 1 s window on the monotonic clock).

    Not locked: SimState holds its lock around every call.
    """

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self.stats = Stats()
        self._active = 0
        self._arrivals: deque[float] = deque()
        self._accepted: deque[float] = deque()
        self._request_seq = 0

    def reset_stats(self) -> None:
        self.stats = Stats()
        self._arrivals.clear()
        self._accepted.clear()

    def next_request_id(self, rng: random.Random, wall_clock: float) -> str:
        self._request_seq += 1
        return f"{rng.getrandbits(32):08x}{int(wall_clock * 1000)}{self._request_seq % 10000:04d}"

    def begin_call(self, method: str, rate_limit: float | None) -> bool:
        """Count an arriving call; False when `rate_limit` (calls/s) rejects it."""
        now = self._monotonic()
        s = self.stats
        s.calls[method] += 1
        self._active += 1
        s.max_concurrent = max(s.max_concurrent, self._active)
        for window in (self._arrivals, self._accepted):
            while window and window[0] <= now - 1.0:
                window.popleft()
        self._arrivals.append(now)
        s.peak_calls_per_second = max(s.peak_calls_per_second, len(self._arrivals))
        if rate_limit is not None and len(self._accepted) >= rate_limit:
            s.api_call_limit_errors += 1
            return False
        self._accepted.append(now)
        s.peak_accepted_per_second = max(s.peak_accepted_per_second, len(self._accepted))
        return True

    def count_error(self, error_code: str | None) -> None:
        if error_code:
            self.stats.errors[error_code] += 1

    def end_call(self) -> None:
        self._active -= 1
