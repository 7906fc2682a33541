"""Sync runs: the twice-daily run over every order waiting for AliExpress, and a shop's "sync now" run.

The starter (`start_scheduled_run`) claims the run (one per time slot) and enqueues one message per
SyncIndex shard. A shard message reads one page of keys, enqueues them as order messages of
≤ `keys_per_message` keys (and a continuation for the rest of the shard); an order message syncs its orders
and, when the invocation runs short of time, enqueues the rest. Every message is counted once (see
shared/data/sync_runs.py), so redeliveries after a crash neither lose nor double anything.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from shared.data.sync_runs import Counts, SyncRun
from shared.logic.order_sync import Syncer, SyncOutcome
from shared.models.order import utcnow
from shared.observability import logger

KEYS_PER_MESSAGE = 10  # orders per SQS message: small, so the last messages of a run finish together
SHARD_PAGE = 400  # keys read from one SyncIndex shard per shard message
MIN_SECONDS_PER_ORDER = 20.0  # stop taking orders when the invocation has less time than this left
TAKEOVER_AFTER = timedelta(minutes=5)


class RunStore(Protocol):
    """What a run needs from its store (shared.data.sync_runs.SyncRunRepository)."""

    def claim(self, run_id: str, *, kind: str, started_at: datetime, pending: int) -> bool: ...

    def take_over(self, run_id: str, *, claimed_before: datetime, now: datetime) -> bool: ...

    def get(self, run_id: str) -> SyncRun | None: ...

    def mark_enqueued(self, run_id: str) -> None: ...

    def commit(self, run_id: str, unit_id: str, counts: Counts, by_shop: dict[str, Counts], *,
               pending_delta: int, now: datetime) -> tuple[bool, int]: ...

    def finish_if_done(self, run_id: str, now: datetime, pending: int | None = None) -> bool: ...


class WorkQueue(Protocol):
    def send(self, messages: Sequence[dict[str, Any]]) -> None: ...


class SyncCandidates(Protocol):
    """The sparse index of orders waiting for AliExpress (shared.data.orders.OrderRepository)."""

    def sync_candidates(self, shard: int, *, limit: int = 500, cursor: dict[str, Any] | None = None
                        ) -> tuple[list[tuple[str, str]], dict[str, Any] | None]: ...


class ShardMessage(BaseModel):
    kind: str = "shard"
    run: str
    unit: str
    since: datetime
    shard: int
    cursor: dict[str, Any] | None = None


class OrdersMessage(BaseModel):
    kind: str = "orders"
    run: str
    unit: str
    since: datetime
    keys: list[tuple[str, str]]


@dataclass
class RunDeps:
    orders: SyncCandidates
    runs: RunStore
    queue: WorkQueue
    syncer: Syncer | None  # None for the starter, which never calls AliExpress
    shards: int
    clock: Callable[[], datetime] = utcnow
    keys_per_message: int = KEYS_PER_MESSAGE
    shard_page: int = SHARD_PAGE


@dataclass
class MessageReport:
    counts: Counts = field(default_factory=Counts)
    enqueued: int = 0
    counted: bool = True  # False: a redelivery of a message already counted
    run_ended: bool = False


@dataclass
class StartReport:
    run_id: str
    started: bool
    messages: int = 0


def slot_of(scheduled: datetime) -> str:
    """The run id of a scheduled time: its minute, UTC ("2026-11-26T12:00")."""
    return scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _cursor_tag(cursor: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(cursor, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()


def start_scheduled_run(deps: RunDeps, scheduled: datetime, *, takeover_after: timedelta = TAKEOVER_AFTER
                        ) -> StartReport:
    """Claim the slot's run and enqueue one message per shard; a second delivery of the slot does nothing.

    A starter that died between the claim and the enqueue is taken over by a later delivery of the same
    slot (after `takeover_after`): shard messages have fixed unit ids, so a duplicate is counted once.
    """
    run_id = slot_of(scheduled)
    now = deps.clock()
    if not deps.runs.claim(run_id, kind="scheduled", started_at=now, pending=deps.shards):
        if not deps.runs.take_over(run_id, claimed_before=now - takeover_after, now=now):
            logger.info("sync run already started for this slot", extra={"run_id": run_id})
            return StartReport(run_id, started=False)
        logger.warning("taking over a sync run whose starter did not finish", extra={"run_id": run_id})
        existing = deps.runs.get(run_id)
        since = existing.started_at if existing else now
    else:
        since = now
    messages = [ShardMessage(run=run_id, unit=f"s{shard}", since=since, shard=shard).model_dump(mode="json")
                for shard in range(deps.shards)]
    deps.queue.send(messages)
    deps.runs.mark_enqueued(run_id)
    logger.info("sync run started", extra={"run_id": run_id, "shards": deps.shards})
    return StartReport(run_id, started=True, messages=len(messages))


def orders_messages(run_id: str, unit: str, since: datetime, keys: Sequence[tuple[str, str]],
                    per_message: int = KEYS_PER_MESSAGE) -> list[dict[str, Any]]:
    return [OrdersMessage(run=run_id, unit=f"{unit}/{i}", since=since,
                          keys=list(keys[start:start + per_message])).model_dump(mode="json")
            for i, start in enumerate(range(0, len(keys), per_message))]


def start_shop_run(deps: RunDeps, shop: str, keys: Sequence[tuple[str, str]]) -> tuple[str, int]:
    """A "sync now" run for one shop's orders: enqueued like a scheduled run's pages."""
    now = deps.clock()
    run_id = f"now-{shop}-{now:%Y%m%dT%H%M%S%f}"
    messages = orders_messages(run_id, "n", now, keys, deps.keys_per_message)
    deps.runs.claim(run_id, kind="sync_now", started_at=now, pending=len(messages))
    deps.queue.send(messages)
    deps.runs.mark_enqueued(run_id)
    return run_id, len(messages)


def parse_message(body: str) -> ShardMessage | OrdersMessage:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("a sync message is a JSON object")
    try:
        return ShardMessage.model_validate(data) if data.get("kind") == "shard" else OrdersMessage.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"malformed sync message: {error.error_count()} errors") from error


def _shard_children(deps: RunDeps, message: ShardMessage) -> list[dict[str, Any]]:
    keys, cursor = deps.orders.sync_candidates(message.shard, limit=deps.shard_page, cursor=message.cursor)
    children = orders_messages(message.run, message.unit, message.since, keys, deps.keys_per_message)
    if cursor:
        children.append(ShardMessage(run=message.run, unit=f"s{message.shard}@{_cursor_tag(cursor)}",
                                     since=message.since, shard=message.shard, cursor=cursor
                                     ).model_dump(mode="json"))
    return children


def _sync_orders(syncer: Syncer, message: OrdersMessage, by_shop: dict[str, Counts],
                 time_left: Callable[[], float]) -> list[dict[str, Any]]:
    done = 0
    for shop, order_id in message.keys:
        if done and time_left() < MIN_SECONDS_PER_ORDER:
            break
        counts = by_shop.setdefault(shop, Counts())
        result = syncer.sync(shop, order_id)
        done += 1
        counts.examined += 1
        # Changed by this run, possibly by an earlier delivery of this same message that died uncounted.
        if result.outcome is SyncOutcome.CHANGED or (
                result.order is not None and result.order.last_synced_at is not None
                and result.order.last_synced_at >= message.since):
            counts.changed += 1
        if result.failed:
            counts.failed += 1
        if result.stalled:
            counts.stalled += 1
    rest = message.keys[done:]
    if not rest:
        return []
    # Out of time: the rest goes back on the queue as its own message.
    return [OrdersMessage(run=message.run, unit=f"{message.unit}+{done}", since=message.since,
                          keys=rest).model_dump(mode="json")]


def process_message(deps: RunDeps, message: ShardMessage | OrdersMessage,
                    time_left: Callable[[], float] = lambda: math.inf) -> MessageReport:
    """Do one message's work, enqueue its follow-ups, then count it (once). Raises → SQS redelivers it."""
    report = MessageReport()
    by_shop: dict[str, Counts] = {}
    if isinstance(message, ShardMessage):
        children = _shard_children(deps, message)
    else:
        if deps.syncer is None:
            raise RuntimeError("order messages need an OrderSyncer")
        children = _sync_orders(deps.syncer, message, by_shop, time_left)
    if children:
        deps.queue.send(children)
    report.enqueued = len(children)
    for counts in by_shop.values():
        report.counts.add(counts)
    now = deps.clock()
    report.counted, pending = deps.runs.commit(message.run, message.unit, report.counts, by_shop,
                                               pending_delta=len(children) - 1, now=now)
    if pending <= 0:
        report.run_ended = deps.runs.finish_if_done(message.run, now, pending)
        if report.run_ended:
            logger.info("sync run ended", extra={"run_id": message.run})
    return report
