"""Client-side leaky buckets of ShopBase's per-shop limit, so calls rarely meet its 429.

Both are GCRA (virtual scheduling): `reserve()` books the next free slot and returns how long the caller
must wait, so concurrent callers queue fairly without spinning, and an injected no-op sleep cannot make it
loop.

- `LeakyBucketThrottle`: one per shop per process (`throttle_for`), state in memory. What clients built
  without the wiring use (tests, scripts, onboarding), and the fallback of the shared one.
- `SharedShopThrottle`: one limit per shop for every container of every function (issue 11), its
  theoretical arrival time (TAT) in one item of the table (`shared.data.shopbase_rate`), one conditional
  write per ShopBase request in the common case. The wiring gives it to production clients
  (`SharedThrottles`, passed to `ShopBaseClient(throttles=...)`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from shared.shopbase import protocol

log = logging.getLogger(__name__)


class Throttle(Protocol):
    """What `ShopBaseClient` uses of a throttle."""

    def reserve(self) -> float: ...

    def observe(self, used: int, limit: int) -> None: ...

    def note_rate_limited(self) -> None: ...

    def level(self) -> float: ...


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

    @property
    def headroom(self) -> int:
        return self._headroom

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


# --- The limit shared by every container (issue 11) -----------------------------------------------

KEEP_SECONDS = 3600  # the item outlives any queue of a busy shop; an idle shop's expires (its TAT long past)
STORE_RETRY_AFTER = 10.0  # after a failed write, seconds on the local bucket before the table is tried again
MAX_WRITES = 3  # refused advance, refused set, passing advance: the TAT only grows, so a reservation settles


class ShopRateStore(Protocol):
    """Each shop's TAT (epoch seconds), changed only by conditional writes (`shared.data.shopbase_rate`).

    Both answer (written, TAT): the TAT after the write, or after a refusal the current one (None: no item).
    A failure (throttled, unavailable, timeout) raises.
    """

    def advance(self, shop: str, interval: float, not_before: float, keep_until: int) -> tuple[bool, float | None]:
        """TAT += interval, if TAT >= not_before."""
        ...

    def set_if_below(self, shop: str, tat: float, below: float, keep_until: int) -> tuple[bool, float | None]:
        """TAT = tat, if there is none or TAT < below."""
        ...


def slot_interval(leak_rate: float) -> float:
    """1 / leak_rate rounded up to the microsecond the store keeps (never faster than the server leaks)."""
    return math.ceil(1e6 / leak_rate - 1e-6) / 1e6


class SharedShopThrottle:
    """One shop's limit shared by every container of every function: GCRA over the TAT kept in `store`.

    `reserve()` books the next slot with ONE conditional write in the common case: `advance` (TAT += T if
    TAT >= now) when the TAT this container last saw, or the server's count, is still ahead of now (a busy
    shop), else `set_if_below` (TAT = now + T if TAT < now or there is none: an idle shop, a new container).
    A wrong guess is refused with the current TAT in the answer (no read) and the other write settles it;
    since the TAT only grows, a refused `set_if_below` means `advance` passes, so a reservation costs at most
    `MAX_WRITES`. The caller then sleeps locally until its slot, as with the local bucket.

    The server's `used/limit` header costs no write of its own: it raises this container's floor, and its next
    reservation books after max(TAT, floor) (the same two writes, the floor in place of now), which pushes
    the shared TAT forward when the server counts more than we booked. A 429 is written at once: the whole
    shop must back off, and it is rare.

    Capacity, leak rate and headroom are those of `local`, the process bucket of the shop, which is also the
    fallback: if a write fails (DynamoDB throttled, unavailable, slow, access denied), the ShopBase call must
    not fail for it, so this container paces on its own bucket, seeded with the last TAT it saw, for
    `retry_after` seconds before it tries the table again (pacing is per container meanwhile, as before
    issue 11: a 429 is then met and waited out by the client).
    """

    def __init__(
        self,
        store: ShopRateStore,
        shop: str,
        local: LeakyBucketThrottle,
        *,
        clock: Callable[[], float] = time.time,
        retry_after: float = STORE_RETRY_AFTER,
    ) -> None:
        self._store = store
        self.shop = shop
        self.local = local
        self._clock = clock  # wall clock: the TAT is compared across hosts
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._seen = -math.inf  # the shared TAT as last seen (it only grows: a lower bound of the current one)
        self._floor = -math.inf  # the server's count (header, 429) not yet written
        self._down_until = -math.inf
        self._sends = threading.local()  # per calling thread: when its last booked request goes out

    @property
    def capacity(self) -> int:
        return self.local.capacity

    @property
    def leak_rate(self) -> float:
        return self.local.leak_rate

    def level(self) -> float:
        """Estimated requests in the server's bucket now, from what this container last saw (no read)."""
        with self._lock:
            ahead = max(self._seen, self._floor)
        return max(0.0, (ahead - self._clock()) * self.local.leak_rate)

    def reserve(self) -> float:
        """Book one request; return the seconds to wait before sending it."""
        now = self._clock()
        self._sends.at = None
        with self._lock:
            if now < self._down_until:
                return self.local.reserve()
            seen, floor = self._seen, self._floor
        interval = slot_interval(self.local.leak_rate)
        usable = max(1, self.local.capacity - self.local.headroom)
        base = max(now, floor)  # GCRA: the new TAT is max(TAT, base) + interval
        keep_until = int(base) + KEEP_SECONDS
        busy = max(seen, floor) >= base  # evidence of a busy shop: what we booked or what the server counted
        for _ in range(MAX_WRITES):
            try:
                if busy:
                    written, tat = self._store.advance(self.shop, interval, base, keep_until)
                else:
                    written, tat = self._store.set_if_below(self.shop, base + interval, base, keep_until)
            except Exception as error:  # any store failure: pace locally, never fail the call
                return self._fall_back(now, error)
            self._saw(tat)
            if written and tat is not None:  # the wait counts from now, after the write: send at the slot
                slot = tat - usable * interval
                self._sends.at = max(now, slot)
                return max(0.0, slot - self._clock())
            busy = tat is not None and tat >= base
        log.warning("shopbase rate %s: the shared limit did not settle in %d writes; this call paces locally",
                    self.shop, MAX_WRITES)
        return self._seeded_local(now).reserve()

    def observe(self, used: int, limit: int) -> None:
        """Resync from the server's `used/limit` header: only ever raises the estimate, and writes nothing now
        (the next reservation of this container carries it). The count is dated at the request's slot (a lower
        bound of its arrival, so the time the request and its answer took is not counted as requests), with
        one request of tolerance for the server's rounding up."""
        self.local.observe(used, limit)
        sent_at, self._sends.at = getattr(self._sends, "at", None), None
        if used < 2:
            return
        target = (sent_at if sent_at is not None else self._clock()) + (used - 1) / self.local.leak_rate
        with self._lock:
            if target > max(self._seen, self._floor):
                self._floor = target

    def note_rate_limited(self) -> None:
        """A 429 means the server's bucket is full, whatever we believed: written for every container now."""
        self.local.note_rate_limited()
        now = self._clock()
        interval = slot_interval(self.local.leak_rate)
        target = now + self.local.capacity * interval
        with self._lock:
            self._floor = max(self._floor, target)
            if now < self._down_until or self._seen >= target - interval:
                return  # the table is down, or already holds it (another container's 429)
        try:
            _, tat = self._store.set_if_below(self.shop, target, target, int(target) + KEEP_SECONDS)
        except Exception as error:  # as in reserve(): the local bucket has it already
            self._fall_back(now, error)
            return
        self._saw(tat)

    def _saw(self, tat: float | None) -> None:
        if tat is None:
            return
        with self._lock:
            if tat > self._seen:
                self._seen = tat
            if self._seen >= self._floor:
                self._floor = -math.inf  # the shared TAT has it

    def _fall_back(self, now: float, error: BaseException) -> float:
        with self._lock:
            first = now >= self._down_until
            self._down_until = now + self._retry_after
        if first:
            log.warning("shopbase rate %s: shared limit unavailable (%s); pacing on this container's bucket for %.0fs",
                        self.shop, type(error).__name__, self._retry_after)
        return self._seeded_local(now).reserve()

    def _seeded_local(self, now: float) -> LeakyBucketThrottle:
        """The local bucket, raised to the shared estimate this container last saw."""
        with self._lock:
            ahead = max(self._seen, self._floor)
        level = (ahead - now) * self.local.leak_rate
        if level > 0:
            self.local.observe(math.ceil(level), self.local.capacity)
        return self.local


class SharedThrottles:
    """A container's shared throttles, one per shop: `ShopBaseClient(throttles=...)`; the wiring builds one.

    The local bucket of each (its parameters and fallback) is the process's `throttle_for(base_url)`
    unless `local_for` says otherwise; a reset registry (`reset_throttles`) is picked up.
    """

    def __init__(
        self,
        store: ShopRateStore,
        *,
        clock: Callable[[], float] = time.time,
        local_for: Callable[[str], LeakyBucketThrottle] | None = None,
        retry_after: float = STORE_RETRY_AFTER,
    ) -> None:
        self._store = store
        self._clock = clock
        self._local_for = local_for or throttle_for
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._by_shop: dict[tuple[str, str], SharedShopThrottle] = {}

    @property
    def store(self) -> ShopRateStore:
        return self._store

    def __call__(self, shop: str, base_url: str) -> SharedShopThrottle:
        local = self._local_for(base_url)
        with self._lock:
            throttle = self._by_shop.get((shop, base_url))
            if throttle is None or throttle.local is not local:
                throttle = SharedShopThrottle(self._store, shop, local, clock=self._clock,
                                              retry_after=self._retry_after)
                self._by_shop[(shop, base_url)] = throttle
            return throttle
