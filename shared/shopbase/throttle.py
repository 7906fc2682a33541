"""Client-side leaky bucket, one per shop per process, so calls rarely meet ShopBase's 429.

Implemented as GCRA (virtual scheduling): `reserve()` books the next free slot under a lock and
returns how long the caller must wait, so concurrent threads queue fairly without spinning, and an
injected no-op sleep cannot make it loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shared.shopbase import protocol


class LeakyBucketThrottle:
    """Mirror of the server's bucket (`capacity` burst, `leak_rate` requests/s).

    `headroom` slots are kept free to absorb clock skew and network jitter between our send time and
    the server's arrival time.
    """

    def __init__(
        self,
        capacity: int = protocol.BUCKET_SIZE,
        leak_rate: float = protocol.LEAK_RATE,
        *,
        headroom: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or leak_rate <= 0:
            raise ValueError("capacity must be >= 1 and leak_rate > 0")
        self._lock = threading.Lock()
        self._clock = clock
        self._capacity = capacity
        self._leak_rate = leak_rate
        self._headroom = headroom
        self._tat = clock()  # theoretical time at which the bucket is empty again

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def leak_rate(self) -> float:
        return self._leak_rate

    def level(self) -> float:
        """Estimated requests in the server's bucket now."""
        with self._lock:
            return max(0.0, (self._tat - self._clock()) * self._leak_rate)

    def reserve(self) -> float:
        """Book one request; return the seconds to wait before sending it."""
        with self._lock:
            now = self._clock()
            interval = 1.0 / self._leak_rate
            usable = max(1, self._capacity - self._headroom)
            tat = max(self._tat, now)
            wait = max(0.0, tat + interval - now - usable * interval)
            self._tat = tat + interval
            return wait

    def observe(self, used: int, limit: int) -> None:
        """Resync from the server's `used/limit` header. Only ever raises our estimate: answers arrive
        out of order, and our own booked-but-unsent requests are not in `used` yet."""
        with self._lock:
            if limit != self._capacity and limit > 0:
                self._capacity = limit
            now = self._clock()
            server_tat = now + used / self._leak_rate
            if server_tat > self._tat:
                self._tat = server_tat

    def note_rate_limited(self) -> None:
        """A 429 means the server's bucket is full, whatever we believed."""
        with self._lock:
            self._tat = max(self._tat, self._clock() + self._capacity / self._leak_rate)


_REGISTRY: dict[str, LeakyBucketThrottle] = {}
_REGISTRY_LOCK = threading.Lock()


def throttle_for(
    key: str, *, capacity: int = protocol.BUCKET_SIZE, leak_rate: float = protocol.LEAK_RATE
) -> LeakyBucketThrottle:
    """The process-wide throttle of one shop (`key`: its API base URL). Parameters apply on creation."""
    with _REGISTRY_LOCK:
        throttle = _REGISTRY.get(key)
        if throttle is None:
            throttle = _REGISTRY[key] = LeakyBucketThrottle(capacity, leak_rate)
        return throttle


def reset_throttles() -> None:
    """Forget every shop's throttle (tests)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
