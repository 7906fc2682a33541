"""Orders stream -> the customer's tracking email (one per pushed package). Partial batch failures."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.data.notifications import DeliveryLedger
from shared.data.orders import OrderRepository
from shared.data.shops import ShopRepository
from shared.logic.notify import DEFAULT_MAX_ATTEMPTS, SesMailer, TrackingNotifier
from shared.logic.tracking_push import change_needing, notify_needed
from shared.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_options: dict[str, Any] = {"max_attempts": DEFAULT_MAX_ATTEMPTS}


def configure(*, max_attempts: int | None = None) -> None:
    if max_attempts is not None:
        _options["max_attempts"] = max_attempts
    notifier.cache_clear()
    mailer.cache_clear()


@lru_cache(maxsize=1)
def mailer() -> SesMailer:
    return SesMailer()


@lru_cache(maxsize=1)
def notifier() -> TrackingNotifier:
    return TrackingNotifier(OrderRepository(), ShopRepository(), DeliveryLedger(), mailer(),
                            max_attempts=int(_options["max_attempts"]))


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    found = change_needing(record, notify_needed)
    if found is None:
        return
    change, attempt_key = found
    report = notifier().notify(change.shop, change.order_id, attempt_key=attempt_key)
    metrics.add_metric(name="TrackingEmailSent", unit=MetricUnit.Count, value=len(report.sent))
    metrics.add_metric(name="TrackingEmailNotSent", unit=MetricUnit.Count, value=len(report.not_sent))
    # Never the customer's address: order ids and counts only.
    logger.info("tracking email", extra={"shop": change.shop, "order_id": change.order_id,
                                         "emails_sent": len(report.sent),
                                         "emails_already_sent": len(report.already_sent),
                                         "emails_not_sent": len(report.not_sent), "gave_up": report.gave_up})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return dict(response)
