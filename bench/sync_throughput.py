"""Status sync throughput: the real starter + worker handlers over moto and the AliExpress simulator.

    .venv/bin/python bench/sync_throughput.py --orders 10000 --rate 20 --latency 0.15 --workers 24

moto (local/moto_serial.py: moto's server, one request at a time, i.e. DynamoDB's per-request atomicity) and
the AliExpress simulator (`python -m simulators.aliexpress`) run as child processes on loopback: in-process
moto serialises every thread on its backend lock and the GIL, and its threaded server lets two conditional
updates of one item both pass, neither of which real DynamoDB does.

Setup (not measured): N store orders across --shops shops in the table,
each with one AliExpress order placed on the simulator through the real client (no latency, no limit during
setup), a mix of unpaid, paid and shipped (--shipped, --paid). Then the simulator answers with --latency
seconds and refuses calls above --rate per sliding second (ApiCallLimit); ALIEXPRESS_CALLS_PER_SECOND = R.

Measured: the starter's handler claims the run and enqueues the shards; --workers threads (each a "container"
with its own clients and rate-budget holder) poll the moto SQS queue and call the worker's real handler
until the run records its end. Then one extra worker invocation runs under tracemalloc for its peak memory.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update({
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench", "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING", "TABLE_NAME": "bench-orders",
    "ALIEXPRESS_RATE_HEADROOM": os.environ.get("ALIEXPRESS_RATE_HEADROOM", "0"),
})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
import requests  # noqa: E402

APP_KEY, APP_SECRET = "bench-app", "bench-secret"
PRODUCT, SKU = "1005006001234567", "12000036000000001"
ADDRESS = {"address": "1 Main St", "city": "Austin", "province": "Texas", "country": "US", "zip": "78701",
           "full_name": "Jo Doe", "mobile_no": "5125550100", "phone_country": "+1"}


@dataclass
class Context:
    function_name: str = "bench-sync-worker"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench-sync-worker"
    aws_request_id: str = "bench"
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        self._started = time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_s - (time.monotonic() - self._started)) * 1000)


class WriteHook:
    """Counts DynamoDB writes per order item (sk ORDER#…), through botocore's event system."""

    WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

    def __init__(self) -> None:
        self.by_order: Counter[str] = Counter()
        self.other = 0
        self.lock = threading.Lock()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in self.WRITES:
            return
        key = params.get("Key") or params.get("Item") or {}
        sk = str(key.get("sk", ""))
        with self.lock:
            if sk.startswith("ORDER#"):
                self.by_order[sk[6:].lstrip("0")] += 1
            else:
                self.other += 1


def sqs_event(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "b",
                                        "ApproximateFirstReceiveTimestamp": "0"},
                         "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                         "eventSourceARN": arn, "awsRegion": "us-east-1"} for m in messages]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    # Each worker thread stands for its own Lambda container; on Lambda they share no GIL. A short switch
    # interval keeps a thread woken for its rate-budget slot from queueing behind the others' Python work.
    sys.setswitchinterval(0.0005)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20.0, help="AliExpress calls/s (hard limit and budget)")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per AliExpress call")
    parser.add_argument("--workers", type=int, default=24, help="worker threads (concurrent 'containers')")
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--shipped", type=float, default=0.2, help="fraction shipped since the last sync")
    parser.add_argument("--paid", type=float, default=0.4, help="fraction paid, not shipped (unchanged)")
    args = parser.parse_args()
    moto_port, sim_port = free_port(), free_port()
    children = [
        subprocess.Popen([sys.executable, "-m", "local.moto_serial", "--port", str(moto_port)],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "simulators.aliexpress", "--port", str(sim_port), "--app-key",
                          APP_KEY, "--app-secret", APP_SECRET, "--seed", "7"],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"
        wait_for(os.environ["AWS_ENDPOINT_URL"])
        sim_url = f"http://127.0.0.1:{sim_port}"
        wait_for(f"{sim_url}/_sim/config")
        run_bench(args, sim_url)
    finally:
        for child in children:
            child.terminate()
            child.wait(timeout=10)


class Sim:
    """The simulator's control API (`/_sim/<action>`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def __call__(self, action: str, **kwargs: Any) -> Any:
        if not kwargs and action in ("stats", "config"):
            response = self.session.get(f"{self.url}/_sim/{action}", timeout=30)
        else:
            response = self.session.post(f"{self.url}/_sim/{action}", json=kwargs, timeout=60)
        response.raise_for_status()
        return response.json()


def run_bench(args: argparse.Namespace, sim_url: str) -> None:
    from functions.sync_status import app as starter
    from functions.sync_worker import app as worker
    from local.template import load_template, table_create_args
    from shared import wiring
    from shared.aliexpress.client import AliExpressClient
    from shared.data.aliexpress_tokens import AliExpressTokenStore, StoredToken
    from shared.data.orders import encode_order
    from shared.logic import sync_runs
    from shared.models.order import AeOrder, LineItem, Order, OrderStatus

    t_setup = time.monotonic()
    sim = Sim(sim_url)
    sim("seed_product", product_id=PRODUCT, skus=[{"sku_id": SKU, "sku_attr": "", "stock": 10**9}])
    sqs = boto3.client("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="sync-dlq")["QueueUrl"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="sync", Attributes={
        "VisibilityTimeout": "720",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    os.environ.update({"SYNC_QUEUE_URL": queue_url, "ALIEXPRESS_GATEWAY_URL": sim_url,
                       "ALIEXPRESS_CALLS_PER_SECOND": str(args.rate)})
    wiring.reset()  # the settings above, read once
    settings = wiring.settings()
    boto3.client("dynamodb").create_table(**table_create_args(load_template(), "OrdersTable", settings.table_name))
    boto3.client("secretsmanager").create_secret(Name=settings.app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": APP_KEY, "aliexpress_app_secret": APP_SECRET, "state_signing_key": "k" * 32}))

    shops = [f"bench-shop-{i:03d}" for i in range(args.shops)]
    tokens = {}
    store = AliExpressTokenStore(wiring.aws_client("secretsmanager"), settings.aliexpress_token_prefix)
    for shop in shops:
        issued = sim("issue_token", expires_in=30 * 86400, refresh_expires_in=60 * 86400)
        tokens[shop] = issued["access_token"]
        store.put(shop, StoredToken(access_token=issued["access_token"], refresh_token=issued["refresh_token"],
                                    expire_time=int((time.time() + 30 * 86400) * 1000)))

    # AliExpress orders placed through the real client (no latency, no limit yet: setup is not measured).
    setup_client = AliExpressClient(sim_url, APP_KEY, APP_SECRET)
    n_shipped = int(args.orders * args.shipped)
    n_paid = int(args.orders * args.paid)

    def place(i: int) -> str:
        shop = shops[i % len(shops)]
        (ae_id,) = setup_client.create_order(
            tokens[shop], out_order_id=f"bench-{i}", logistics_address=ADDRESS,
            product_items=[{"product_id": PRODUCT, "product_count": 1, "sku_attr": ""}])
        if i < n_shipped:
            sim("ship", order_id=ae_id, mail_no=f"LPB{i:09d}")
        return ae_id

    with ThreadPoolExecutor(8) as pool:
        ae_ids = list(pool.map(place, range(args.orders)))
    sim("pay", order_ids=ae_ids[n_shipped:n_shipped + n_paid])
    now = datetime.now(UTC)
    table = wiring.table()
    kinds: dict[str, str] = {}
    with table.batch_writer() as batch:
        for i, ae_id in enumerate(ae_ids):
            order_id = str(100_000 + i)
            if i < n_shipped:
                kind, raw, logistics, status = "shipped", "WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_SEND_GOODS", \
                    OrderStatus.AWAITING_SHIPMENT
            elif i < n_shipped + n_paid:
                kind, raw, logistics, status = "paid", "WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_SEND_GOODS", \
                    OrderStatus.AWAITING_SHIPMENT
            else:
                kind, raw, logistics, status = "unpaid", "PLACE_ORDER_SUCCESS", "DEFAULT", \
                    OrderStatus.AWAITING_PAYMENT
            kinds[order_id] = kind
            order = Order(shop=shops[i % len(shops)], order_id=order_id, name=f"#{order_id}", status=status,
                          created_at=now - timedelta(days=1),
                          line_items=[LineItem(id=f"{order_id}-1", variant_id="v1", quantity=1)],
                          ae_orders=[AeOrder(ae_order_id=ae_id, order_status=raw, logistics_status=logistics,
                                             line_item_ids=[f"{order_id}-1"])], version=1)
            batch.put_item(Item=encode_order(order, settings.sync_shards))
    sim("configure", latency=args.latency, rate_limit=args.rate)
    sim("reset_stats")
    setup_s = time.monotonic() - t_setup

    # Instrumentation only: when each call was let through by the budget (client side).
    from shared.logic.rate_budget import RateBudget
    stamps: list[float] = []
    real_acquire = RateBudget.acquire

    def recording_acquire(self: RateBudget, api_name: str = "") -> None:
        real_acquire(self, api_name)
        stamps.append(time.time())

    RateBudget.acquire = recording_acquire  # type: ignore[method-assign]
    hook = WriteHook()

    def count_writes() -> None:
        # Every thread has its own table resource (the wiring builds one per thread): hook each of them.
        wiring.table().meta.client.meta.events.register("provide-client-params.dynamodb.*", hook)

    count_writes()

    # ---------------------------------------------------------------- measured: one scheduled run
    slot = "2026-11-26T12:00:00Z"
    t0 = time.monotonic()
    started = starter.lambda_handler({"scheduled_time": slot}, Context(function_name="bench-sync-status"))
    run_id = started["run_id"]
    runs = wiring.sync_runs()
    done = threading.Event()
    errors: list[str] = []
    handled = Counter[str]()

    budgets: list[Any] = []

    def work(n: int) -> None:
        count_writes()
        try:
            loop(n)
        finally:
            budgets.append(wiring.rate_budget())  # this thread's ("container's") budget holder

    def loop(n: int) -> None:
        client = boto3.client("sqs")
        idle_since: float | None = None
        while not done.is_set():
            batch = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=2).get("Messages", [])
            if not batch:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 30:
                    return
                time.sleep(0.5)  # an idle poller (no long polling: the serial moto would block on it)
                continue
            idle_since = None
            try:
                response = worker.lambda_handler(sqs_event(batch, queue_arn), Context())
            except Exception as error:  # a crashed invocation: its messages come back
                errors.append(repr(error))
                continue
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            for m in batch:
                if m["MessageId"] not in failed:
                    client.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                else:
                    errors.append("message failed")
                    client.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                     VisibilityTimeout=0)
            handled[str(n)] += len(batch)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(args.workers)]
    for t in threads:
        t.start()
    while True:
        time.sleep(0.5)
        if runs.ended(run_id):  # a GetItem: moto answers every Query with a full scan
            break
        if not any(t.is_alive() for t in threads):
            break
    elapsed = time.monotonic() - t0
    done.set()
    for t in threads:
        t.join(timeout=10)
    run = runs.get(run_id)
    stats = sim("stats")
    calls = sum(stats["calls"].values())

    # ---------------------------------------------------------------- peak memory of one worker invocation
    keys = [(shops[i % len(shops)], str(100_000 + i)) for i in range(min(sync_runs.KEYS_PER_MESSAGE, args.orders))]
    message = sync_runs.OrdersMessage(run="bench-memory", unit="m", since=datetime.now(UTC), keys=keys)
    sqs.send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())
    (raw,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)["Messages"]
    tracemalloc.start()
    worker.lambda_handler(sqs_event([raw], queue_arn), Context())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    unchanged = [oid for oid, kind in kinds.items() if kind != "shipped"]
    writes_unchanged = sum(hook.by_order.get(oid, 0) for oid in unchanged)
    ae_orders = args.orders
    shipped_ae = n_shipped
    print(f"orders={args.orders} shops={args.shops} rate={args.rate:g}/s latency={args.latency * 1000:.0f}ms "
          f"workers={args.workers} shipped={n_shipped} paid={n_paid} unpaid={args.orders - n_shipped - n_paid}")
    print(f"setup                         {setup_s:8.1f} s (not measured)")
    ended = run is not None and run.ended_at is not None
    print(f"run wall time                 {elapsed:8.1f} s   (run ended: {ended})")
    print(f"AliExpress calls              {calls:8d}   ({dict(stats['calls'])})")
    print(f"achieved calls/s ÷ R          {calls / elapsed / args.rate:8.3f}   ({calls / elapsed:.1f}/s over the "
          "whole run, fan-out and tail included; goal ≥ 0.95)")
    per_second = Counter(int(t) for t in stamps)
    seconds = sorted(per_second)
    if len(seconds) > 10:
        middle = seconds[len(seconds) // 10: -(len(seconds) // 10) or None]
        steady = sum(per_second[s] for s in middle) / len(middle)
        print(f"  steady state (middle 80 %)  {steady / args.rate:8.3f}   ({steady:.1f}/s)")
    stamps.sort()
    window = max((bisect.bisect_right(stamps, t + 1.0 - 1e-9) - i for i, t in enumerate(stamps)), default=0)
    print(f"  max calls in any 1 s window {window:8d}   (client side; max in a wall-clock second "
          f"{max(per_second.values(), default=0)})")
    print(f"ApiCallLimit errors           {stats['api_call_limit_errors']:8d}   (goal 0)")
    print(f"peak accepted in any 1 s      {stats['peak_accepted_per_second']:8d}   (R = {args.rate:g})")
    print(f"calls per AliExpress order    {calls / ae_orders:8.3f}   (goal {1 + shipped_ae / ae_orders:.3f} "
          f"= 1 + tracking for the {shipped_ae} shipped)")
    print(f"DynamoDB writes per unchanged order {writes_unchanged / max(1, len(unchanged)):.4f} "
          f"({writes_unchanged} writes on {len(unchanged)} unchanged orders; goal 0)")
    print(f"order writes (changed orders) {sum(hook.by_order.values()) - writes_unchanged:8d}   "
          f"(shipped orders: {n_shipped})")
    print(f"other writes (budget, runs)   {hook.other:8d}")
    if run is not None:
        print(f"run record                    examined={run.totals.examined} changed={run.totals.changed} "
              f"failed={run.totals.failed} shops={len(run.shops)} pending={run.pending} "
              f"started={run.started_at:%H:%M:%S} ended={run.ended_at and f'{run.ended_at:%H:%M:%S}'}")
    print(f"worker peak memory (1 message of {len(keys)} orders, tracemalloc) {peak / 1024 / 1024:.1f} MiB")
    stats_of = [budget.stats for budget in budgets]
    totals = {k: sum(getattr(st, k) for st in stats_of if st) for k in ("permits", "used", "wasted", "store_calls")}
    print(f"rate budget                   {totals} waited={sum(st.waited_s for st in stats_of if st):.0f}s")
    print(f"worker errors                 {len(errors)} {errors[:3]}")


if __name__ == "__main__":
    main()
