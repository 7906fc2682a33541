"""Manual fulfillment: POST /shops/{shop}/orders/{order_id}/fulfill adds the seller's package to the order;
the orders stream pushes it to ShopBase like a package found on AliExpress."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.seller_api.common import ApiError, json_response, orders, parse_body
from shared.logic.tracking_push import FulfillmentRejected, ManualFulfillment, add_manual_package

router = Router()
STATUS_OF = {"created": 202, "retrying": 202, "unchanged": 200}


@router.post("/shops/<shop>/orders/<order_id>/fulfill")
def fulfill(shop: str, order_id: str) -> Response:
    request = parse_body(router.current_event.decoded_body, ManualFulfillment)
    if not order_id.isdigit():
        raise ApiError(404, "order not found")
    try:
        result = add_manual_package(orders(), shop, order_id, request)
    except FulfillmentRejected as error:
        raise ApiError(error.status, error.message, **error.extra) from error
    return json_response({"outcome": result.outcome, "order_id": order_id, "status": result.order.status.value,
                          "package": result.package.model_dump(mode="json")}, STATUS_OF[result.outcome])
