"""Manage Orders: a view of a shop's orders with counts (rows: no address, no email), the same view as CSV, one
order (its detail, and the detail page's view of it), the shop's header (connection, sync times, counts).

GET /shops/{shop}/orders?tab=&limit=&cursor=&q=&since=&until=&attention=   (shared.models.seller_api.OrderQuery)
GET /shops/{shop}/orders.csv?<the same view>
GET /shops/{shop}/orders/{order_id}           the stored order (OrderDetail)
GET /shops/{shop}/orders/{order_id}/view      the page's detail: the order, its row, linked SKUs, emails sent
GET /shops/{shop}/overview                    connection, last synced / next run / sync-now limit, counts
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import wiring
from shared.models.errors import NotFound
from shared.models.order import Order, OrderStatus
from shared.models.seller_api import OrderDetail, OrderList, OrderPageDetail, OrderQuery, OrderRow, ShopOverview
from shared.web import Response, Router, json_response

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

router = Router()
TABS = {"all": None, **{status.value: status for status in OrderStatus}}
ERRORS: dict[int, OpenAPIResponse] = {400: {"description": 'bad query ({"error": …})'},
                                      401: {"description": "no or wrong token"}}


def order_view(order: Order) -> dict[str, object]:
    """One order as the seller's detail page shows it (the customer's contact and address included)."""
    return OrderDetail.of(order).model_dump(mode="json")


def row_view(order: Order) -> dict[str, object]:
    """One order as a list shows it: the customer's name and country, never their address or email."""
    return OrderRow.of(order).model_dump(mode="json")


def json_of(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """OpenAPI: 200 with `model` as JSON, and the errors every view answers."""
    return {200: {"description": description, "content": {"application/json": {"model": model}}}, **ERRORS}


def query() -> OrderQuery:
    return OrderQuery.parse(dict(router.current_event.query_string_parameters or {}))


@router.get("/shops/<shop>/orders", summary="One page of a view of the shop's orders, with the tabs' counts",
            description="A tab (newest first), a date range, a search (every tab) or needs attention; query "
                        "parameters: see OrderQuery. Pages: pass next_cursor back as cursor.",
            responses=json_of(OrderList, "the page"), tags=["orders"])
def list_orders(shop: str) -> Response:
    return json_response(wiring.order_views().list_view(shop, query()).model_dump(mode="json"))


@router.get("/shops/<shop>/orders.csv", summary="The view as CSV (every page, up to 5,000 orders)",
            responses={200: {"description": "text/csv; X-Export-Truncated: true when more orders match",
                             "content": {"text/csv": {}}}, **ERRORS}, tags=["orders"])
def export_orders(shop: str) -> Response:
    export = wiring.order_views().export_csv(shop, query())
    name = f"orders-{shop}-{query().tab}.csv"
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=export.text,
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Export-Rows": str(export.rows), "X-Export-Truncated": str(export.truncated).lower(),
                             "Cache-Control": "no-store"})


@router.get("/shops/<shop>/orders/<order_id>", summary="One stored order",
            responses=json_of(OrderDetail, "the order"), tags=["orders"])
def get_order(shop: str, order_id: str) -> Response:
    order = wiring.orders().get(shop, order_id)
    if order is None:
        raise NotFound.order(order_id)
    return json_response(order_view(order))


@router.get("/shops/<shop>/orders/<order_id>/view", summary="One order as the detail page shows it",
            responses=json_of(OrderPageDetail, "the order, its row, linked SKUs, emails sent"), tags=["orders"])
def view_order(shop: str, order_id: str) -> Response:
    return json_response(wiring.order_views().detail(shop, order_id).model_dump(mode="json"))


@router.get("/shops/<shop>/overview", summary="The page's header: AliExpress connection, sync times, counts",
            responses=json_of(ShopOverview, "the shop's header"), tags=["shop"])
def overview(shop: str) -> Response:
    return json_response(wiring.order_views().overview(shop).model_dump(mode="json"))
