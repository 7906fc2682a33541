"""In-memory fakes of the repository interfaces, for unit tests of the rules (no moto, no network).

Each fake implements the same methods, with the same semantics, as its DynamoDB repository in
`shared/data/`: optimistic versions on `mutate`, newest-first pages with opaque cursors, the sparse sync
index. `calls` counts what a use case asked for, so a test can hold a number (reads/writes per operation).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from shared.data.orders import ConcurrentUpdate, InvalidCursor, Mutation, OrderPage, sync_shard
from shared.lifecycle import SYNC_STATUSES
from shared.models.order import Order, OrderStatus
from shared.models.shop import Link, ShopSettings


class InMemoryOrders:
    """Fake of `shared.data.orders.OrderRepository`."""

    def __init__(self, sync_shards: int = 16) -> None:
        self._items: dict[tuple[str, str], Order] = {}
        self._lock = threading.RLock()
        self.sync_shards = sync_shards
        self.calls: Counter[str] = Counter()

    # -- helpers for tests
    def add(self, order: Order) -> Order:
        """Store an order as it is (a test's starting state), version 1 when it has none."""
        stored = order.model_copy(deep=True)
        stored.version = stored.version or 1
        with self._lock:
            self._items[(stored.shop, stored.order_id)] = stored
        return stored

    def all(self) -> list[Order]:
        with self._lock:
            return [o.model_copy(deep=True) for o in self._items.values()]

    # -- the interface
    def get(self, shop: str, order_id: str, *, consistent: bool = True) -> Order | None:
        self.calls["get"] += 1
        with self._lock:
            found = self._items.get((shop, order_id))
            return found.model_copy(deep=True) if found else None

    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None], *,
               assume_absent: bool = False, known: Order | None = None, max_attempts: int = 8) -> Mutation:
        self.calls["mutate"] += 1
        for _ in range(max_attempts):
            with self._lock:
                current = self._items.get((shop, order_id))
                snapshot = current.model_copy(deep=True) if current else None
            if known is not None:  # the caller's copy, stale or not: the version check below decides
                snapshot, known = known.model_copy(deep=True), None
            if assume_absent and snapshot is not None:
                self.calls["conditional_failure"] += 1
                assume_absent = False
            changed = change(snapshot.model_copy(deep=True) if snapshot else None)
            if changed is None:
                return Mutation(order=snapshot, written=False)
            if changed.shop != shop or changed.order_id != order_id:
                raise ValueError("a change may not move an order to another key")
            with self._lock:
                now = self._items.get((shop, order_id))
                if (now.version if now else 0) != (snapshot.version if snapshot else 0):
                    self.calls["conditional_failure"] += 1
                    continue  # lost a race: apply the change again on what is there now
                changed.version = (snapshot.version if snapshot else 0) + 1
                self._items[(shop, order_id)] = changed.model_copy(deep=True)
                self.calls["write"] += 1
            return Mutation(order=changed, written=True)
        raise ConcurrentUpdate(f"order {order_id} kept changing under {max_attempts} attempts")

    def list_orders(self, shop: str, status: OrderStatus | None = None, *, limit: int = 50,
                    cursor: str | None = None) -> OrderPage:
        self.calls["list_orders"] += 1
        with self._lock:
            mine = [o for (s, _), o in self._items.items() if s == shop and (status is None or o.status is status)]
        if status is None:  # the main table: by id, newest (largest) first
            mine.sort(key=lambda o: o.order_id.zfill(20), reverse=True)
        else:  # TabIndex: by creation time, newest first
            mine.sort(key=lambda o: (o.created_at.isoformat(), o.order_id), reverse=True)
        start = 0
        if cursor:
            prefix, _, value = cursor.partition(":")
            if prefix != f"fake-{shop}" or not value.isdigit():
                raise InvalidCursor("cursor is not valid")
            start = int(value)
        page = mine[start:start + limit]
        more = start + limit < len(mine)
        return OrderPage(orders=[o.model_copy(deep=True) for o in page],
                         cursor=f"fake-{shop}:{start + limit}" if more else None)

    def count_by_status(self, shop: str) -> dict[OrderStatus, int]:
        self.calls["count_by_status"] += 1
        with self._lock:
            counts = Counter(o.status for (s, _), o in self._items.items() if s == shop)
        return {status: counts.get(status, 0) for status in OrderStatus}

    def _candidates(self, shard: int) -> list[tuple[str, str]]:
        with self._lock:
            return sorted((o.shop, o.order_id) for o in self._items.values()
                          if o.status in SYNC_STATUSES and not o.fulfilled_in_store
                          and sync_shard(o.shop, o.order_id, self.sync_shards) == shard)

    def sync_candidates(self, shard: int, *, limit: int = 500,
                        cursor: dict[str, Any] | None = None) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        self.calls["sync_candidates"] += 1
        pairs = self._candidates(shard)
        start = int(cursor["offset"]) if cursor else 0
        page = pairs[start:start + limit]
        return page, ({"offset": start + limit} if start + limit < len(pairs) else None)

    def iter_sync_candidates(self, shard: int, page_size: int = 500) -> Iterator[tuple[str, str]]:
        cursor: dict[str, Any] | None = None
        while True:
            pairs, cursor = self.sync_candidates(shard, limit=page_size, cursor=cursor)
            yield from pairs
            if not cursor:
                return


class InMemoryShops:
    """Fake of `shared.data.shops.ShopRepository` (the shop's settings item)."""

    def __init__(self) -> None:
        self._settings: dict[str, ShopSettings] = {}
        self.calls: Counter[str] = Counter()

    def get_settings(self, shop: str) -> ShopSettings | None:
        self.calls["get_settings"] += 1
        found = self._settings.get(shop)
        return found.model_copy(deep=True) if found else None

    def put_settings(self, settings: ShopSettings) -> None:
        self.calls["put_settings"] += 1
        self._settings[settings.shop] = settings.model_copy(deep=True)

    def update_settings(self, shop: str, **changes: Any) -> ShopSettings:
        self.calls["update_settings"] += 1
        current = self._settings.get(shop)
        data = current.model_dump() if current else {"shop": shop}
        data.update(changes, shop=shop)
        updated = ShopSettings.model_validate(data)
        self._settings[shop] = updated
        return updated.model_copy(deep=True)


class InMemoryLinks:
    """Fake of `shared.data.links.LinkRepository` (store variant → AliExpress product + SKU)."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, str], Link] = {}
        self.calls: Counter[str] = Counter()

    def get(self, shop: str, variant_id: str) -> Link | None:
        self.calls["get"] += 1
        return self._links.get((shop, variant_id))

    def put(self, link: Link) -> None:
        self.calls["put"] += 1
        self._links[(link.shop, link.variant_id)] = link.model_copy(deep=True)

    def delete(self, shop: str, variant_id: str) -> bool:
        self.calls["delete"] += 1
        return self._links.pop((shop, variant_id), None) is not None

    def list_links(self, shop: str) -> list[Link]:
        self.calls["list_links"] += 1
        return [link for (s, _), link in sorted(self._links.items()) if s == shop]

    def batch_get(self, shop: str, variant_ids: list[str]) -> dict[str, Link]:
        self.calls["batch_get"] += 1
        return {v: self._links[(shop, v)] for v in dict.fromkeys(variant_ids) if (shop, v) in self._links}
