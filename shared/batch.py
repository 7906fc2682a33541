"""The Lambda entry point of every batch consumer (SQS queues, DynamoDB streams): Powertools' partial batch
response, with logging, tracing and metrics around it. A consumer module writes only its record handler:

    lambda_handler = batch_handler(EventType.SQS, record_handler)

A failed record is reported alone (`batchItemFailures`); the event source retries it and then sends it to
its DLQ or on-failure destination, while the batch's other records are done. A processor per invocation:
the local runtime runs several containers of one function as threads, and a processor holds batch state.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.observability import logger, metrics, tracer
from shared.validation import MAX_SUMMARY, validation_summary

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]  # (event, Lambda context)


class UnreadableRecord(ValueError):
    """A record whose data did not validate, said without the data: pydantic's message quotes the input (an
    order image holds the customer's email and address), and a failed batch's errors end up in the logs."""


def without_inputs(record_handler: Callable[..., Any]) -> Callable[..., Any]:
    """`record_handler` with pydantic's errors re-raised as `UnreadableRecord` (Powertools passes the Lambda
    context only to a handler that names it, so the wrapper keeps the handler's signature)."""
    wants_context = "lambda_context" in inspect.signature(record_handler).parameters

    def call(record: Any, **kwargs: Any) -> Any:
        try:
            return record_handler(record, **kwargs)
        except ValidationError as error:
            raise UnreadableRecord(f"{error.title}: {validation_summary(error)}"[:MAX_SUMMARY]) from None

    if wants_context:
        @wraps(record_handler)
        def with_context(record: Any, lambda_context: Any = None) -> Any:
            return call(record, lambda_context=lambda_context)

        return with_context

    @wraps(record_handler)
    def handle(record: Any) -> Any:
        return call(record)

    return handle


def stream_item_key(record: dict[str, Any]) -> Hashable:
    """The stored item a DynamoDB stream record is about (its full key)."""
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    return tuple(sorted((name, str(value)) for name, value in keys.items()))


class GroupedBatchProcessor(BatchProcessor):
    """Powertools' BatchProcessor, with the batch's records handled `workers` groups at a time: records of one
    group (one stored item) one after the other in stream order, different groups at once. A record's work
    is mostly waiting for ShopBase or SES, so order k of a batch no longer waits for the k - 1 before it.
    The answer is the same partial batch response: Lambda resumes a shard from its lowest failed record.
    """

    def __init__(self, event_type: EventType, group_of: Callable[[dict[str, Any]], Hashable],
                 executor: ThreadPoolExecutor, **kwargs: Any) -> None:
        super().__init__(event_type=event_type, **kwargs)
        self._group_of = group_of
        self._executor = executor

    def process(self) -> list[tuple[Any, ...]]:
        groups: dict[Hashable, list[int]] = {}
        for index, record in enumerate(self.records):
            groups.setdefault(self._group_of(record), []).append(index)
        results: list[Any] = [None] * len(self.records)

        def run(indexes: list[int]) -> None:
            for index in indexes:
                results[index] = self._process_record(self.records[index])

        # Each worker runs in a copy of this context: the container's wiring (its clients) and Powertools' state.
        futures = [self._executor.submit(contextvars.copy_context().run, run, indexes) for indexes in groups.values()]
        for future in futures:
            future.result()
        return results


def batch_handler(event_type: EventType, record_handler: Callable[..., Any], *,
                  raise_on_entire_batch_failure: bool = True,
                  group_of: Callable[[dict[str, Any]], Hashable] | None = None, workers: int = 1,
                  before_workers: Callable[[], Any] | None = None) -> Handler:
    """`raise_on_entire_batch_failure=False` reports every record failed instead of raising when all fail:
    the same redelivery, clearer logs. With `group_of` and `workers` > 1 the records of different groups are
    handled at once (`GroupedBatchProcessor`); the worker threads live as long as the container, so each keeps
    the clients the wiring built for it; `before_workers` runs in the handler's thread before they start (the
    wiring's `bind_container`, so they share its scope)."""
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch") if group_of and workers > 1 \
        else None

    handle = without_inputs(record_handler)

    @logger.inject_lambda_context(log_event=False)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if before_workers is not None:
            before_workers()
        processor = (GroupedBatchProcessor(event_type, group_of, executor,
                                           raise_on_entire_batch_failure=raise_on_entire_batch_failure)
                     if executor is not None and group_of is not None else
                     BatchProcessor(event_type=event_type, raise_on_entire_batch_failure=raise_on_entire_batch_failure))
        return dict(process_partial_response(event=event, record_handler=handle, processor=processor,
                                             context=context))

    return lambda_handler


def order_stream_handler(record_handler: Callable[..., Any], *, workers: int,
                         before_workers: Callable[[], Any] | None = None) -> Handler:
    """The entry point of a consumer of the orders stream: records of different orders are handled `workers` at
    once, records of one order in stream order (each record's work waits mostly on the network; ShopBase's per-shop
    bucket paces the calls)."""
    return batch_handler(EventType.DynamoDBStreams, record_handler, group_of=stream_item_key, workers=workers,
                         before_workers=before_workers)
