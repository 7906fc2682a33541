"""Sync now: POST /shops/{shop}/sync (the whole shop) and POST /shops/{shop}/orders/{id}/sync (one order).

Both spend the fleet's AliExpress rate budget (the same DynamoDB counter the scheduled sync uses), and each
shop has its own limits so one shop cannot starve the others: SHOP_SYNC_INTERVAL_S between whole-shop syncs,
ORDER_SYNCS_PER_MINUTE single-order syncs. Over a limit → 429 with Retry-After.
"""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from functions.seller_api.common import ApiError, json_response, orders
from functions.seller_api.routes_orders import order_view
from shared.data.links import LinkRepository
from shared.data.orders import shop_pk
from shared.data.rate_budget import IntervalGate, RateBudgetStore
from shared.data.sync_runs import Counts, SyncQueue, SyncRunRepository
from shared.lifecycle import SYNC_STATUSES
from shared.logic.sync import OrderSyncer, Outcome, RunDeps, build_accounts, start_shop_run, sync_queue_url
from shared.observability import logger

router = Router()
SHOP_SYNC_INTERVAL_S = 600
ORDER_SYNCS_PER_MINUTE = 30
INLINE_MAX = 5  # a shop with at most this many orders waiting is synced within the request
LIST_PAGE = 100


@lru_cache(maxsize=1)
def syncer() -> OrderSyncer:
    return OrderSyncer(orders(), build_accounts(), LinkRepository())


@lru_cache(maxsize=1)
def gate() -> IntervalGate:
    return IntervalGate()


def too_many(message: str, retry_after: float) -> Response:
    seconds = max(1, math.ceil(retry_after))
    return Response(status_code=429, content_type=content_types.APPLICATION_JSON,
                    headers={"Retry-After": str(seconds)},
                    body=json.dumps({"error": message, "retry_after": seconds}))


@router.post("/shops/<shop>/orders/<order_id>/sync")
def sync_order_now(shop: str, order_id: str) -> Response:
    now = time.time()
    minute = int(now // 60)
    # A per-shop, per-minute counter (the same conditional ADD as the AliExpress budget).
    allowed = RateBudgetStore(name=f"sync-now#{shop}", window_seconds=60).take(minute, 1, ORDER_SYNCS_PER_MINUTE)
    if not len(allowed):
        return too_many(f"Sync now is limited to {ORDER_SYNCS_PER_MINUTE} orders a minute per shop; "
                        "try again in a minute.", (minute + 1) * 60 - now)
    result = syncer().sync(shop, order_id)
    if result.order is None:
        raise NotFoundError("order not found")
    if result.outcome is Outcome.SKIPPED:
        raise ApiError(409, "This order is not waiting for AliExpress news (not placed yet, or already done).",
                       order_status=result.order.status.value)
    logger.info("sync now (order)", extra={"shop": shop, "order_id": order_id, "outcome": result.outcome.value})
    return json_response({"sync": {"outcome": result.outcome.value, "failed": result.failed, "error": result.error},
                          "order": order_view(result.order)})


@router.post("/shops/<shop>/sync")
def sync_shop_now(shop: str) -> Response:
    now = time.time()
    wait = gate().pass_once(shop_pk(shop), "SYNCNOW", now, SHOP_SYNC_INTERVAL_S)
    if wait > 0:
        return too_many(f"This shop was synced less than {SHOP_SYNC_INTERVAL_S // 60} minutes ago; "
                        f"try again in {math.ceil(wait / 60)} minute(s).", wait)
    keys: list[tuple[str, str]] = []
    for status in sorted(SYNC_STATUSES):
        cursor: str | None = None
        while True:
            page = orders().list_orders(shop, status, limit=LIST_PAGE, cursor=cursor)
            keys += [(shop, o.order_id) for o in page.orders if o.ae_orders and not o.fulfilled_in_store]
            cursor = page.cursor
            if not cursor:
                break
    if len(keys) <= INLINE_MAX:
        totals = Counts()
        for _, order_id in keys:
            result = syncer().sync(shop, order_id)
            totals.examined += 1
            totals.changed += result.outcome is Outcome.CHANGED
            totals.failed += result.failed
            totals.stalled += result.stalled
        return json_response({"mode": "inline", **totals.model_dump()})
    try:
        queue_url = sync_queue_url()
    except RuntimeError as error:
        raise ApiError(503, "Sync now for a whole shop is not available right now.") from error
    deps = RunDeps(orders=orders(), runs=SyncRunRepository(), queue=SyncQueue(queue_url), syncer=None, shards=0)
    run_id, messages = start_shop_run(deps, shop, keys)
    logger.info("sync now (shop) queued", extra={"shop": shop, "run_id": run_id, "orders": len(keys)})
    return json_response({"mode": "queued", "run_id": run_id, "orders": len(keys), "messages": messages}, 202)
