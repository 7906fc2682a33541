"""Issue 10, item 4: the starter only runs a slot on the schedule (00:00 / 12:00 UTC, minute 0) and not older
than SYNC_SLOT_MAX_AGE_SECONDS (nor ahead of now): anything else is refused with a log line and the
SyncSlotRefused metric, and no run record is written. (A replayed 1970-01-01 event once made a run.)"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from functions.sync_status import app as starter
from shared import wiring
from shared.logic.sync_runs import SLOT_MAX_AGE, RunDeps, slot_refusal, start_scheduled_run
from shared.observability import logger
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_sync import InMemoryQueue, InMemorySyncRuns

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def deps(now: datetime, max_age: timedelta | None = SLOT_MAX_AGE) -> RunDeps:
    return RunDeps(orders=InMemoryOrders(), runs=InMemorySyncRuns(), queue=InMemoryQueue(), syncer=None, shards=2,
                   clock=lambda: now, slot_max_age=max_age)


@pytest.mark.parametrize(("scheduled", "why"), [
    (datetime(1970, 1, 1, tzinfo=UTC), "older"),
    (NOON - timedelta(hours=12), "older"),  # the previous slot, 12 h late
    (NOON + timedelta(hours=1), "schedule"),  # 13:00
    (NOON + timedelta(minutes=30), "schedule"),
    (NOON + timedelta(seconds=1), "schedule"),
    (NOON + timedelta(days=1), "ahead"),  # tomorrow's slot would block tomorrow's real run
])
def test_slots_off_the_schedule_or_out_of_time_are_refused(scheduled: datetime, why: str) -> None:
    d = deps(now=NOON + timedelta(minutes=3))
    report = start_scheduled_run(d, scheduled)
    assert not report.started and report.refused is not None and why in report.refused
    runs = d.runs
    assert isinstance(runs, InMemorySyncRuns) and runs.runs == {}  # no run record
    assert isinstance(d.queue, InMemoryQueue) and d.queue.bodies == []


def test_a_slot_on_time_runs_up_to_the_max_age() -> None:
    assert slot_refusal(NOON, NOON, SLOT_MAX_AGE) is None
    assert slot_refusal(NOON, NOON + SLOT_MAX_AGE, SLOT_MAX_AGE) is None  # a late retry, still in time
    assert slot_refusal(NOON, NOON + SLOT_MAX_AGE + timedelta(seconds=1), SLOT_MAX_AGE) is not None
    assert slot_refusal(NOON, NOON - timedelta(minutes=2), SLOT_MAX_AGE) is None  # clock skew
    assert slot_refusal(NOON.replace(hour=0), NOON.replace(hour=0) + timedelta(hours=1), SLOT_MAX_AGE) is None
    assert timedelta(hours=6) == SLOT_MAX_AGE
    report = start_scheduled_run(deps(now=NOON + timedelta(hours=5)), NOON)
    assert report.started and report.refused is None


def test_without_a_max_age_only_the_schedule_is_checked() -> None:
    # SYNC_SLOT_MAX_AGE_SECONDS=0: the local runtime fires slots "as if it were that time".
    d = deps(now=NOON, max_age=None)
    assert start_scheduled_run(d, datetime(2020, 1, 1, tzinfo=UTC)).started
    assert start_scheduled_run(d, NOON + timedelta(days=30)).started
    assert start_scheduled_run(d, NOON + timedelta(hours=3)).refused is not None


# ---------------------------------------------------------------- the function, on moto


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[union-attr]
    try:
        yield stream
    finally:
        logger.registered_handler.setStream(previous)  # type: ignore[union-attr]


@pytest.fixture
def wired_starter(table: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = boto3.client("sqs").create_queue(QueueName="sync")["QueueUrl"]
    monkeypatch.setenv("SYNC_QUEUE_URL", url)
    monkeypatch.setenv("SYNC_SHARDS", "2")
    monkeypatch.setenv("SYNC_SLOT_MAX_AGE_SECONDS", str(13 * 3600))  # the latest slot is always in time
    wiring.reset()
    yield table
    wiring.reset()


def run_items(table: Any) -> list[dict[str, Any]]:
    return list(table.scan(FilterExpression=Attr("pk").begins_with("SYNCRUN#"))["Items"])


def latest_slot(now: datetime) -> datetime:
    return now.replace(hour=now.hour - now.hour % 12, minute=0, second=0, microsecond=0)


@pytest.mark.parametrize("when", ["1970-01-01T00:00:00Z", "2026-11-26T13:00:00Z", "garbage", "2026-13-45T00:00:00Z",
                                  "9999-12-31T12:00:00Z", 12345])
def test_the_function_refuses_with_a_log_line_and_a_metric(wired_starter: Any, when: Any, lambda_context: Any,
                                                          logs: io.StringIO,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    answer = starter.lambda_handler({"scheduled_time": when}, lambda_context)
    assert answer["started"] is False and answer["refused"]
    assert run_items(wired_starter) == []
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("SyncSlotRefused") == [1.0] for line in emitted)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(line["message"] == "sync slot refused" and line.get("reason") for line in lines)


def test_the_function_runs_the_latest_slot_and_refuses_a_day_old_one(wired_starter: Any,
                                                                     lambda_context: Any) -> None:
    slot = latest_slot(datetime.now(UTC))
    answer = starter.lambda_handler({"scheduled_time": slot.strftime("%Y-%m-%dT%H:%M:%SZ")}, lambda_context)
    assert answer["started"] is True and answer["run_id"] == slot.strftime("%Y-%m-%dT%H:%M")
    old = slot - timedelta(days=1)
    refused = starter.lambda_handler({"scheduled_time": old.strftime("%Y-%m-%dT%H:%M:%SZ")}, lambda_context)
    assert refused["started"] is False and "older" in refused["refused"]
    assert [item["pk"] for item in run_items(wired_starter)] == [f"SYNCRUN#{answer['run_id']}"]
    # A manual invoke without a time: the slot we are in, whatever its age.
    manual = starter.lambda_handler({}, lambda_context)
    assert manual["run_id"] == answer["run_id"] and manual["started"] is False and not manual.get("refused")


def test_the_slots_are_the_templates_schedule() -> None:
    import re

    from local.template import load_template
    from shared.logic.sync_runs import SLOT_HOURS

    props = load_template()["Resources"]["SyncStatusFunction"]["Properties"]["Events"]["TwiceDaily"]["Properties"]
    minute, hours = re.fullmatch(r"cron\((\d+) ([\d,]+) \* \* \? \*\)", props["ScheduleExpression"]).groups()  # type: ignore[union-attr]
    assert (int(minute), {int(h) for h in hours.split(",")}) == (0, set(SLOT_HOURS))
    # Scheduler's own retries never outlive the starter's max age: a real late delivery is never refused.
    assert props["RetryPolicy"]["MaximumEventAgeInSeconds"] <= SLOT_MAX_AGE.total_seconds()
