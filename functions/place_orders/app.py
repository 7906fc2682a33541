"""PlaceOrdersQueue worker: places one order per SQS message ({"shop", "order_id"}).

Final outcomes (placed, failed with a reason on the order, skipped) acknowledge the message. An in-doubt
placement (AliExpress did not answer; the reference stays open) or a claim held by another worker raises,
so the message comes back after the visibility timeout (partial batch failure) and, after maxReceiveCount,
lands in the DLQ, while the order itself still carries its state.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.data.links import LinkRepository
from shared.data.orders import OrderRepository
from shared.data.shops import ShopRepository
from shared.logic.accounts import default_accounts
from shared.logic.placement import PlacementResult, Placer
from shared.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


class PlacementNotFinal(RuntimeError):
    """Raised so SQS redelivers the message later."""


@lru_cache(maxsize=1)
def placer() -> Placer:
    return Placer(OrderRepository(), LinkRepository(), default_accounts(), ShopRepository())


@tracer.capture_method
def handle(record: SQSRecord) -> PlacementResult:
    message = json.loads(record.body)
    shop, order_id = str(message["shop"]), str(message["order_id"])
    result = placer().place(shop, order_id)
    if result.retryable:
        raise PlacementNotFinal(f"order {order_id}: {result.reason_code}")
    return result


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))
