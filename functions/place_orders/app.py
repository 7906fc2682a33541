"""PlaceOrdersQueue worker: places one order per SQS message ({"shop", "order_id"}).

Final outcomes (placed, failed with a reason on the order, skipped) acknowledge the message. An in-doubt
placement (AliExpress did not answer; the reference stays open) or a claim held by another worker raises,
so the message comes back after the visibility timeout (partial batch failure) and, after maxReceiveCount,
lands in the DLQ, while the order itself still carries its state.

A malformed message (not JSON, not the shape below) is logged with its reason and reported failed on its own:
the rest of the batch is done, and the queue's redrive moves it to the DLQ after maxReceiveCount.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import wiring
from shared.batch import batch_handler
from shared.logic.placement import PlacementResult
from shared.models.shop import SHOP_NAME
from shared.observability import logger, metrics, tracer
from shared.validation import validation_summary


class PlacementMessage(BaseModel):
    """What shared.data.placement_queue sends: the order to place (strict: no type coercion)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    shop: str = Field(pattern=SHOP_NAME.pattern)
    order_id: str = Field(min_length=1, max_length=100)


class PlacementNotFinal(RuntimeError):
    """Raised so SQS redelivers the message later."""


class MalformedMessage(ValueError):
    """The message can never be placed: reported failed alone, so the redrive parks it in the DLQ."""


def parse(record: SQSRecord) -> PlacementMessage:
    try:
        return PlacementMessage.model_validate_json(record.body.encode("utf-8", "surrogateescape"))
    except ValidationError as error:
        reason = validation_summary(error, root="body")  # the input may be large (or anything at all)
    except (TypeError, KeyError, UnicodeError) as error:
        reason = f"unreadable record: {type(error).__name__}"
    logger.warning("malformed placement message", extra={"message_id": record.message_id, "reason": reason})
    metrics.add_metric(name="PlacementMessageMalformed", unit=MetricUnit.Count, value=1)
    raise MalformedMessage(reason)


@tracer.capture_method
def handle(record: SQSRecord) -> PlacementResult:
    message = parse(record)
    result = wiring.placer(wiring.WORKER_PROFILE).place(message.shop, message.order_id)
    if result.retryable:
        raise PlacementNotFinal(f"order {message.order_id}: {result.reason_code}")
    return result


# Every record failed (e.g. a batch of one malformed message) is reported like any partial failure, not
# raised: a raise would fail the invocation and hide which record was bad.
lambda_handler: Any = batch_handler(EventType.SQS, handle, raise_on_entire_batch_failure=False)
