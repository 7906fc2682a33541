"""Scheduled start of the status sync (EventBridge Scheduler, 00:00 and 12:00 UTC).

Only claims the slot's run and enqueues one message per SyncIndex shard: seconds, whatever the order count.
The schedule passes `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`, so a retried or duplicated
delivery names the same slot and finds the run already claimed.

A delivery for a time that is not a slot of the schedule, not a time at all, older than
SYNC_SLOT_MAX_AGE_SECONDS or ahead of now (a replayed or hand-made event) is refused: logged, counted in the
SyncSlotRefused metric, answered normally (no retry), and no run record is written. The next slot syncs
every order still waiting; "sync now" covers a shop at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.logic.sync_runs import StartReport, start_scheduled_run
from shared.observability import logger, metrics, tracer


class NotATime(ValueError):
    """The event's scheduled time is not an ISO 8601 time."""


def scheduled_time(event: dict[str, Any], now: datetime) -> datetime:
    """The slot this delivery is for; without one (a manual invoke), the 00:00/12:00 slot we are in.
    NotATime when the event names something that is not a time."""
    raw = event.get("scheduled_time") or event.get("time")
    if raw is None or raw == "" or (isinstance(raw, str) and raw.startswith("<")):
        return now.replace(hour=now.hour - now.hour % 12, minute=0, second=0, microsecond=0)
    if not isinstance(raw, str) or len(raw) > 40:
        raise NotATime("scheduled_time is not a time")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise NotATime(f"scheduled_time is not a time ({error})") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _given(event: dict[str, Any]) -> bool:
    raw = event.get("scheduled_time") or event.get("time")
    return not (raw is None or raw == "" or (isinstance(raw, str) and raw.startswith("<")))


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = event if isinstance(event, dict) else {}
    try:
        when = scheduled_time(event, datetime.now(UTC))
    except NotATime as error:
        logger.warning("sync slot refused", extra={"reason": str(error)})
        report = StartReport("", started=False, refused=str(error))
    else:
        # A manual invoke (no time) is the slot we are in: a deliberate run, whatever the slot's age.
        report = start_scheduled_run(wiring.run_deps(False), when, check_age=_given(event))
    if report.refused is not None:
        metrics.add_metric(name="SyncSlotRefused", unit=MetricUnit.Count, value=1)
        return {"run_id": report.run_id, "started": False, "messages": 0, "refused": report.refused}
    metrics.add_metric(name="SyncRunStarted" if report.started else "SyncRunDuplicate", unit=MetricUnit.Count,
                       value=1)
    return {"run_id": report.run_id, "started": report.started, "messages": report.messages}
