"""Placing orders on AliExpress: POST /shops/{shop}/orders/place, POST /shops/{shop}/orders/{id}/retry.

The use case (shared.logic.place_request.PlaceRequests) holds the per-request bound and the inline-or-queued
choice; a retry answers 404 for an unknown order and 409 for one that is not failed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.seller_api.routes_orders import order_view
from shared import wiring
from shared.logic.place_request import MAX_ORDERS_PER_CALL
from shared.web import Response, Router, json_response, parse_body

router = Router()


class PlaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    order_ids: list[str] | None = Field(default=None, max_length=MAX_ORDERS_PER_CALL)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> PlaceBody:
        if self.all == bool(self.order_ids):
            raise ValueError('give either "order_ids" (non-empty) or "all": true')
        return self


@router.post("/shops/<shop>/orders/place")
def place_orders(shop: str) -> Response:
    body = parse_body(router.current_event, PlaceBody)
    remaining_ms = getattr(router.lambda_context, "get_remaining_time_in_millis", None)
    report = wiring.place_requests().place(shop, None if body.all else body.order_ids, remaining_ms)
    return json_response(report.as_dict())


@router.post("/shops/<shop>/orders/<order_id>/retry")
def retry_order(shop: str, order_id: str) -> Response:
    retried = wiring.place_requests().retry(shop, order_id)
    return json_response(order_view(retried))
