"""Sync now: POST /shops/{shop}/sync (the whole shop) and POST /shops/{shop}/orders/{id}/sync (one order).

The use case (`shared.logic.sync_now.SyncNow`) holds the per-shop limits and the inline-or-queued choice;
its domain errors (LimitReached → 429 with Retry-After, NotFound, Conflict, Unavailable) are mapped in app.py.
"""

from __future__ import annotations

from functions.seller_api.routes_orders import order_view
from shared import wiring
from shared.web import Response, Router, json_response

router = Router()


@router.post("/shops/<shop>/orders/<order_id>/sync")
def sync_order_now(shop: str, order_id: str) -> Response:
    synced = wiring.sync_now().sync_order(shop, order_id)
    return json_response({"sync": {"outcome": synced.outcome.value, "failed": synced.failed, "error": synced.error},
                          "order": order_view(synced.order)})


@router.post("/shops/<shop>/sync")
def sync_shop_now(shop: str) -> Response:
    synced = wiring.sync_now().sync_shop(shop)
    if synced.mode == "queued":
        return json_response({"mode": "queued", "run_id": synced.run_id, "orders": synced.orders,
                              "messages": synced.messages}, 202)
    return json_response({"mode": "inline", **synced.counts.model_dump()})
