"""Orders stream -> ShopBase fulfillments (one per package). Partial batch failures: a failed record is
delivered again (with the ones after it in its shard); the others of the batch are done."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared import wiring
from shared.batch import batch_handler, stream_item_key
from shared.observability import logger, metrics, tracer


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    report = wiring.tracking_pusher().push_record(record)
    if report is None:
        return
    metrics.add_metric(name="FulfillmentCreated", unit=MetricUnit.Count, value=len(report.created))
    metrics.add_metric(name="FulfillmentFound", unit=MetricUnit.Count, value=len(report.found))
    metrics.add_metric(name="PushRefused", unit=MetricUnit.Count, value=len(report.refused))
    logger.info("tracking pushed", extra={"shop": report.shop, "order_id": report.order_id,
                                          "fulfillments_created": len(report.created),
                                          "fulfillments_found": len(report.found),
                                          "packages_refused": len(report.refused), "gave_up": report.gave_up,
                                          "status": report.status.value if report.status else None})


# Records of different orders are handled at once, records of one order in stream order (each push waits mostly
# on the network; ShopBase's per-shop bucket paces the calls).
WORKERS = 8

lambda_handler = batch_handler(EventType.DynamoDBStreams, record_handler, group_of=stream_item_key, workers=WORKERS,
                               before_workers=wiring.bind_container)
