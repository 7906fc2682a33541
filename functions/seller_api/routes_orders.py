"""Manage Orders: list a shop's orders by tab with counts (rows: no address, no email), read one order."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared import wiring
from shared.models.errors import BadRequest, NotFound, shown
from shared.models.order import Order, OrderStatus
from shared.models.seller_api import OrderDetail, OrderRow
from shared.web import json_response

router = Router()
TABS = {"all": None, **{status.value: status for status in OrderStatus}}


def order_view(order: Order) -> dict[str, object]:
    """One order as the seller's detail page shows it (the customer's contact and address included)."""
    return OrderDetail.of(order).model_dump(mode="json")


def row_view(order: Order) -> dict[str, object]:
    """One order as a list shows it: the customer's name and country, never their address or email."""
    return OrderRow.of(order).model_dump(mode="json")


def _limit(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3):
        raise BadRequest("limit must be a number between 1 and 100")
    limit = int(raw)
    if not 1 <= limit <= 100:
        raise BadRequest("limit must be a number between 1 and 100")
    return limit


@router.get("/shops/<shop>/orders")
def list_orders(shop: str) -> Response:
    params = router.current_event.query_string_parameters or {}
    tab = params.get("tab", "all")
    if tab not in TABS:
        raise BadRequest(f"unknown tab {shown(tab, 20)!r}; one of {', '.join(TABS)}")
    limit = _limit(params.get("limit", "50"))
    orders = wiring.orders()
    page = orders.list_orders(shop, TABS[tab], limit=limit, cursor=params.get("cursor"))
    counts = orders.count_by_status(shop)
    return json_response({
        "tab": tab,
        "orders": [row_view(o) for o in page.orders],
        "next_cursor": page.cursor,
        "counts": {"all": sum(counts.values()), **{s.value: n for s, n in counts.items()}},
    })


@router.get("/shops/<shop>/orders/<order_id>")
def get_order(shop: str, order_id: str) -> Response:
    order = wiring.orders().get(shop, order_id)
    if order is None:
        raise NotFound.order(order_id)
    return json_response(order_view(order))
