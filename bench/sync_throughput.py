"""Status sync throughput: the real starter + worker handlers over moto and the AliExpress simulator.

    .venv/bin/python bench/sync_throughput.py --orders 2000 --rate 20 --latency 0.15 --workers 24
    .venv/bin/python bench/sync_throughput.py --orders 2000 --rate 50 --latency 0.15 --workers 64

moto (local/moto_serial.py: moto's server, one request at a time, i.e. DynamoDB's per-request atomicity) and
the AliExpress simulator (`python -m simulators.aliexpress`) run as child processes on loopback: in-process
moto serialises every thread on its backend lock and the GIL, and its threaded server lets two conditional
updates of one item both pass, neither of which real DynamoDB does. The simulator stands for AliExpress's
gateway, whose clock is not delayed by this machine's load: it runs at a higher priority (--sim-nice, -10;
needs root, else ignored) with a short thread switch interval (--sim-switch-interval), so that it stamps a
request's arrival when the request arrives, not when its process or thread next gets the CPU.

Setup (not measured): N store orders across --shops shops in the table,
each with one AliExpress order placed on the simulator through the real client (no latency, no limit during
setup), a mix of unpaid, paid and shipped (--shipped, --paid). Then the simulator answers with --latency
seconds and refuses calls above --rate per sliding second (ApiCallLimit); ALIEXPRESS_CALLS_PER_SECOND = R.

Measured: the starter's handler claims the run and enqueues the shards; --workers OS processes (each a Lambda
"container": its own interpreter, clients and rate-budget holder; --threads > 1 runs that many containers as
threads of each process) call the worker's real handler with the batches one poller (this process, as
Lambda's event source mapping: a long poll of 2 messages while a container is free) hands them, until the run
records its end. The processes are started and their clients built before the clock starts (warm containers;
a cold start's imports on this shared 2-core machine would be measured as budget left unused). Then one
extra worker invocation runs under tracemalloc (in this process) for its peak memory.

Rate-budget figures: every DynamoDB call on the budget's items (pk RATE#aliexpress…) is counted by a botocore
hook in each container, with how many the table refused (ConditionalCheckFailed), next to the AliExpress calls;
client side, when each call was let through and when its request went to the socket (the shortest time that
R + 1 of them took: over 1 s, no sliding second held more than R), and how late the budget's sleeps woke.
`--budget max_batch=2` (any RateBudget keyword) compares settings.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
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
    """Counts DynamoDB writes per order item (sk ORDER#…), and every call on the rate budget's items (pk
    RATE#aliexpress…) with the refused ones, through botocore's event system (one per container)."""

    WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
    BUDGET_PK = "RATE#aliexpress"

    def __init__(self) -> None:
        self.by_order: Counter[str] = Counter()
        self.other = 0
        self.budget_calls: Counter[str] = Counter()  # by operation
        self.budget_refused = 0  # conditional writes the table refused
        self.ops: Counter[str] = Counter()  # every DynamoDB request, by operation
        self.lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self)
        client.meta.events.register("after-call.dynamodb.*", self.after_call)

    def __call__(self, params: dict[str, Any], model: Any, context: dict[str, Any] | None = None,
                 **_: Any) -> None:
        with self.lock:
            self.ops[model.name] += 1
        key = params.get("Key") or params.get("Item") or {}
        if str(key.get("pk", "")).startswith(self.BUDGET_PK):
            if context is not None:
                context["bench_budget"] = True
            with self.lock:
                self.budget_calls[model.name] += 1
            return
        if model.name not in self.WRITES:
            return
        sk = str(key.get("sk", ""))
        with self.lock:
            if sk.startswith("ORDER#"):
                self.by_order[sk[6:].lstrip("0")] += 1
            else:
                self.other += 1

    def after_call(self, parsed: dict[str, Any], context: dict[str, Any] | None = None, **_: Any) -> None:
        if context and context.get("bench_budget") and \
                (parsed.get("Error") or {}).get("Code") == "ConditionalCheckFailedException":
            with self.lock:
                self.budget_refused += 1

    def result(self) -> dict[str, Any]:
        with self.lock:
            return {"by_order": dict(self.by_order), "other": self.other, "budget_calls": dict(self.budget_calls),
                    "budget_refused": self.budget_refused, "ops": dict(self.ops)}


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20.0, help="AliExpress calls/s (hard limit and budget)")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per AliExpress call")
    parser.add_argument("--workers", type=int, default=24, help="worker processes (concurrent 'containers')")
    parser.add_argument("--threads", type=int, default=1,
                        help="containers per worker process (threads, each its own clients and budget holder)")
    parser.add_argument("--timeline", action="store_true", help="print the calls of every second of the run")
    parser.add_argument("--budget", action="append", default=[], metavar="OPTION=VALUE",
                        help="a RateBudget keyword option for the workers (e.g. max_batch=2), to compare settings")
    parser.add_argument("--sim-switch-interval", type=float, default=0.0005,
                        help="the simulator's thread switch interval (Python's default is 0.005): a request's "
                             "arrival is stamped without waiting for another of its threads' 5 ms turn")
    parser.add_argument("--sim-nice", type=int, default=-10,
                        help="nice value of the AliExpress simulator (0: as the rest): it stands for AliExpress's "
                             "gateway, whose clock is not delayed by this machine's load")
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--shipped", type=float, default=0.2, help="fraction shipped since the last sync")
    parser.add_argument("--paid", type=float, default=0.4, help="fraction paid, not shipped (unchanged)")
    args = parser.parse_args()
    moto_port, sim_port = free_port(), free_port()
    children = [
        subprocess.Popen([sys.executable, "-m", "local.moto_serial", "--port", str(moto_port)],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-c", SIMULATOR, str(args.sim_switch_interval), "--port", str(sim_port),
                          "--app-key", APP_KEY, "--app-secret", APP_SECRET, "--seed", "7"],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=(lambda: renice(args.sim_nice)) if args.sim_nice else None),
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


REQUEST_STAMP = re.compile(r'"request_id"\s*:\s*"[0-9a-f]{8}(\d{13})')
# `python -m simulators.aliexpress …` with the thread switch interval given first (see --sim-switch-interval).
SIMULATOR = ("import runpy, sys; sys.setswitchinterval(float(sys.argv.pop(1))); "
             "runpy.run_module('simulators.aliexpress', run_name='__main__', alter_sys=True)")


def renice(value: int) -> None:
    """In the child before exec: every thread it starts inherits the priority (needs root to raise it)."""
    with contextlib.suppress(OSError):
        os.nice(value)


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

    hook = WriteHook()
    hook.attach(wiring.table().meta.client)  # this process: the starter and the run-end polls

    # ---------------------------------------------------------------- the worker processes, warmed up
    spawn = multiprocessing.get_context("spawn")
    done = spawn.Event()
    reports: Any = spawn.Queue()
    # SQS → containers as Lambda's event source mapping does: one poller hands each batch to a free container.
    idle: Any = spawn.Semaphore(0)
    work: Any = spawn.Queue()
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "POWERTOOLS_", "ALIEXPRESS_", "SYNC_",
                                                                 "TABLE_NAME"))}
    budget_options = {k: float(v) if "." in v else int(v) for k, v in (o.split("=", 1) for o in args.budget)}
    config = {"queue_url": queue_url, "queue_arn": queue_arn, "threads": args.threads, "env": env,
              "budget": budget_options}
    processes = [spawn.Process(target=worker_process, args=(n, config, reports, idle, work), daemon=True)
                 for n in range(args.workers)]
    for p in processes:
        p.start()
    for _ in range(args.workers * args.threads):
        kind, detail = reports.get(timeout=600)
        if kind != "ready":
            raise RuntimeError(f"a worker process did not start: {detail}")

    # ---------------------------------------------------------------- measured: one scheduled run
    t0 = time.monotonic()
    wall0 = time.time()
    # No scheduled time: a manual invoke, the 00:00/12:00 slot we are in (a fixed slot ages out: refused).
    started = starter.lambda_handler({}, Context(function_name="bench-sync-status"))
    poller = threading.Thread(target=dispatch, args=(queue_url, idle, work, done), daemon=True)
    poller.start()
    run_id = started["run_id"]
    runs = wiring.sync_runs()
    while True:
        time.sleep(0.05)
        if runs.ended(run_id):  # a GetItem: moto answers every Query with a full scan
            break
        if not any(p.is_alive() for p in processes):
            break
    elapsed = time.monotonic() - t0
    wall_end = time.time()
    done.set()
    poller.join(timeout=10)
    for _ in range(args.workers * args.threads):
        work.put(None)
    results = []
    for _ in range(args.workers):
        try:
            results.append(reports.get(timeout=60))
        except Exception:  # a process died: its figures are missing (reported below)
            break
    for p in processes:
        p.join(timeout=10)
    stamps = sorted(t for r in results for t in r["stamps"])
    errors = [e for r in results for e in r["errors"]]
    for r in results:
        for oid, count in r["writes"]["by_order"].items():
            hook.by_order[oid] += count
        hook.other += r["writes"]["other"]
        hook.budget_calls.update(r["writes"]["budget_calls"])
        hook.budget_refused += r["writes"]["budget_refused"]
        hook.ops.update(r["writes"]["ops"])
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
    if stamps:
        print(f"  first call after the start  {stamps[0] - wall0:8.2f} s; run end after the last call "
              f"{wall_end - stamps[-1]:.2f} s (fan-out and tail)")
        span = stamps[-1] - stamps[0]
        print(f"  first to last call          {(len(stamps) - 1) / max(span, 1e-9) / args.rate:8.3f}   "
              f"({len(stamps)} calls in {span:.1f} s)")
    gaps = sorted(g for r in results for g in r["gaps"] if g < 10)  # longer: between runs' messages, idle
    if gaps:
        q = [gaps[min(len(gaps) - 1, int(len(gaps) * f))] for f in (0.1, 0.5, 0.9, 0.99)]
        print(f"  work between a container's calls (p10/p50/p90/p99) {' / '.join(f'{x * 1000:.0f}' for x in q)} ms")
    slept = sorted(x for r in results for x in r["overslept"])
    if slept:
        q = [slept[min(len(slept) - 1, int(len(slept) * f))] * 1000 for f in (0.5, 0.9, 0.99)]
        print(f"  budget sleeps overslept     p50 {q[0]:.1f} ms, p90 {q[1]:.1f} ms, p99 {q[2]:.1f} ms, "
              f"max {slept[-1] * 1000:.1f} ms ({len(slept)} sleeps)")
    invocations = sorted(h for r in results for h in r["handled"])
    if invocations:
        took = sorted(t for _, t, _ in invocations)
        print("  first invocations (received after the start / seconds taken) "
              + ", ".join(f"{at - wall0:.2f}/{t:.2f}" for at, t, _ in invocations[:6])
              + f"; median {took[len(took) // 2]:.2f} s")
    if len(stamps) > int(args.rate):
        span = min(stamps[i + int(args.rate)] - stamps[i] for i in range(len(stamps) - int(args.rate)))
        print(f"  shortest span of R + 1 calls {span:8.4f} s (client side; over 1 s: no sliding second holds R + 1)")
        sent = sorted(t for r in results for t in r["sends"])
        if len(sent) > int(args.rate):
            span = min(sent[i + int(args.rate)] - sent[i] for i in range(len(sent) - int(args.rate)))
            print(f"    … of R + 1 requests sent   {span:8.4f} s (when each went to the socket, after signing)")
            delays = sorted(b - a for r in results if len(r["sends"]) == len(r["stamps"])
                            for a, b in zip(r["stamps"], r["sends"], strict=True))
            if delays:
                q = [delays[min(len(delays) - 1, int(len(delays) * f))] * 1000 for f in (0.5, 0.99)]
                print(f"    permit to socket           p50 {q[0]:.1f} ms, p99 {q[1]:.1f} ms, "
                      f"max {delays[-1] * 1000:.1f} ms")
    arrived = sorted((a for r in results for a in r["arrivals"]), key=lambda a: a[1])
    if arrived:
        late_by = sorted(stamp - sent for sent, stamp, _ in arrived)
        q = [late_by[min(len(late_by) - 1, int(len(late_by) * f))] * 1000 for f in (0.5, 0.99)]
        print(f"    socket to the simulator's stamp p50 {q[0]:.1f} ms, p99 {q[1]:.1f} ms, "
              f"max {late_by[-1] * 1000:.1f} ms ({len(arrived)} answers; its clock in ms)")
        accepted = [a for a in arrived if not a[2]]
        for sent, stamp, refused in arrived:
            if refused:  # the accepted calls in the simulator's second before it, and when they were sent
                prior = [a for a in accepted if stamp - 1.0 < a[1] <= stamp]
                if prior:
                    print(f"    refused: {len(prior)} accepted in the second before (stamps), the first "
                          f"{stamp - prior[0][1]:.3f} s before; sent {sent - prior[0][0]:.4f} s after it")
    window = max((bisect.bisect_right(stamps, t + 1.0 - 1e-9) - i for i, t in enumerate(stamps)), default=0)
    print(f"  max calls in any 1 s window {window:8d}   (client side; max in a wall-clock second "
          f"{max(per_second.values(), default=0)})")
    if args.timeline and seconds:
        print("  calls per second            " + " ".join(str(per_second.get(s, 0))
                                                          for s in range(seconds[0], seconds[-1] + 1)))
    print(f"ApiCallLimit errors           {stats['api_call_limit_errors']:8d}   (goal 0)")
    print(f"peak accepted in any 1 s      {stats['peak_accepted_per_second']:8d}   (R = {args.rate:g})")
    print(f"calls per AliExpress order    {calls / ae_orders:8.3f}   (goal {1 + shipped_ae / ae_orders:.3f} "
          f"= 1 + tracking for the {shipped_ae} shipped)")
    print(f"DynamoDB writes per unchanged order {writes_unchanged / max(1, len(unchanged)):.4f} "
          f"({writes_unchanged} writes on {len(unchanged)} unchanged orders; goal 0)")
    print(f"order writes (changed orders) {sum(hook.by_order.values()) - writes_unchanged:8d}   "
          f"(shipped orders: {n_shipped})")
    print(f"other writes (runs, …)        {hook.other:8d}")
    budget_calls = sum(hook.budget_calls.values())
    print(f"budget store calls            {budget_calls:8d}   ({budget_calls / max(1, calls):.3f} per AliExpress "
          f"call; {hook.budget_refused} refused by their condition; {dict(hook.budget_calls)})")
    requests = sum(hook.ops.values())
    print(f"DynamoDB requests (workers)   {requests:8d}   ({requests / max(1, calls):.2f} per AliExpress call; "
          f"{dict(hook.ops.most_common())})")
    if run is not None:
        print(f"run record                    examined={run.totals.examined} changed={run.totals.changed} "
              f"failed={run.totals.failed} shops={len(run.shops)} pending={run.pending} "
              f"started={run.started_at:%H:%M:%S} ended={run.ended_at and f'{run.ended_at:%H:%M:%S}'}")
    print(f"worker peak memory (1 message of {len(keys)} orders, tracemalloc) {peak / 1024 / 1024:.1f} MiB")
    totals: dict[str, float] = defaultdict(float)
    for r in results:
        for name, value in r["budget"].items():
            totals[name] = max(totals[name], value) if name.startswith("max_") else totals[name] + value
    shown = {(k[:-2] + "_ms" if k.endswith("_s") and k.startswith("max_") else k):
             (round(v * 1000, 1) if k.startswith("max_") else round(v, 1) if isinstance(v, float) else v)
             for k, v in totals.items()}
    print(f"rate budget                   {shown}")
    print(f"worker processes              {len(results)} of {args.workers} reported, {args.threads} container(s) each"
          + (f"; budget options {args.budget}" if args.budget else ""))
    print(f"worker errors                 {len(errors)} {errors[:3]}")


def dispatch(queue_url: str, idle: Any, work: Any, done: Any) -> None:
    """The event source mapping: while a container is free, one long poll (one batch of 2, as the bench's
    batch size), handed to the first free container."""
    client = boto3.client("sqs")
    while not done.is_set():
        if not idle.acquire(timeout=0.2):
            continue
        batch = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=2, WaitTimeSeconds=1).get(
            "Messages", [])
        if batch:
            work.put(batch)
        else:
            idle.release()


def worker_process(n: int, config: dict[str, Any], reports: Any, idle: Any, work: Any) -> None:
    """One worker process: `threads` containers, each invoked with the batches the poller hands it."""
    os.environ.update(config["env"])
    if config["threads"] > 1:
        # Threads of one process stand for containers that on Lambda share no GIL: a short switch interval
        # keeps a thread woken for its rate-budget slot from queueing behind the others' Python work.
        sys.setswitchinterval(0.0005)
    from functions.sync_worker import app as worker
    from shared import wiring
    from shared.logic.rate_budget import RateBudget

    wiring.reset()
    if config["budget"]:  # the wiring builds RateBudget(store, R, headroom=…): other keyword defaults
        RateBudget.__init__.__kwdefaults__.update(config["budget"])  # type: ignore[union-attr]
    overslept: list[float] = []  # how much later than asked the budget's sleeps returned (a busy machine)

    def timed_sleep(seconds: float) -> None:
        asked = time.monotonic()
        time.sleep(seconds)
        overslept.append(time.monotonic() - asked - seconds)

    RateBudget.__init__.__kwdefaults__["sleep"] = timed_sleep  # type: ignore[index]
    stamps: list[float] = []
    real_acquire = RateBudget.acquire

    gaps: list[float] = []  # a container's time between one permit and asking for the next (its work)
    last_out: dict[int, float] = {}

    def recording_acquire(self: RateBudget, api_name: str = "") -> None:
        # Instrumentation only: when each call was let through by the budget (client side).
        asked = time.time()
        if id(self) in last_out:
            gaps.append(asked - last_out[id(self)])
        real_acquire(self, api_name)
        stamps.append(time.time())
        last_out[id(self)] = stamps[-1]

    RateBudget.acquire = recording_acquire  # type: ignore[method-assign]
    sends: list[float] = []  # when each AliExpress request went to the socket (after the client signed it)
    real_send = requests.Session.send
    gateway = config["env"]["ALIEXPRESS_GATEWAY_URL"]

    arrivals: list[tuple[float, float, bool]] = []  # (sent, the simulator's stamp, refused with ApiCallLimit)

    def recording_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        if not str(request.url).startswith(gateway):
            return real_send(self, request, **kwargs)
        sent = time.time()
        sends.append(sent)
        response = real_send(self, request, **kwargs)
        # The simulator's request id holds its clock (ms) when the call arrived, just before it was counted.
        stamp = REQUEST_STAMP.search(response.text)
        if stamp:
            arrivals.append((sent, int(stamp.group(1)) / 1000, "ApiCallLimit" in response.text))
        return response

    requests.Session.send = recording_send  # type: ignore[method-assign]
    hook = WriteHook()
    errors: list[str] = []
    budgets: list[Any] = []
    handled: list[tuple[float, float, int]] = []  # (received at, handler seconds, messages)
    queue_url, queue_arn = config["queue_url"], config["queue_arn"]

    def container() -> None:
        # A new thread is a new container for the wiring: its own clients and budget holder, built now (warm).
        try:
            wiring.run_deps(True)
            budgets.append(wiring.rate_budget())
            hook.attach(wiring.table().meta.client)
            client = boto3.client("sqs")
        except Exception as error:
            reports.put(("error", repr(error)))
            raise
        reports.put(("ready", n))
        while True:
            idle.release()  # free: the poller may hand this container a batch
            batch = work.get()
            if batch is None:
                return
            received = time.time()
            try:
                response = worker.lambda_handler(sqs_event(batch, queue_arn), Context())
                handled.append((received, time.time() - received, len(batch)))
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

    threads = [threading.Thread(target=container, daemon=True) for _ in range(config["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    budget: dict[str, float] = defaultdict(float)
    for b in budgets:
        for name, value in vars(b.stats).items():
            if isinstance(value, int | float):
                budget[name] = max(budget[name], value) if name.startswith("max_") else budget[name] + value
    reports.put({"n": n, "stamps": stamps, "sends": sends, "arrivals": arrivals, "overslept": overslept, "gaps": gaps,
                 "handled": handled, "errors": errors, "writes": hook.result(), "budget": dict(budget)})


if __name__ == "__main__":
    main()
