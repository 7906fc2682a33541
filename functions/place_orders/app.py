"""PlaceOrdersQueue worker: places one order per SQS message ({"shop", "order_id"}).

Final outcomes (placed, failed with a reason on the order, skipped) acknowledge the message. An in-doubt
placement (AliExpress did not answer; the reference stays open) or a claim held by another worker raises,
so the message comes back after the visibility timeout (partial batch failure) and, after maxReceiveCount,
lands in the DLQ, while the order itself still carries its state.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared import wiring
from shared.batch import batch_handler
from shared.logic.placement import PlacementResult
from shared.observability import tracer


class PlacementNotFinal(RuntimeError):
    """Raised so SQS redelivers the message later."""


@tracer.capture_method
def handle(record: SQSRecord) -> PlacementResult:
    message = json.loads(record.body)
    shop, order_id = str(message["shop"]), str(message["order_id"])
    result = wiring.placer(wiring.WORKER_PROFILE).place(shop, order_id)
    if result.retryable:
        raise PlacementNotFinal(f"order {order_id}: {result.reason_code}")
    return result


lambda_handler = batch_handler(EventType.SQS, handle)
