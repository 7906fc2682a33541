"""Scheduled start of the status sync (EventBridge Scheduler, 00:00 and 12:00 UTC).

Only claims the slot's run and enqueues one message per SyncIndex shard: seconds, whatever the order count.
The schedule passes `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`, so a retried or duplicated
delivery names the same slot and finds the run already claimed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.logic.sync_runs import start_scheduled_run
from shared.observability import logger, metrics, tracer


def scheduled_time(event: dict[str, Any], now: datetime) -> datetime:
    """The slot this delivery is for; without one (a manual invoke), the 00:00/12:00 slot we are in."""
    raw = event.get("scheduled_time") or event.get("time")
    if isinstance(raw, str) and raw and not raw.startswith("<"):
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    return now.replace(hour=now.hour - now.hour % 12, minute=0, second=0, microsecond=0)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = start_scheduled_run(wiring.run_deps(False), scheduled_time(event, datetime.now(UTC)))
    metrics.add_metric(name="SyncRunStarted" if report.started else "SyncRunDuplicate", unit=MetricUnit.Count,
                       value=1)
    return {"run_id": report.run_id, "started": report.started, "messages": report.messages}
