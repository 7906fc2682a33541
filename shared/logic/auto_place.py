"""Auto-place hook for the webhook path: a paid, unplaced order of an auto_place shop goes to PlaceOrdersQueue.

Kept apart from shared.logic.placement so the webhook function does not import the AliExpress client.
Decided on the order's state, not on the webhook's outcome: a webhook redelivered after a failed send
sends again, and a duplicate message is harmless because the placement claim decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from shared.data.placement_queue import default_queue
from shared.data.shops import ShopRepository
from shared.models.order import Order, OrderStatus
from shared.observability import logger, metrics

CLOSED = "closed"  # Placement.request_id of a retired reference (see shared.logic.placement)
# The webhook's common path must stay one write and no read: the shop's switch is cached per container.
SETTINGS_TTL_SECONDS = 60.0
_auto_place_cache: dict[str, tuple[float, bool]] = {}


def auto_place_enabled(shops: ShopRepository, shop: str, clock: Callable[[], float] = time.monotonic) -> bool:
    now = clock()
    cached = _auto_place_cache.get(shop)
    if cached is not None and now - cached[0] < SETTINGS_TTL_SECONDS:
        return cached[1]
    settings = shops.get_settings(shop)
    enabled = bool(settings and settings.auto_place)
    _auto_place_cache[shop] = (now, enabled)
    return enabled


def enqueue_if_auto_place(shops: ShopRepository, order: Order | None,
                          send: Callable[[str, list[str]], None] | None) -> bool:
    """True when a placement message was sent for `order`."""
    if order is None or order.status is not OrderStatus.AWAITING_ORDER or order.fulfilled_in_store:
        return False
    if order.placement is not None and order.placement.request_id != CLOSED:
        return False  # a placement is under way or in doubt: the placer owns it
    if not auto_place_enabled(shops, order.shop):
        return False
    if send is None:
        # Never silently: the seller turned auto-place on and it cannot run here.
        logger.error("auto_place is on but no PlaceOrdersQueue is configured", extra={"shop": order.shop})
        metrics.add_metric(name="AutoPlaceNotConfigured", unit=MetricUnit.Count, value=1)
        return False
    send(order.shop, [order.order_id])
    metrics.add_metric(name="AutoPlaceQueued", unit=MetricUnit.Count, value=1)
    return True


def auto_place_hook(order: Order | None) -> bool:
    """The webhook's one call: production repositories and queue."""
    if order is None or order.status is not OrderStatus.AWAITING_ORDER:
        return False  # no read at all for the common case
    queue = default_queue()
    return enqueue_if_auto_place(ShopRepository(), order, queue.send if queue is not None else None)


def clear_settings_cache() -> None:
    """Forget cached auto_place switches (tests; a seller's change otherwise shows within the TTL)."""
    _auto_place_cache.clear()
