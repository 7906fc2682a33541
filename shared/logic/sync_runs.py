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
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field, ValidationError

from shared.data.sync_runs import Counts, SyncRun
from shared.models.order import utcnow
from shared.observability import logger
from shared.validation import validation_summary

if TYPE_CHECKING:  # the run starter never syncs an order: it need not import the AliExpress client at all
    from shared.logic.order_sync import Syncer

KEYS_PER_MESSAGE = 10  # orders per SQS message: small, so the last messages of a run finish together
SHARD_PAGE = 400  # keys read from one SyncIndex shard per shard message
MIN_SECONDS_PER_ORDER = 20.0  # stop taking orders when the invocation has less time than this left
TAKEOVER_AFTER = timedelta(minutes=5)
# The schedule (infra/template.yaml: cron(0 0,12 * * ? *), UTC): a slot is one of these hours, minute 0.
SLOT_HOURS = frozenset({0, 12})
# A slot older than this is refused (Scheduler itself gives up on an event after an hour,
# MaximumEventAgeInSeconds); SYNC_SLOT_MAX_AGE_SECONDS sets it. What covers a refused or missed slot: the
# next slot syncs every order still waiting (orders stay in SyncIndex until their status moves on), and
# "sync now" does at once for a shop.
SLOT_MAX_AGE = timedelta(hours=6)
# A slot ahead of now by more than this (clock skew) is refused too: its run id would block that slot's
# real run when it comes.
SLOT_MAX_AHEAD = timedelta(minutes=5)


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


MAX_KEYS_PER_MESSAGE = 1000  # far above what a run enqueues (KEYS_PER_MESSAGE), to refuse nonsense


class ShardMessage(BaseModel):
    kind: str = "shard"
    run: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=500)
    since: datetime
    shard: int = Field(ge=0, lt=256)
    cursor: dict[str, Any] | None = None


class OrdersMessage(BaseModel):
    kind: str = "orders"
    run: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=500)
    since: datetime
    keys: list[tuple[str, str]] = Field(max_length=MAX_KEYS_PER_MESSAGE)


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
    # Scheduled slots older (or further ahead) than this are refused; None: any slot on the schedule runs,
    # whatever its time (the local runtime fires slots "as if it were that time").
    slot_max_age: timedelta | None = None


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
    refused: str | None = None  # why the slot was refused (nothing claimed, nothing enqueued)


SYNC_NOW_PREFIX = "now-"  # run ids of "sync now" runs; scheduled runs are named by their slot


def is_scheduled_run(run_id: str) -> bool:
    return not run_id.startswith(SYNC_NOW_PREFIX)


def slot_of(scheduled: datetime) -> str:
    """The run id of a scheduled time: its minute, UTC ("2026-11-26T12:00")."""
    return scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _cursor_tag(cursor: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(cursor, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()


def slot_refusal(scheduled: datetime, now: datetime, max_age: timedelta | None) -> str | None:
    """Why `scheduled` is not a slot to run now (a sentence), or None: it must be on the schedule (00:00 or
    12:00 UTC, minute 0) and, with a `max_age`, neither older than it nor ahead of now."""
    at = scheduled.astimezone(UTC)
    if at.hour not in SLOT_HOURS or (at.minute, at.second, at.microsecond) != (0, 0, 0):
        return f"{at:%Y-%m-%dT%H:%M:%S}Z is not on the schedule (00:00 and 12:00 UTC)"
    if max_age is None:
        return None
    if now - at > max_age:
        return f"the slot {slot_of(at)} is older than {max_age}"
    if at - now > SLOT_MAX_AHEAD:
        return f"the slot {slot_of(at)} is ahead of now"
    return None


def start_scheduled_run(deps: RunDeps, scheduled: datetime, *, takeover_after: timedelta = TAKEOVER_AFTER,
                        check_age: bool = True) -> StartReport:
    """Claim the slot's run and enqueue one message per shard; a second delivery of the slot does nothing.

    A slot off the schedule, or (`check_age`) out of `deps.slot_max_age`, is refused: logged, nothing written.
    A starter that died between the claim and the enqueue is taken over by a later delivery of the same
    slot (after `takeover_after`): shard messages have fixed unit ids, so a duplicate is counted once.
    """
    run_id = slot_of(scheduled)
    now = deps.clock()
    refusal = slot_refusal(scheduled, now, deps.slot_max_age if check_age else None)
    if refusal is not None:
        logger.warning("sync slot refused", extra={"run_id": run_id, "reason": refusal})
        return StartReport(run_id, started=False, refused=refusal)
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
    run_id = f"{SYNC_NOW_PREFIX}{shop}-{now:%Y%m%dT%H%M%S%f}"
    messages = orders_messages(run_id, "n", now, keys, deps.keys_per_message)
    deps.runs.claim(run_id, kind="sync_now", started_at=now, pending=len(messages))
    deps.queue.send(messages)
    deps.runs.mark_enqueued(run_id)
    return run_id, len(messages)


class MalformedMessage(ValueError):
    """A sync message that can never be processed: its record fails alone and the redrive parks it in the DLQ."""


def parse_message(body: str, *, message_id: str | None = None) -> ShardMessage | OrdersMessage:
    """The message of one SQS record; MalformedMessage (logged with its reason) when it is not one."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise MalformedMessage("a sync message is a JSON object")
        return ShardMessage.model_validate(data) if data.get("kind") == "shard" else OrdersMessage.model_validate(data)
    except MalformedMessage as error:
        reason = str(error)
    except ValidationError as error:
        # Locations and messages only, never the input (it may be large, or anything at all).
        reason = f"{error.error_count()} errors: {validation_summary(error, root='body')}"
    except (ValueError, RecursionError) as error:
        reason = f"not JSON: {type(error).__name__}"
    logger.warning("malformed sync message", extra={"message_id": message_id, "reason": reason})
    raise MalformedMessage(f"malformed sync message: {reason}")


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
    from shared.logic.order_sync import SyncOutcome  # here: only the workers sync orders

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
