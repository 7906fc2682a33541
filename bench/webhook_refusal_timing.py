"""Webhook refusals by kind: does the answer's time tell which shops exist? (issue 10, item 12)

    .venv/bin/python bench/webhook_refusal_timing.py --rounds 400 --body-kb 64

The real webhook handler (functions/webhook_order/app.py) over in-process moto, with two shops registered.
Per round, in a shuffled order, one badly signed delivery of the same body for each kind:

- known shop, bad signature (its secret cached after the first round)
- unknown shop, a name asked again and again (the "no such secret" answer cached after the first round)
- a never-seen name each round (one Secrets Manager look-up each)
- a known shop's first delivery in this container, each round a freshly onboarded shop (one look-up each)

Prints the median and p90 of each kind in milliseconds. What must hold: the first two are equal within noise
(same work: one cached look-up + one HMAC over the body) and the last two are equal within noise (same work: one
Secrets Manager call + one HMAC). The difference between the pairs is "this container asked before", which a
known and an unknown name pay alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update({"AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "POWERTOOLS_TRACE_DISABLED": "true",
                   "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
                   "POWERTOOLS_METRICS_DISABLED": "true",
                   "TABLE_NAME": "bench-orders"})
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws  # noqa: E402

from local.template import load_template, table_create_args  # noqa: E402


def event(shop: str, body: bytes) -> dict[str, object]:
    return {"version": "2.0", "routeKey": "POST /webhooks/shopbase/{shop}/orders/paid",
            "rawPath": f"/webhooks/shopbase/{shop}/orders/paid", "rawQueryString": "",
            "headers": {"content-type": "application/json", "x-shopbase-hmac-sha256": "bm90LWEtc2lnbmF0dXJl"},
            "requestContext": {"http": {"method": "POST", "path": f"/webhooks/shopbase/{shop}/orders/paid",
                                        "sourceIp": "127.0.0.1"}, "requestId": "r", "stage": "$default"},
            "pathParameters": {"shop": shop}, "body": body.decode(), "isBase64Encoded": False}


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "bench", 512, "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--body-kb", type=int, default=64, help="size of the delivered body")
    args = parser.parse_args()
    order = json.loads((ROOT / "tests" / "fixtures" / "shopbase" / "order_paid.json").read_text())
    order["note"] = "x" * (args.body_kb * 1024)
    body = json.dumps(order).encode()
    with mock_aws():
        import boto3

        from functions.webhook_order import app
        from shared import wiring

        boto3.client("dynamodb").create_table(**table_create_args(load_template(), "OrdersTable", "bench-orders"))
        secrets = wiring.shop_secrets()
        secrets.put("known-store", {"webhook_secret": "whsec-known", "shopbase_access_token": "t"})
        context = Context()
        times: dict[str, list[float]] = {k: [] for k in ("known, cached", "unknown, asked before",
                                                          "never-seen name", "known, first in container")}
        for i in range(args.rounds):  # onboarded first: put() clears the secrets cache
            secrets.put(f"fresh-store-{i}", {"webhook_secret": "whsec-fresh", "shopbase_access_token": "t"})
        for i in range(args.rounds):
            fresh_known = f"fresh-store-{i}"
            kinds = [("known, cached", "known-store"), ("unknown, asked before", "no-such-store"),
                     ("never-seen name", f"never-seen-{i}"), ("known, first in container", fresh_known)]
            random.shuffle(kinds)
            for kind, shop in kinds:
                started = time.perf_counter()
                answer = app.lambda_handler(event(shop, body), context)
                elapsed = time.perf_counter() - started
                assert answer["statusCode"] == 401, answer
                if i > 0:  # the first round fills the caches of the first two kinds
                    times[kind].append(elapsed * 1000)
    print(f"webhook refusals, body {len(body) // 1024} KB, {args.rounds - 1} rounds, load {os.getloadavg()[0]:.2f}")
    for kind, values in times.items():
        values.sort()
        print(f"  {kind:28s} median {statistics.median(values):6.2f} ms   p90 {values[int(len(values) * .9)]:6.2f} ms")


if __name__ == "__main__":
    main()
