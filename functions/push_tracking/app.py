"""Orders stream -> ShopBase fulfillments (one per package). Partial batch failures: a failed record is
delivered again (with the ones after it in its shard); the others of the batch are done."""

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
from shared.logic.tracking_push import (
    DEFAULT_MAX_ATTEMPTS,
    ShopBaseClientFactory,
    TrackingPusher,
    change_needing,
    push_needed,
)
from shared.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
_options: dict[str, Any] = {"max_attempts": DEFAULT_MAX_ATTEMPTS, "client": {}}


def configure(*, max_attempts: int | None = None, client: dict[str, Any] | None = None) -> None:
    """Change the pusher's limits (client timeouts, retries, sleep) and rebuild it on next use."""
    if max_attempts is not None:
        _options["max_attempts"] = max_attempts
    if client is not None:
        _options["client"] = client
    pusher.cache_clear()


@lru_cache(maxsize=1)
def pusher() -> TrackingPusher:
    return TrackingPusher(OrderRepository(), ShopRepository(), DeliveryLedger(),
                          ShopBaseClientFactory(dict(_options["client"])),
                          max_attempts=int(_options["max_attempts"]))


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    found = change_needing(record, push_needed)
    if found is None:
        return
    change, attempt_key = found
    report = pusher().push(change.shop, change.order_id, attempt_key=attempt_key)
    metrics.add_metric(name="FulfillmentCreated", unit=MetricUnit.Count, value=len(report.created))
    metrics.add_metric(name="FulfillmentFound", unit=MetricUnit.Count, value=len(report.found))
    metrics.add_metric(name="PushRefused", unit=MetricUnit.Count, value=len(report.refused))
    logger.info("tracking pushed", extra={"shop": change.shop, "order_id": change.order_id,
                                          "fulfillments_created": len(report.created),
                                          "fulfillments_found": len(report.found),
                                          "packages_refused": len(report.refused), "gave_up": report.gave_up,
                                          "status": report.status.value if report.status else None})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return dict(response)
