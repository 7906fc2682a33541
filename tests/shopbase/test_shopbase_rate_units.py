"""ShopBase's per-shop limit shared by every container (issue 11), over an in-memory store and one fake clock:
many containers (separate limiter instances over one store) never book more than the server's bucket holds,
one write per reservation in the common case, 429s and the server's count reach every container, and a
failing store falls back to the container's bucket. Counted, never timed. DynamoDB (moto) and the real
simulator: test_shopbase_rate_shared.py."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.shopbase.throttle import (
    MAX_WRITES,
    LeakyBucketThrottle,
    SharedShopThrottle,
    SharedThrottles,
    slot_interval,
)

SHOP, URL = "acme", "https://acme.onshopbase.com"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeRateStore:
    """`ShopRateStore` in memory: the same conditions as the DynamoDB store, every write counted."""

    def __init__(self) -> None:
        self.tats: dict[str, float] = {}
        self.keep: dict[str, int] = {}
        self.writes = 0
        self.refused = 0
        self.failing = False
        self._lock = threading.Lock()

    def _write(self) -> None:
        self.writes += 1
        if self.failing:
            raise ConnectionError("DynamoDB unavailable")

    def advance(self, shop: str, interval: float, not_before: float, keep_until: int) -> tuple[bool, float | None]:
        with self._lock:
            self._write()
            tat = self.tats.get(shop)
            if tat is None or tat < not_before:
                self.refused += 1
                return False, tat
            self.tats[shop], self.keep[shop] = tat + interval, keep_until
            return True, self.tats[shop]

    def set_if_below(self, shop: str, tat: float, below: float, keep_until: int) -> tuple[bool, float | None]:
        with self._lock:
            self._write()
            current = self.tats.get(shop)
            if current is not None and current >= below:
                self.refused += 1
                return False, current
            self.tats[shop], self.keep[shop] = tat, keep_until
            return True, tat


def containers(store: FakeRateStore, clock: FakeClock, n: int, capacity: int = 30, leak_rate: float = 2.0,
               headroom: int = 2) -> list[SharedShopThrottle]:
    """`n` containers of one shop: each its own wiring (SharedThrottles) and process bucket, one store."""
    return [SharedThrottles(store, clock=clock, local_for=lambda _url: LeakyBucketThrottle(
        capacity, leak_rate, headroom=headroom, clock=clock))(SHOP, URL) for _ in range(n)]


class ServerBucket:
    """The server's leaky bucket (as the simulator's), fed the send times in order."""

    def __init__(self, leak_rate: float) -> None:
        self.leak_rate, self.level, self.last, self.peak = leak_rate, 0.0, None, 0.0

    def send(self, at: float) -> int:
        if self.last is not None:
            assert at >= self.last - 1e-9, "sends out of order"
            self.level = max(0.0, self.level - (at - self.last) * self.leak_rate)
        self.level += 1
        self.last = at
        self.peak = max(self.peak, self.level)
        return math.ceil(self.level - 1e-9)  # the `used` of the answer's header


def run(limiters: list[SharedShopThrottle], steps: Iterable[tuple[int, float]], clock: FakeClock,
        server: ServerBucket, observe: bool = True) -> list[float]:
    """Each step: time passes by `gap`, container `i` reserves and sends at its slot (the clock moves there)."""
    sends = []
    for i, gap in steps:
        clock.now += gap
        limiter = limiters[i % len(limiters)]
        send_at = clock.now + limiter.reserve()
        clock.now = send_at
        used = server.send(send_at)
        if observe:
            limiter.observe(used, limiter.capacity)
        sends.append(send_at)
    return sends


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=2, max_value=8),
       steps=st.lists(st.tuples(st.integers(min_value=0, max_value=7),
                                st.one_of(st.just(0.0), st.floats(min_value=0, max_value=3))),
                      min_size=1, max_size=150),
       observe=st.booleans())
def test_many_containers_never_book_more_than_the_bucket_holds(n: int, steps: list[tuple[int, float]],
                                                                observe: bool) -> None:
    clock, store = FakeClock(), FakeRateStore()
    limiters = containers(store, clock, n, capacity=10, leak_rate=2.0, headroom=1)
    server = ServerBucket(2.0)
    run(limiters, steps, clock, server, observe=observe)
    assert server.peak <= 10 - 1 + 1e-9  # capacity minus headroom, whichever container sent
    assert store.writes <= MAX_WRITES * len(steps)


def test_any_window_holds_at_most_the_burst_plus_what_leaks() -> None:
    # 6 containers each try 40 calls at once (a parallel push): counted per sliding window.
    clock, store = FakeClock(), FakeRateStore()
    limiters = containers(store, clock, 6)
    sends = []
    for k in range(40 * 6):  # all booked at the same instant, sent at their slots
        sends.append(clock.now + limiters[k % 6].reserve())
    sends.sort()
    usable, interval = 30 - 2, slot_interval(2.0)
    for window in (0.0, 0.5, 1.0, 5.0, 30.0):
        most = max(sum(1 for s in sends[i:] if s <= t + window + 1e-9) for i, t in enumerate(sends))
        assert most <= usable + window / interval, window
    assert sends[usable - 1] == clock.now and sends[usable] == pytest.approx(clock.now + interval)
    assert sends[-1] == pytest.approx(clock.now + (240 - usable) * interval)


def test_a_container_joining_a_busy_shop_books_after_what_the_others_booked() -> None:
    # A fills the bucket; B, new (it has seen nothing), calls 13.8 s later, when 0.4 requests are left in it.
    clock, store = FakeClock(), FakeRateStore()
    a, b = containers(store, clock, 2)
    server = ServerBucket(2.0)
    for _ in range(28):
        assert a.reserve() == 0.0
        server.send(clock.now)
    clock.now += 13.8
    sent_at_once = 0
    while b.reserve() == 0.0:
        server.send(clock.now)
        sent_at_once += 1
    assert sent_at_once == 27 and server.peak <= 28 + 1e-9  # 0.4 + 27: a 28th would overfill by 0.4


def test_per_process_buckets_overfill_it() -> None:
    # Before issue 11: the same 6 containers, each with only its own bucket, send 6 x 28 at once.
    clock = FakeClock()
    buckets = [LeakyBucketThrottle(30, 2.0, headroom=2, clock=clock) for _ in range(6)]
    server = ServerBucket(2.0)
    for k in range(6 * 28):  # what each bucket lets through at once
        assert buckets[k % 6].reserve() == 0.0
        server.send(clock.now)
    assert server.peak == 6 * 28 > 30


def test_one_write_per_reservation_busy_or_idle() -> None:
    clock, store = FakeClock(), FakeRateStore()
    (limiter,) = containers(store, clock, 1)
    waits = [limiter.reserve() for _ in range(40)]  # busy: a burst, then queued
    assert waits[:28] == [0.0] * 28 and waits[28:] == pytest.approx([0.5 * i for i in range(1, 13)])
    assert store.writes == 40 and store.refused == 0
    for _ in range(10):  # idle: one call every 30 s (the TAT is in the past each time)
        clock.now += 30
        assert limiter.reserve() == 0.0
    assert store.writes == 50 and store.refused == 0


def test_one_write_per_reservation_with_several_containers_after_their_first() -> None:
    clock, store = FakeClock(), FakeRateStore()
    limiters = containers(store, clock, 4)
    server = ServerBucket(2.0)
    run(limiters, [(k, 0.0) for k in range(4)], clock, server)  # each container's first call
    first = store.writes
    assert first <= 4 + 3  # a new container may guess "idle" on a busy shop once: refused, then the ADD
    run(limiters, [(k, 0.0) for k in range(4, 204)], clock, server)  # busy: the headers fold into the ADDs
    assert store.writes - first == 200
    assert server.peak <= 28 + 1e-9


def test_a_steady_shop_below_its_rate_costs_one_write_per_call() -> None:
    # 3 containers calling in turn at 1.5 calls/s (the bucket leaks 2/s), answers observed.
    clock, store = FakeClock(), FakeRateStore()
    limiters = containers(store, clock, 3)
    server = ServerBucket(2.0)
    run(limiters, [(k, 0.0) for k in range(3)], clock, server)
    first = store.writes
    run(limiters, [(k, 1 / 1.5) for k in range(300)], clock, server)
    assert (store.writes - first) / 300 <= 1.05, store.writes - first


def test_a_429_reaches_every_container_with_one_write() -> None:
    clock, store = FakeClock(), FakeRateStore()
    a, b = containers(store, clock, 2)
    assert a.reserve() == 0.0
    writes = store.writes
    a.note_rate_limited()  # someone outside the limiter filled the bucket
    assert store.writes == writes + 1
    assert store.tats[SHOP] == pytest.approx(clock.now + 30 * 0.5)
    assert b.reserve() == pytest.approx(30 * 0.5 + 0.5 - 28 * 0.5)  # B waits for the leak, never having met it
    b.note_rate_limited()  # its own 429 at once: the table has it already, no write
    assert store.writes == writes + 1 + 2  # B's reserve: "idle" refused, then the ADD


def test_the_servers_count_pushes_the_shared_estimate_without_a_write_of_its_own() -> None:
    clock, store = FakeClock(), FakeRateStore()
    a, b = containers(store, clock, 2)
    a.reserve()
    writes = store.writes
    a.observe(26, 30)  # another app spent 25: the header says so
    assert store.writes == writes
    # Carried by A's next reservation: its guess (ADD after the count, right when other containers booked
    # it) is refused here, where the TAT lags the count, and the SET settles it.
    assert a.reserve() == 0.0 and store.writes == writes + 2
    assert store.tats[SHOP] == pytest.approx(clock.now + 26 * 0.5)
    assert [b.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])  # B books after it: 26 + 3 > 28


def test_a_failing_store_falls_back_to_the_containers_bucket_then_retries_the_table() -> None:
    clock, store = FakeClock(), FakeRateStore()
    (limiter,) = containers(store, clock, 1)
    for _ in range(20):
        assert limiter.reserve() == 0.0
    store.failing = True
    writes = store.writes
    # The local bucket starts from the 20 the shop holds: 8 more at once, then paced. No call fails.
    waits = [limiter.reserve() for _ in range(10)]
    assert waits == pytest.approx([0.0] * 8 + [0.5, 1.0])
    assert store.writes == writes + 1  # one failed write, then no more tries for STORE_RETRY_AFTER
    limiter.observe(5, 30)
    limiter.note_rate_limited()
    assert store.writes == writes + 1
    store.failing = False
    clock.now += 20
    assert limiter.reserve() == 0.0 and store.writes == writes + 2  # the table again


def test_the_wiring_registry_gives_one_limiter_per_shop_and_picks_up_a_new_process_bucket() -> None:
    clock, store = FakeClock(), FakeRateStore()
    locals_ = {"b": LeakyBucketThrottle(clock=clock)}
    throttles = SharedThrottles(store, clock=clock, local_for=lambda url: locals_["b"])
    first = throttles(SHOP, URL)
    assert throttles(SHOP, URL) is first and throttles("other", URL) is not first
    locals_["b"] = LeakyBucketThrottle(6, 40.0, clock=clock)  # reset_throttles() + throttle_for(...) in a test
    again = throttles(SHOP, URL)
    assert again is not first and (again.capacity, again.leak_rate) == (6, 40.0)


def test_slot_interval_is_never_shorter_than_the_leak() -> None:
    assert slot_interval(2.0) == 0.5 and slot_interval(1000.0) == 0.001
    assert slot_interval(3.0) == 0.333334 and slot_interval(15.0) >= 1 / 15
