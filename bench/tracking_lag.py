"""Tracking lag in the local runtime: the sync writes a tracking number → the ShopBase fulfillment → the email.

    .venv/bin/python bench/tracking_lag.py --orders 40

Plays the demo's story (`dropship demo`: webhooks, placement, payment, the 00:00 sync, shipping, the 12:00
sync) on a fresh local stack with --orders store orders, keeps the stack up, then reads every package from
the orders table (moto) and prints, over the packages the 12:00 sync found:

- found → pushed: the sync's write of the package (`found_at`) to our record of its ShopBase fulfillment
  (`pushed_at`, written right after ShopBase answered);
- found → emailed: to our record of the customer's email (`notified_at`).

Both ends are stamped by our code's clock, so the figures are lags through the stream, the consumers,
ShopBase's rate limit and SES — what a customer waits after the sync saw the parcel.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

from boto3.dynamodb.conditions import Attr  # noqa: E402

from local.demo import run_demo  # noqa: E402
from local.stack import StackConfig  # noqa: E402
from local.state_file import wait_for_json  # noqa: E402


def packages(moto_url: str, table_name: str) -> list[dict[str, Any]]:
    import boto3

    table = boto3.resource("dynamodb", endpoint_url=moto_url, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local").Table(table_name)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"FilterExpression": Attr("entity").eq("order")}
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            found.extend(item.get("packages") or [])
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def lags(found: list[dict[str, Any]], end: str) -> list[float]:
    out = []
    for package in found:
        if package.get("found_at") and package.get(end):
            start, stop = datetime.fromisoformat(package["found_at"]), datetime.fromisoformat(package[end])
            out.append((stop - start).total_seconds())
    return sorted(out)


def describe(values: list[float]) -> str:
    if not values:
        return "no packages"
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"median {statistics.median(values):6.1f} s   p95 {p95:6.1f} s   max {values[-1]:6.1f} s   n={len(values)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        # Port 0 everywhere: the stack takes free ports and says which in its state file.
        config = StackConfig(api_port=0, moto_port=0, aliexpress_port=0, shopbase_port=0,
                             state_dir=Path(state), function_log=Path(state) / "functions.log", log_level="WARNING")
        stop = threading.Event()
        result: dict[str, int] = {}
        started = time.monotonic()
        story = threading.Thread(target=lambda: result.update(code=run_demo(
            config, orders=args.orders, out=io.StringIO(), keep_running=True, stop=stop)), daemon=True)
        story.start()
        try:
            # The stack writes the file when it starts; the story's end rewrites it with the stack's environment.
            state_file = wait_for_json(Path(state) / "stack.json", timeout=1800, until=lambda c: "env" in c,
                                       alive=story.is_alive)
            played = time.monotonic() - started
            found = packages(state_file["moto"], state_file["env"]["TABLE_NAME"])
        finally:
            stop.set()
            story.join(timeout=60)
    print(f"tracking lag, local runtime, {args.orders} store orders, {len(found)} packages, story {played:.0f} s, "
          f"load {os.getloadavg()[0]:.2f} (demo check: {'ok' if result.get('code') == 0 else result.get('code')})")
    print(f"  found → ShopBase fulfillment  {describe(lags(found, 'pushed_at'))}")
    print(f"  found → customer email        {describe(lags(found, 'notified_at'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
