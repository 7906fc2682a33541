"""Orders stream -> the customer's tracking email (one per pushed package). Partial batch failures."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared import wiring
from shared.batch import batch_handler, stream_item_key
from shared.observability import logger, metrics, tracer


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    report = wiring.tracking_notifier().notify_record(record)
    if report is None:
        return
    metrics.add_metric(name="TrackingEmailSent", unit=MetricUnit.Count, value=len(report.sent))
    metrics.add_metric(name="TrackingEmailNotSent", unit=MetricUnit.Count, value=len(report.not_sent))
    # Never the customer's address: order ids and counts only.
    logger.info("tracking email", extra={"shop": report.shop, "order_id": report.order_id,
                                         "emails_sent": len(report.sent),
                                         "emails_already_sent": len(report.already_sent),
                                         "emails_not_sent": len(report.not_sent), "gave_up": report.gave_up})


# Records of different orders are handled at once, records of one order in stream order (each email waits mostly
# on the network; ShopBase's per-shop bucket paces the calls).
WORKERS = 8

lambda_handler = batch_handler(EventType.DynamoDBStreams, record_handler, group_of=stream_item_key, workers=WORKERS,
                               before_workers=wiring.bind_container)
