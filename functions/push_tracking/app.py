"""Orders stream -> ShopBase fulfillments (one per package). Partial batch failures: a failed record is
delivered again (with the ones after it in its shard); the others of the batch are done."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared import wiring
from shared.batch import order_stream_handler
from shared.observability import add_counts, logger, tracer


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    report = wiring.tracking_pusher().push_record(record)
    if report is None:
        return
    add_counts(FulfillmentCreated=len(report.created), FulfillmentFound=len(report.found),
               PushRefused=len(report.refused))
    logger.info("tracking pushed", extra={"shop": report.shop, "order_id": report.order_id,
                                          "fulfillments_created": len(report.created),
                                          "fulfillments_found": len(report.found),
                                          "packages_refused": len(report.refused), "gave_up": report.gave_up,
                                          "status": report.status.value if report.status else None})


WORKERS = 8  # orders pushed at once

lambda_handler = order_stream_handler(record_handler, workers=WORKERS, before_workers=wiring.bind_container)
