"""Sync worker: consumes SyncQueue (shard pages and pages of order keys), reports partial batch failures.

A message that raises goes back to the queue (visibility timeout) and, after maxReceiveCount, to the DLQ.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.logic.sync import RunDeps, build_run_deps, parse_message, process_message
from shared.observability import logger, metrics, tracer

# One set of clients (and one rate-budget holder) per container; per thread when a local runner drives
# several "containers" from one process.
_local = threading.local()


def deps() -> RunDeps:
    current: RunDeps | None = getattr(_local, "deps", None)
    if current is None:
        current = build_run_deps()
        _local.deps = current
    return current


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    message = parse_message(record.body)

    def time_left() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000 if lambda_context else float("inf")

    try:
        report = process_message(deps(), message, time_left)
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
        metrics.add_metric(name="SyncRunEnded", unit=MetricUnit.Count, value=1)
    logger.info("sync message done", extra={"run_id": message.run, "unit": message.unit, "kind": message.kind,
                                            "enqueued": report.enqueued, "counted": report.counted,
                                            **counts.model_dump()})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per invocation: its state must not be shared between threads of a local runner.
    # Report every failed message (even when all fail) instead of raising: the same redelivery, clearer logs.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
