"""ShopBase's per-shop limit shared by every container (issue 11) over DynamoDB (moto, the table from
infra/template.yaml) and the real ShopBase simulator: the store's conditional writes, no booking lost when
containers race, parallel "containers" (threads, each with its own limiter and table client) pushing one
shop faster than it leaks earn no 429 where per-process buckets earned many, one limiter write per ShopBase
call, and a failing table falls back to the container's bucket. Counted; the clock only paces."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from shopbase_testkit import SHOP, TOKEN

from shared.data.shopbase_rate import SORT_KEY, ShopBaseRateStore, rate_table
from shared.shopbase.client import ShopBaseClient
from shared.shopbase.throttle import LeakyBucketThrottle, SharedShopThrottle, SharedThrottles
from simulators.shopbase import ShopBaseSimulator

BUSY, BUSY_TOKEN = "busy", "tok-busy"
# ShopBase's leak (2/s) and our headroom (2 slots: 1 s, what arrival times may scatter by, as a busy test
# machine's do); a small bucket keeps a run at seconds.
BURST, LEAK, HEADROOM = 8, 2.0, 2
CONTAINERS, CALLS = 8, 3


def bucket(burst: int = BURST, leak: float = LEAK) -> LeakyBucketThrottle:
    """A container's process bucket of the shop (its parameters are the shared limit's too)."""
    return LeakyBucketThrottle(burst, leak, headroom=HEADROOM)


class Writes:
    """Limiter requests (retries included) counted at botocore on one container's client, and how they ended."""

    def __init__(self, table: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # "written" or the error code (a refused condition)
        events = table.meta.client.meta.events
        events.register("before-call.dynamodb", self._count)
        events.register("after-call.dynamodb.UpdateItem", self._ended)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _ended(self, parsed: Any, **_: Any) -> None:
        self.outcomes[parsed.get("Error", {}).get("Code", "written")] += 1


def test_store_conditional_writes(table: Any) -> None:
    store = ShopBaseRateStore(rate_table(table.name))
    assert store.tat("acme") is None
    assert store.set_if_below("acme", 100.5, 100.0, 4000) == (True, 100.5)  # no item: an idle shop
    assert store.set_if_below("acme", 100.7, 100.2, 4000) == (False, 100.5)  # refused: the current TAT back
    assert store.advance("acme", 0.5, 100.0, 4000) == (True, 101.0)
    assert store.advance("acme", 0.5, 101.000001, 4000) == (False, 101.0)  # lagging: refused
    assert store.advance("other", 0.5, 0.0, 4000) == (False, None)
    item = table.get_item(Key={"pk": "SHOP#acme", "sk": SORT_KEY})["Item"]
    assert item == {"pk": "SHOP#acme", "sk": "SBRATE", "tat": pytest.approx(101), "expires_at": 4000}
    assert "entity" not in item  # the stream consumers' filters (entity = order) drop its records


def test_racing_containers_lose_no_booking(table: Any) -> None:
    # 8 containers book 25 slots each at one frozen instant, in threads: every booking is in the TAT.
    now = 1_700_000_000.0
    limiters = [SharedThrottles(ShopBaseRateStore(rate_table(table.name)), clock=lambda: now,
                                local_for=lambda _url: LeakyBucketThrottle())("acme", "u") for _ in range(8)]
    barrier = threading.Barrier(8)
    waits: list[float] = []

    def book(limiter: SharedShopThrottle) -> None:
        barrier.wait()
        waits.extend(limiter.reserve() for _ in range(25))

    threads = [threading.Thread(target=book, args=(limiter,)) for limiter in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ShopBaseRateStore(table).tat("acme") == pytest.approx(now + 200 * 0.5)
    assert sorted(waits) == pytest.approx([max(0.0, 0.5 * (k - 28)) for k in range(1, 201)])


def test_one_limiter_write_per_shopbase_call(table: Any, sim: ShopBaseSimulator) -> None:
    # One warm container, calls in turn: a shop that drains between calls (the idle path, SET) and a burst
    # into ShopBase's own 30 at 2/s (the busy path, ADD), headers observed.
    limiter_table = rate_table(table.name)
    ShopBaseRateStore(limiter_table).tat("warm")
    writes = Writes(limiter_table)
    sim.create_shop("quick", access_token="tok-quick", burst=30, leak_rate=1000.0)
    counts = {}
    for shop, token in (("quick", "tok-quick"), (SHOP, TOKEN)):
        order = sim.make_order(shop, emit=False)
        client = ShopBaseClient(shop, access_token=token, base_url=sim.shop_url(shop), max_retries=0,
                                throttles=SharedThrottles(ShopBaseRateStore(limiter_table)))
        writes.calls.clear()
        for _ in range(20):
            client.list_fulfillments(order["id"])
        counts[shop] = dict(writes.calls)
        assert sim.stats()["shops"][shop]["rate_limited"] == 0
    print(f"\nlimiter DynamoDB requests for 20 ShopBase calls: {counts}")
    assert counts == {"quick": {"UpdateItem": 20}, SHOP: {"UpdateItem": 20}}


def push_concurrently(sim: ShopBaseSimulator, throttle_of: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """CONTAINERS threads, each with its own client and limiter, make CALLS list calls on one shop at once;
    the shop's calls and 429s (the simulator's own count)."""
    sim.create_shop(BUSY, access_token=BUSY_TOKEN, burst=BURST, leak_rate=LEAK)
    order = sim.make_order(BUSY, emit=False)
    clients = [ShopBaseClient(BUSY, access_token=BUSY_TOKEN, base_url=sim.shop_url(BUSY), sleep=time.sleep,
                              max_retries=20, timeout=(1.0, 2.0), **throttle_of(i)) for i in range(CONTAINERS)]
    barrier = threading.Barrier(CONTAINERS)
    errors: list[BaseException] = []

    def container(client: ShopBaseClient) -> None:
        barrier.wait()
        try:
            for _ in range(CALLS):
                assert client.list_fulfillments(order["id"]) == []
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=container, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats: dict[str, Any] = sim.stats()["shops"][BUSY]
    return stats


def test_per_process_buckets_earn_429s(sim: ShopBaseSimulator) -> None:
    # Before issue 11: each container paces on its own bucket, a copy of the shop's; together they overspend.
    stats = push_concurrently(sim, lambda _i: {"throttle": bucket()})
    print(f"\nper-process buckets: {CONTAINERS} x {CALLS} calls, {stats['rate_limited']} answered 429 "
          f"({stats['calls_total']} requests)")
    assert stats["rate_limited"] > 0  # each container meets 429s until its own bucket learns from them
    assert stats["calls_total"] == CONTAINERS * CALLS + stats["rate_limited"]


def test_shared_limit_earns_no_429_and_one_write_per_call(table: Any, sim: ShopBaseSimulator) -> None:
    writes: list[Writes] = []

    def shared(_i: int) -> dict[str, Any]:  # a container: its own wiring, table client and process bucket
        limiter_table = rate_table(table.name)
        ShopBaseRateStore(limiter_table).tat("warm")  # a warm container: its client made its first call
        writes.append(Writes(limiter_table))
        return {"throttles": SharedThrottles(ShopBaseRateStore(limiter_table),
                                             local_for=lambda _url: bucket())}

    started = time.monotonic()
    stats = push_concurrently(sim, shared)
    elapsed = time.monotonic() - started
    total = sum((w.calls for w in writes), Counter())
    outcomes = sum((w.outcomes for w in writes), Counter())
    calls = CONTAINERS * CALLS
    print(f"\nshared limit: {calls} calls, {stats['rate_limited']} answered 429, limiter DynamoDB requests "
          f"{dict(total)} ({total['UpdateItem'] / calls:.3f} per ShopBase call: {dict(outcomes)}), {elapsed:.1f} s")
    assert stats["rate_limited"] == 0 and stats["calls_total"] == calls
    assert set(total) == {"UpdateItem"}  # never a read
    # Exactly one booking written per ShopBase call. Refused: a container's first guess ("idle": it has seen
    # nothing) on the busy shop, then the ADD; and a header counting more than the TAT holds (the same, rare).
    assert outcomes["written"] == calls
    assert outcomes["ConditionalCheckFailedException"] <= CONTAINERS - 1 + calls // 10
    assert elapsed >= (calls - (BURST - HEADROOM)) / LEAK - 0.5  # it really waited for the leak


class _Throttled:
    status_code = 400
    headers: dict[str, str] = {}


def test_a_throttled_table_falls_back_to_the_containers_bucket(table: Any, sim: ShopBaseSimulator,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    limiter_table = rate_table(table.name)
    writes = Writes(limiter_table)
    error = {"Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the allowed throughput."},
             "ResponseMetadata": {"HTTPStatusCode": 400}}

    def throttled(model: Any, **_: Any) -> Any:  # DynamoDB's answer to a throttled write, after `writes` counted
        return (_Throttled(), error) if model.name == "UpdateItem" else None

    limiter_table.meta.client.meta.events.register("before-call.dynamodb", throttled)
    throttles = SharedThrottles(ShopBaseRateStore(limiter_table), local_for=lambda _url: bucket(8, 10.0))
    sim.create_shop(BUSY, access_token=BUSY_TOKEN, burst=8, leak_rate=10.0)
    order = sim.make_order(BUSY, emit=False)
    client = ShopBaseClient(BUSY, access_token=BUSY_TOKEN, base_url=sim.shop_url(BUSY), throttles=throttles,
                            sleep=time.sleep, max_retries=0)
    with caplog.at_level(logging.WARNING, logger="shared.shopbase.throttle"):
        for _ in range(24):  # three bursts' worth, and no retry of a 429: only pacing gets them through
            assert client.list_fulfillments(order["id"]) == []  # never fails for the table
    assert writes.calls["UpdateItem"] == 1  # then the container's bucket for a while, without retrying the table
    assert sim.stats()["shops"][BUSY]["rate_limited"] == 0 and sum(client.calls.values()) == 24
    assert "shared limit unavailable (ThrottlingException)" in caplog.text
