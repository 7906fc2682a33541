"""Orders stream -> the customer's tracking email (one per pushed package). Partial batch failures."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared import wiring
from shared.batch import order_stream_handler
from shared.observability import add_counts, logger, tracer


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    report = wiring.tracking_notifier().notify_record(record)
    if report is None:
        return
    add_counts(TrackingEmailSent=len(report.sent), TrackingEmailNotSent=len(report.not_sent))
    # Never the customer's address: order ids and counts only.
    logger.info("tracking email", extra={"shop": report.shop, "order_id": report.order_id,
                                         "emails_sent": len(report.sent),
                                         "emails_already_sent": len(report.already_sent),
                                         "emails_not_sent": len(report.not_sent), "gave_up": report.gave_up})


WORKERS = 8  # orders emailed at once

lambda_handler = order_stream_handler(record_handler, workers=WORKERS, before_workers=wiring.bind_container)
