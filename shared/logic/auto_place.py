"""Auto-place: a paid, unplaced order of an auto_place shop goes to PlaceOrdersQueue (after a webhook, after a
seller's retry).

Kept apart from shared.logic.placement so the webhook function does not import the AliExpress client.
Decided on the order's state, not on the webhook's outcome: a webhook redelivered after a failed send
sends again, and a duplicate message is harmless because the placement claim decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from shared.models.order import Order, OrderStatus
from shared.models.shop import ShopSettings
from shared.observability import logger, metrics

CLOSED = "closed"  # Placement.request_id of a retired reference (see shared.logic.placement)
# The webhook's common path must stay one write and no read: the shop's switch is cached per container.
SETTINGS_TTL_SECONDS = 60.0


class SettingsReader(Protocol):
    def get_settings(self, shop: str) -> ShopSettings | None: ...


class AutoPlacer:
    """`auto_placer(order)` → True when a placement message was sent for `order`.

    `send(shop, order_ids)` is PlaceOrdersQueue's; None where this function has no queue (then an
    auto_place shop's order is logged and counted, never dropped silently). A failed send raises.
    """

    def __init__(self, shops: SettingsReader, send: Callable[[str, list[str]], None] | None, *,
                 ttl: float = SETTINGS_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._shops = shops
        self._send = send
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

    def __call__(self, order: Order | None) -> bool:
        if order is None or order.status is not OrderStatus.AWAITING_ORDER or order.fulfilled_in_store:
            return False  # no read at all for the common case
        if order.placement is not None and order.placement.request_id != CLOSED:
            return False  # a placement is under way or in doubt: the placer owns it
        if not self.enabled(order.shop):
            return False
        if self._send is None:
            # Never silently: the seller turned auto-place on and it cannot run here.
            logger.error("auto_place is on but no PlaceOrdersQueue is configured", extra={"shop": order.shop})
            metrics.add_metric(name="AutoPlaceNotConfigured", unit=MetricUnit.Count, value=1)
            return False
        self._send(order.shop, [order.order_id])
        metrics.add_metric(name="AutoPlaceQueued", unit=MetricUnit.Count, value=1)
        return True

    def enabled(self, shop: str) -> bool:
        """The shop's auto_place switch, read at most once per `ttl` (a seller's change shows within it)."""
        now = self._clock()
        cached = self._cache.get(shop)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        settings = self._shops.get_settings(shop)
        enabled = bool(settings and settings.auto_place)
        self._cache[shop] = (now, enabled)
        return enabled
