"""Sync worker: consumes SyncQueue (shard pages and pages of order keys), reports partial batch failures.

A message that raises goes back to the queue (visibility timeout) and, after maxReceiveCount, to the DLQ.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.batch import batch_handler
from shared.logic.sync_runs import is_scheduled_run, parse_message, process_message
from shared.observability import logger, metrics


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    message = parse_message(record.body, message_id=record.message_id)

    def time_left() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000 if lambda_context else float("inf")

    try:
        # One set of clients (and one rate-budget holder) per container, per thread for the local runner.
        report = process_message(wiring.run_deps(True), message, time_left)
    except Exception:
        # Logged here (the batch processor only reports it); the message comes back, then goes to the DLQ.
        logger.exception("sync message failed", extra={"run_id": message.run, "unit": message.unit})
        raise
    counts = report.counts
    metrics.add_metric(name="SyncOrdersExamined", unit=MetricUnit.Count, value=counts.examined)
    metrics.add_metric(name="SyncOrdersChanged", unit=MetricUnit.Count, value=counts.changed)
    metrics.add_metric(name="SyncOrdersFailed", unit=MetricUnit.Count, value=counts.failed)
    metrics.add_metric(name="StalledTracking", unit=MetricUnit.Count, value=counts.stalled)
    if report.run_ended:
        # Scheduled runs only: the "run not ended" alarm compares them with SyncRunStarted.
        metrics.add_metric(name="SyncRunEnded" if is_scheduled_run(message.run) else "SyncNowRunEnded",
                           unit=MetricUnit.Count, value=1)
    logger.info("sync message done", extra={"run_id": message.run, "unit": message.unit, "kind": message.kind,
                                            "enqueued": report.enqueued, "counted": report.counted,
                                            **counts.model_dump()})


lambda_handler = batch_handler(EventType.SQS, record_handler, raise_on_entire_batch_failure=False)
