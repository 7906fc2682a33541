"""Manage Orders: list a shop's orders by tab with counts, read one order."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from functions.seller_api.common import ApiError, json_response, orders
from shared.models.order import Order, OrderStatus

router = Router()
TABS = {"all": None, **{status.value: status for status in OrderStatus}}


def order_view(order: Order) -> dict[str, object]:
    """What the seller sees; the customer's address stays out of list pages."""
    return order.model_dump(mode="json", exclude={"body_hash", "version"})


@router.get("/shops/<shop>/orders")
def list_orders(shop: str) -> Response:
    params = router.current_event.query_string_parameters or {}
    tab = params.get("tab", "all")
    if tab not in TABS:
        raise ApiError(400, f"unknown tab {tab!r}; one of {', '.join(TABS)}")
    try:
        limit = int(params.get("limit", "50"))
    except ValueError as error:
        raise ApiError(400, "limit must be a number") from error
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be between 1 and 100")
    page = orders().list_orders(shop, TABS[tab], limit=limit, cursor=params.get("cursor"))
    counts = orders().count_by_status(shop)
    return json_response({
        "tab": tab,
        "orders": [order_view(o) for o in page.orders],
        "next_cursor": page.cursor,
        "counts": {"all": sum(counts.values()), **{s.value: n for s, n in counts.items()}},
    })


@router.get("/shops/<shop>/orders/<order_id>")
def get_order(shop: str, order_id: str) -> Response:
    order = orders().get(shop, order_id)
    if order is None:
        raise NotFoundError("order not found")
    return json_response(order_view(order))
