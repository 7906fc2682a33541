"""End to end in the local runtime, across several shops: webhook → placement → payment → the two syncs →
ShopBase fulfillment → customer email, for --orders store orders spread over --shops shops.

    .venv/bin/python bench/pipeline.py --orders 200 --shops 5
    .venv/bin/python bench/pipeline.py --orders 1000 --shops 10

Setup (not timed): a fresh local stack (`dropship run`'s: moto, every function of the template, the ShopBase and
AliExpress simulators), each shop onboarded and connected, the demo's products imported, priced and pushed.
Then, timed from the first webhook to the last email, the demo's happy path for every order at once: the store
sends the orders (webhooks duplicated and shuffled, as in the demo), each seller places all of its orders, pays
them on AliExpress, the 00:00 sync sees the payments, suppliers ship (AliExpress clock +26 h), the 12:00 sync
finds the parcels and the stream consumers push them to ShopBase and email the customers.

Printed: each phase's seconds, the end-to-end seconds, the tracking lags (found → fulfillment, found → email:
median, p95), how many orders ended fulfilled, fulfillments, emails, ShopBase 429s and AliExpress
`ApiCallLimit` refusals, and the process's peak memory (everything runs in this one process: `ru_maxrss`).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from bench.tracking_lag import describe, lags, packages  # noqa: E402
from local.demo import Demo, catalog, lines_for, order_payload, step_products, sync_at  # noqa: E402
from local.ses_outbox import read_backend  # noqa: E402
from local.stack import Stack, StackConfig  # noqa: E402
from local.stack_client import SellerApi, place_orders, time_travel_env  # noqa: E402
from local.world import onboard  # noqa: E402

SETTLE_TIMEOUT = 1800.0
# Powertools warns of every invocation that published no metric; the figures below are what this prints.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def settle(stack: Stack, what: str) -> None:
    if not stack.wait_idle(timeout=SETTLE_TIMEOUT):
        raise SystemExit(f"{what}: the stack did not settle within {SETTLE_TIMEOUT:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--shops", type=int, default=5)
    args = parser.parse_args()
    if args.orders < 1 or not 1 <= args.shops <= args.orders:
        parser.error("need at least one order and between 1 and --orders shops")
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as state:
        config = StackConfig(api_port=0, moto_port=0, aliexpress_port=0, shopbase_port=0, state_dir=Path(state),
                             function_log=Path(state) / "functions.log", log_level="WARNING",
                             extra_env=time_travel_env())
        stack = Stack(config)
        try:
            return run(stack, args.orders, args.shops, load_start)
        finally:
            stack.stop()


def run(stack: Stack, n_orders: int, n_shops: int, load_start: float) -> int:
    started = time.monotonic()
    stack.start()
    assert stack.shopbase is not None and stack.aliexpress is not None
    demos: list[Demo] = []
    for index in range(n_shops):
        handle = onboard(stack, f"bench-shop-{index + 1}", connect=True)
        demo = Demo(stack, handle, SellerApi(stack.api_url, handle.shop, handle.api_token), random.Random(index),
                    catalog())
        step_products(demo)
        demos.append(demo)
    settle(stack, "setup")
    setup = time.monotonic() - started
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.monotonic()
        phases[name] = now - since
        return now

    t0 = mark = time.monotonic()
    stack.shopbase.set_delivery(duplicate_rate=0.3, reorder=True)
    for number in range(1, n_orders + 1):
        demo = demos[(number - 1) % n_shops]
        payload = order_payload(demo, number, paid=True, variants=lines_for(demo, "happy"))
        stack.shopbase.create_order(demo.shop, payload)
    settle(stack, "webhooks")
    mark = phase("webhooks (store → Awaiting Order)", mark)
    # Each seller clicks "Place all", one after the other: on Lambda each request has a container of its own,
    # here they would share this one process, and ten at once outlast the route's answer time.
    placed = [place_orders(d.api, None) for d in demos if d.api is not None]
    settle(stack, "placement")
    mark = phase("placement (Place all, inline and by the worker)", mark)
    ae_ids = [str(order["order_id"]) for order in stack.aliexpress.orders()]
    stack.aliexpress.pay(ae_ids)
    sync_at(demos[0], 0)
    settle(stack, "sync 00:00")
    mark = phase("pay on AliExpress + the 00:00 sync", mark)
    stack.aliexpress.advance(seconds=26 * 3600)
    sync_at(demos[0], 12)
    settle(stack, "sync 12:00")
    phase("ship + the 12:00 sync → fulfillments → emails", mark)
    end_to_end = time.monotonic() - t0

    found = packages(stack.moto_url, stack.wiring.env["TABLE_NAME"])
    fulfilled = sum(d.counts().get("fulfilled", 0) for d in demos)
    shopbase = stack.shopbase.stats()["shops"]
    fulfillments = sum(sum(shopbase[d.shop]["fulfillments"].values()) for d in demos)
    rate_limited = sum(shopbase[d.shop]["rate_limited"] for d in demos)
    ae_stats = stack.aliexpress.stats()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    placed_outcomes = sum(len(p["results"]) for p in placed)
    print(f"pipeline, local runtime: {n_orders} store orders over {n_shops} shops, {len(ae_ids)} AliExpress orders, "
          f"{len(found)} packages; setup {setup:.0f} s; load {load_start:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end")
    for name, seconds in phases.items():
        print(f"  {name:<50} {seconds:7.1f} s")
    print(f"  {'end to end (first webhook → last email)':<50} {end_to_end:7.1f} s")
    print(f"  found → ShopBase fulfillment  {describe(lags(found, 'pushed_at'))}")
    print(f"  found → customer email        {describe(lags(found, 'notified_at'))}")
    print(f"  orders fulfilled {fulfilled}/{n_orders} (placement answered {placed_outcomes}); "
          f"fulfillments {fulfillments}, emails {len(read_backend())}, packages {len(found)}")
    print(f"  ShopBase 429s {rate_limited}; AliExpress ApiCallLimit {ae_stats['api_call_limit_errors']} "
          f"(errors {ae_stats['errors']}); peak memory {peak_mib:.0f} MiB (ru_maxrss, the whole stack in this process)")
    stuck = [(d, oid, status) for d in demos for oid, status in d.statuses().items() if status != "fulfilled"]
    for demo, oid, status in stuck[:20]:
        order = demo.api.order(oid)  # type: ignore[union-attr]
        print(f"  not fulfilled: {demo.shop} {oid} {status} ({order.get('reason_code')}: {order.get('reason')}); "
              f"ae_orders {order.get('ae_orders')}, packages {order.get('packages')}")
    return 0 if fulfilled == n_orders and fulfillments == len(found) else 1


if __name__ == "__main__":
    raise SystemExit(main())
