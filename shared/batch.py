"""The Lambda entry point of every batch consumer (SQS queues, DynamoDB streams): Powertools' partial batch
response, with logging, tracing and metrics around it. A consumer module writes only its record handler:

    lambda_handler = batch_handler(EventType.SQS, record_handler)

A failed record is reported alone (`batchItemFailures`); the event source retries it and then sends it to
its DLQ or on-failure destination, while the batch's other records are done. A processor per invocation:
the local runtime runs several containers of one function as threads, and a processor holds batch state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger, metrics, tracer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]  # (event, Lambda context)


def batch_handler(event_type: EventType, record_handler: Callable[..., Any], *,
                  raise_on_entire_batch_failure: bool = True) -> Handler:
    """`raise_on_entire_batch_failure=False` reports every record failed instead of raising when all fail:
    the same redelivery, clearer logs."""

    @logger.inject_lambda_context(log_event=False)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        processor = BatchProcessor(event_type=event_type, raise_on_entire_batch_failure=raise_on_entire_batch_failure)
        return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                             context=context))

    return lambda_handler
