"""A seller's "place these orders" and "retry this order", answered within API Gateway's 30 s.

At most `max_inline` orders are placed in the request, and another one is only started while the invocation
has `per_order_budget_ms` left (one ds.order.create with its retry fits in it). The rest go to PlaceOrdersQueue
(outcome "queued"; the place_orders worker places them), or, where no queue is configured, come back as
"skipped" with reason_code "deferred" so the seller calls again. An in-doubt placement (AliExpress did not
answer) is queued for the worker after `retry_delay` seconds, under the same reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol

from shared.data.orders import OrderPage
from shared.data.placement_queue import QueueSendFailed
from shared.logic.placement import PlacementOutcome, PlacementResult, Placer
from shared.models.order import Order, OrderStatus
from shared.observability import logger

MAX_INLINE_ORDERS = 10
MAX_ORDERS_PER_CALL = 500
PER_ORDER_BUDGET_MS = 18_000
RETRY_DELAY_SECONDS = 60  # in-doubt placements are retried by the worker after this
IN_DOUBT = "AliExpress did not answer in time; it will be retried safely with the same reference"
TOO_MANY = "too many for one request: placed in the background"


class OrderLister(Protocol):
    def list_orders(self, shop: str, status: OrderStatus | None = None, *, limit: int = 50,
                    cursor: str | None = None) -> OrderPage: ...


class Queue(Protocol):
    def send(self, shop: str, order_ids: list[str], delay_seconds: int = 0) -> None: ...


@dataclass
class PlaceReport:
    results: list[PlacementResult]

    def as_dict(self) -> dict[str, Any]:
        summary = {outcome.value: sum(1 for r in self.results if r.outcome is outcome) for outcome in PlacementOutcome}
        return {"results": [r.as_dict() for r in self.results], "summary": summary}


@dataclass
class PlaceRequests:
    placer: Placer
    orders: OrderLister
    queue: Queue | None
    auto_place: Callable[[Order | None], bool]
    _: KW_ONLY
    max_inline: int = MAX_INLINE_ORDERS
    per_order_budget_ms: int = PER_ORDER_BUDGET_MS
    retry_delay: int = RETRY_DELAY_SECONDS

    def place(self, shop: str, order_ids: list[str] | None,
              remaining_ms: Callable[[], int] | None = None) -> PlaceReport:
        """Place these orders (None: every order in Awaiting Order, oldest first, up to MAX_ORDERS_PER_CALL).

        `remaining_ms` is the invocation's time left (None: no deadline). One result per order, in the order
        asked for.
        """
        wanted = list(dict.fromkeys(order_ids)) if order_ids is not None else self._awaiting_order_ids(shop)
        results: list[PlacementResult] = []
        in_doubt: list[PlacementResult] = []
        later: list[PlacementResult] = []
        for n, order_id in enumerate(wanted):
            if n >= self.max_inline or (n > 0 and remaining_ms is not None
                                        and remaining_ms() < self.per_order_budget_ms):
                later = [PlacementResult(oid, PlacementOutcome.SKIPPED, "not attempted in this request: place it again",
                                         "deferred") for oid in wanted[n:]]
                break
            result = self.placer.place(shop, order_id)
            if result.retryable and result.reason_code != "in_progress":
                in_doubt.append(result)
            else:
                results.append(result)
        results += self._defer(shop, in_doubt, self.retry_delay, IN_DOUBT)
        results += self._defer(shop, later, 0, TOO_MANY)
        position = {oid: n for n, oid in enumerate(wanted)}
        results.sort(key=lambda r: position.get(r.order_id, 0))
        return PlaceReport(results)

    def retry(self, shop: str, order_id: str) -> Order:
        """A failed order back to Awaiting Order (NotFound, Conflict when it is not failed). An auto_place
        shop's order is then placed in the background, as a new paid order would be."""
        order = self.placer.retry(shop, order_id)
        self.auto_place(order)
        return order

    def _awaiting_order_ids(self, shop: str) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        while len(ids) < MAX_ORDERS_PER_CALL:
            page = self.orders.list_orders(shop, OrderStatus.AWAITING_ORDER, limit=100, cursor=cursor)
            ids.extend(o.order_id for o in page.orders)
            cursor = page.cursor
            if not cursor:
                break
        # Oldest first: the customers who waited longest are served first.
        return list(reversed(ids[:MAX_ORDERS_PER_CALL]))

    def _defer(self, shop: str, pending: list[PlacementResult], delay: int, reason: str) -> list[PlacementResult]:
        """Queue these orders for the worker; where that is impossible, answer `pending` as it is."""
        if not pending or self.queue is None:
            return pending
        try:
            self.queue.send(shop, [r.order_id for r in pending], delay_seconds=delay)
        except QueueSendFailed:
            logger.exception("placement queue refused messages", extra={"shop": shop})
            return pending
        return [PlacementResult(r.order_id, PlacementOutcome.QUEUED, reason, "queued") for r in pending]
