"""Placing orders on AliExpress: POST /shops/{shop}/orders/place, POST /shops/{shop}/orders/{id}/retry.

Within API Gateway's 30 s: at most MAX_SYNC_ORDERS are placed in the request, and another one is only
started while the Lambda has PER_ORDER_BUDGET_MS left (one ds.order.create with its retry fits in it).
The rest go to PlaceOrdersQueue (outcome "queued"; the place_orders worker places them), or, where no queue
is configured, come back as "skipped" with reason_code "deferred" so the seller calls again.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.seller_api.common import ApiError, json_response, orders, parse_body, shops
from functions.seller_api.routes_orders import order_view
from shared.data.links import LinkRepository
from shared.data.placement_queue import QueueSendFailed, default_queue
from shared.logic.accounts import default_accounts
from shared.logic.auto_place import auto_place_hook
from shared.logic.placement import Outcome, PlacementResult, Placer
from shared.models.order import OrderStatus
from shared.observability import logger

router = Router()
MAX_SYNC_ORDERS = 10
MAX_ORDERS_PER_CALL = 500
PER_ORDER_BUDGET_MS = 18_000
RETRY_DELAY_SECONDS = 60  # in-doubt placements are retried by the worker after this


class PlaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    order_ids: list[str] | None = Field(default=None, max_length=MAX_ORDERS_PER_CALL)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> PlaceBody:
        if self.all == bool(self.order_ids):
            raise ValueError('give either "order_ids" (non-empty) or "all": true')
        return self


@lru_cache(maxsize=1)
def placer() -> Placer:
    accounts = default_accounts(timeout=(3.05, 8), max_retries=1)
    return Placer(orders(), LinkRepository(), accounts, shops())


def _awaiting_order_ids(shop: str) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while len(ids) < MAX_ORDERS_PER_CALL:
        page = orders().list_orders(shop, OrderStatus.AWAITING_ORDER, limit=100, cursor=cursor)
        ids.extend(o.order_id for o in page.orders)
        cursor = page.cursor
        if not cursor:
            break
    # Oldest first: the customers who waited longest are served first.
    return list(reversed(ids[:MAX_ORDERS_PER_CALL]))


def _remaining_ms() -> int:
    try:
        return int(router.lambda_context.get_remaining_time_in_millis())
    except AttributeError:
        return PER_ORDER_BUDGET_MS * 2


def _defer(shop: str, pending: list[PlacementResult], delay: int, reason: str) -> list[PlacementResult]:
    """Queue these orders for the worker; where that is impossible, answer `pending` as it is."""
    queue = default_queue()
    if not pending or queue is None:
        return pending
    try:
        queue.send(shop, [r.order_id for r in pending], delay_seconds=delay)
    except QueueSendFailed:
        logger.exception("placement queue refused messages", extra={"shop": shop})
        return pending
    return [PlacementResult(r.order_id, Outcome.QUEUED, reason, "queued") for r in pending]


@router.post("/shops/<shop>/orders/place")
def place_orders(shop: str) -> Response:
    body = parse_body(router.current_event.decoded_body, PlaceBody)
    wanted = list(dict.fromkeys(body.order_ids or [])) if not body.all else _awaiting_order_ids(shop)
    results: list[PlacementResult] = []
    in_doubt: list[PlacementResult] = []
    later: list[PlacementResult] = []
    for n, order_id in enumerate(wanted):
        if n >= MAX_SYNC_ORDERS or (n > 0 and _remaining_ms() < PER_ORDER_BUDGET_MS):
            later = [PlacementResult(oid, Outcome.SKIPPED, "not attempted in this request: place it again",
                                     "deferred") for oid in wanted[n:]]
            break
        result = placer().place(shop, order_id)
        if result.retryable and result.reason_code != "in_progress":
            in_doubt.append(result)
        else:
            results.append(result)
    results += _defer(shop, in_doubt, RETRY_DELAY_SECONDS,
                      "AliExpress did not answer in time; it will be retried safely with the same reference")
    results += _defer(shop, later, 0, "too many for one request: placed in the background")
    order = {oid: n for n, oid in enumerate(wanted)}
    results.sort(key=lambda r: order.get(r.order_id, 0))
    summary = {outcome.value: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome}
    return json_response({"results": [r.as_dict() for r in results], "summary": summary})


@router.post("/shops/<shop>/orders/<order_id>/retry")
def retry_order(shop: str, order_id: str) -> Response:
    try:
        order = placer().retry(shop, order_id)
    except ValueError as error:
        raise ApiError(409, str(error)) from error
    if order is None:
        raise NotFoundError("order not found")
    auto_place_hook(order)  # auto_place shops: placed again in the background, as a new paid order would be
    return json_response(order_view(order))
