"""Whole runs through the real starter and worker handlers on moto SQS: run once per slot, fan-out over
shards, counters and end time, and resumption after workers die mid-run (nothing lost, nothing doubled)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.sync_status import app as starter
from functions.sync_worker import app as worker
from shared import wiring
from shared.logic.sync_runs import RunDeps, parse_message, process_message, start_shop_run
from shared.models.order import OrderStatus
from tests.sync.conftest import BOTTLE_BLACK, SKIRT_SKU, World

SLOT = "2026-11-26T12:00:00Z"


class Crash(BaseException):
    """A worker dying (timeout, OOM): not an Exception, so nothing in the handler catches it."""


@pytest.fixture
def wired(run_deps: RunDeps) -> Iterator[RunDeps]:
    # The handlers' dependencies (through the wiring), pointed at the test's simulator and queue.
    run_deps.keys_per_message = 4
    run_deps.shard_page = 6
    wiring.override("run_deps", run_deps)
    yield run_deps


@pytest.fixture
def one_shard(aws: None) -> None:
    """Every order in SyncIndex shard 0 (taken before the world is built: the repository keeps its shards)."""
    wiring.override("settings", wiring.settings().model_copy(update={"sync_shards": 1}))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:sync"
              ) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "x",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": "us-east-1"} for m in messages]}


def receive(queue_url: str, n: int = 2) -> list[dict[str, Any]]:
    return list(boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=n,
                                                    AttributeNames=["All"]).get("Messages", []))


def drain(queue_url: str, context: Any, limit: int = 500) -> int:
    """Run the worker handler over the queue until it is empty, deleting what it reports done."""
    sqs = boto3.client("sqs")
    handled = 0
    for _ in range(limit):
        batch = receive(queue_url)
        if not batch:
            return handled
        response = worker.lambda_handler(sqs_event(batch), context)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in batch:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        handled += len(batch)
    raise AssertionError("queue did not drain")


def place_many(world: World, n: int, paid_every: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        order = world.place([(BOTTLE_BLACK if i % 2 else SKIRT_SKU, 1)], pay=(i % paid_every == 0))
        ids.append(order.order_id)
    return ids


def test_schedule_delivered_twice_runs_once(world: World, wired: RunDeps, queue_url: str,
                                            lambda_context: Any) -> None:
    ids = place_many(world, 14, paid_every=2)
    first = starter.lambda_handler({"scheduled_time": SLOT}, lambda_context)
    again = starter.lambda_handler({"scheduled_time": SLOT}, lambda_context)
    assert first == {"run_id": "2026-11-26T12:00", "started": True, "messages": wired.shards}
    assert again["started"] is False and again["messages"] == 0
    calls_before = sum(world.client.calls.values())
    drain(queue_url, lambda_context)
    # Every order was examined exactly once: one order.get each (unpaid or paid, nothing shipped).
    assert sum(world.client.calls.values()) - calls_before == len(ids)
    run = wiring.sync_runs().get("2026-11-26T12:00")
    assert run is not None and run.ended_at is not None and run.pending == 0
    assert run.totals.examined == 14 and run.totals.changed == 14 and run.totals.failed == 0
    assert run.shops == {world.shop: run.totals}
    paid = [i for n, i in enumerate(ids) if n % 2 == 0]
    assert {world.get(i).status for i in paid} == {OrderStatus.AWAITING_SHIPMENT}
    # A third delivery, after the run ended, still does nothing; the next slot is a new run.
    assert starter.lambda_handler({"scheduled_time": SLOT}, lambda_context)["started"] is False
    nxt = starter.lambda_handler({"scheduled_time": "2026-11-27T00:00:00Z"}, lambda_context)
    assert nxt["started"] is True
    drain(queue_url, lambda_context)
    second = wiring.sync_runs().get("2026-11-27T00:00")
    assert second is not None and second.totals.examined == 14 and second.totals.changed == 0
    assert second.ended_at is not None


def test_worker_dies_mid_run_and_the_retry_finishes(world: World, wired: RunDeps, queue_url: str,
                                                    lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = place_many(world, 20)  # all paid: every order changes exactly once
    starter.lambda_handler({"scheduled_time": SLOT}, lambda_context)
    sqs = boto3.client("sqs")
    real_sync = wired.syncer.sync  # type: ignore[union-attr]
    real_commit = wired.runs.commit
    real_add = wired.runs._add_once
    crashes = {"orders": 0, "commit": 0, "add": 0}

    def dying_sync(shop: str, order_id: str) -> Any:
        # Dies after 2 orders of the first orders message: those 2 are written, the message is not counted.
        if crashes["orders"] == 2:
            crashes["orders"] += 1
            raise Crash()
        crashes["orders"] += 1
        return real_sync(shop, order_id)

    def dying_commit(*args: Any, **kwargs: Any) -> tuple[bool, int]:
        # A shard message dies after enqueuing its pages, before counting itself.
        if crashes["commit"] == 0 and str(args[1]).startswith("s") and "/" not in str(args[1]):
            crashes["commit"] += 1
            raise Crash()
        return real_commit(*args, **kwargs)

    def dying_add(run_id: str, sk: str, unit_id: str, adds: dict[str, int], now: Any) -> bool:
        # An orders message dies half-way through counting: shop counters added, run counters not.
        if crashes["add"] == 0 and sk.startswith("CNT#") and "/" in unit_id:
            crashes["add"] += 1
            raise Crash()
        return real_add(run_id, sk, unit_id, adds, now)

    monkeypatch.setattr(wired.syncer, "sync", dying_sync)
    monkeypatch.setattr(wired.runs, "_add_once", dying_add)
    monkeypatch.setattr(wired.runs, "commit", dying_commit)
    dead = 0
    for _ in range(60):
        batch = receive(queue_url, 1)
        if not batch:
            break
        try:
            worker.lambda_handler(sqs_event(batch), lambda_context)
        except Crash:
            dead += 1
            # The message is not deleted: after the visibility timeout it is delivered again.
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=batch[0]["ReceiptHandle"],
                                          VisibilityTimeout=0)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=batch[0]["ReceiptHandle"])
    assert dead == 3
    drain(queue_url, lambda_context)
    run = wiring.sync_runs().get("2026-11-26T12:00")
    assert run is not None and run.ended_at is not None and run.pending == 0
    # Nothing lost, nothing doubled.
    assert run.totals.examined == 20 and run.totals.changed == 20 and run.totals.failed == 0
    assert run.shops == {world.shop: run.totals}
    for order_id in ids:
        order = world.get(order_id)
        assert order.status is OrderStatus.AWAITING_SHIPMENT
        assert [h.cause for h in order.history].count("seller_paid") == 1


def test_out_of_time_worker_hands_the_rest_on(world: World, wired: RunDeps, queue_url: str) -> None:
    ids = place_many(world, 6)
    run_id, messages = start_shop_run(wired, world.shop, [(world.shop, i) for i in ids])
    assert messages == 2
    (raw,) = receive(queue_url, 1)
    message = parse_message(raw["Body"])
    left = iter([100.0, 100.0, 5.0])
    report = process_message(wired, message, lambda: next(left))
    assert report.counts.examined == 3 and report.enqueued == 1  # the first order is always taken
    while batch := receive(queue_url, 1):
        process_message(wired, parse_message(batch[0]["Body"]))
        boto3.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=batch[0]["ReceiptHandle"])
    run = wiring.sync_runs().get(run_id)
    assert run is not None and run.kind == "sync_now" and run.totals.examined == 6 and run.ended_at is not None


def test_large_shard_is_paged_by_continuations(one_shard: None, world: World, wired: RunDeps, queue_url: str,
                                               lambda_context: Any) -> None:
    assert wired.shards == 1
    place_many(world, 15, paid_every=100)
    starter.lambda_handler({"scheduled_time": SLOT}, lambda_context)
    handled = drain(queue_url, lambda_context)
    # Pages of 6, 6, 3 keys: 1 shard message + 2 continuations, and 2 + 2 + 1 order messages (≤ 4 keys).
    assert handled == 3 + 5
    run = wiring.sync_runs().get("2026-11-26T12:00")
    assert run is not None and run.totals.examined == 15 and run.ended_at is not None


def test_malformed_message_is_reported_failed(wired: RunDeps, lambda_context: Any) -> None:
    event = sqs_event([{"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": "[1]", "MD5OfBody": "x"}])
    response = worker.lambda_handler(event, lambda_context)
    assert len(response["batchItemFailures"]) == 1
