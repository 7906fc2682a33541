"""A shop's settings as the tracking consumers read them: once per `max_age` seconds per container.

The push and the email read the shop's settings (notify channel, sender) for every stream record; cached, a
record costs its order's read and write only. A change a seller saves reaches them within `max_age`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.models.shop import ShopSettings


class SettingsReader(Protocol):
    def get_settings(self, shop: str) -> ShopSettings | None: ...


class CachedShopSettings:
    def __init__(self, shops: SettingsReader, max_age: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._shops = shops
        self._max_age = max_age
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, ShopSettings | None]] = {}

    def get_settings(self, shop: str) -> ShopSettings | None:
        now = self._monotonic()
        cached = self._cache.get(shop)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1]
        settings = self._shops.get_settings(shop)
        self._cache[shop] = (now, settings)
        return settings
