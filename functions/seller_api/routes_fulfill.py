"""Manual fulfillment: POST /shops/{shop}/orders/{order_id}/fulfill adds the seller's package to the order;
the orders stream pushes it to ShopBase like a package found on AliExpress. Domain errors (NotFound, Conflict,
Invalid) are mapped by the app's error handlers."""

from __future__ import annotations

from shared import wiring
from shared.web import Response, Router, json_response, parse_body

router = Router()
OUTCOME_STATUS = {"created": 202, "retrying": 202, "unchanged": 200}


@router.post("/shops/<shop>/orders/<order_id>/fulfill")
def fulfill(shop: str, order_id: str) -> Response:
    # Imported here: the use case (and the order sync it reuses) is for this route only (cold start).
    from shared.logic.manual_fulfillment import ManualFulfillment, add_manual_package

    request = parse_body(router.current_event, ManualFulfillment)
    result = add_manual_package(wiring.orders(), shop, order_id, request)
    return json_response({"outcome": result.outcome, "order_id": order_id, "status": result.order.status.value,
                          "package": result.package.model_dump(mode="json")}, OUTCOME_STATUS[result.outcome])
