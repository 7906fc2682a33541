"""The data layer: optimistic concurrency, zero writes for no change, sparse sync index, tenant keys."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import boto3

from shared.data.orders import OrderRepository, derive_cursor_key, order_sk, shop_pk
from shared.lifecycle import Event, transition
from shared.models.order import Order, OrderStatus


def _new(shop: str, order_id: str, status: OrderStatus = OrderStatus.AWAITING_ORDER) -> Order:
    return Order(shop=shop, order_id=order_id, status=status, created_at=datetime(2026, 11, 1, tzinfo=UTC))


def test_lost_race_is_retried_with_the_item_returned_by_the_failed_write(table: Any) -> None:
    repo = OrderRepository(table)
    repo.mutate("s1", "1", lambda _: _new("s1", "1"), assume_absent=True)
    calls: list[int] = []

    def change(current: Order | None) -> Order | None:
        assert current is not None
        calls.append(current.version)
        if len(calls) == 1:
            # Another writer gets in between our read and our write.
            other = OrderRepository(table)
            other.mutate("s1", "1", lambda o: o.model_copy(update={"attention": "other"}) if o else None)
        current.reason = "mine"
        return current

    result = repo.mutate("s1", "1", change)
    assert calls == [1, 2]
    stored = repo.get("s1", "1")
    assert stored is not None and stored.version == 3 and stored.reason == "mine" and stored.attention == "other"
    assert result.order == stored


def test_concurrent_writers_never_lose_an_update(table: Any) -> None:
    repo = OrderRepository(table)
    repo.mutate("s1", "1", lambda _: _new("s1", "1"), assume_absent=True)

    def add_note(n: int) -> None:
        def change(o: Order | None) -> Order | None:
            assert o is not None
            o.attention = ((o.attention or "") + f"[{n}]")
            return o
        OrderRepository(table).mutate("s1", "1", change, max_attempts=50)

    threads = [threading.Thread(target=add_note, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = repo.get("s1", "1")
    assert stored is not None and stored.version == 9
    assert sorted(stored.attention.strip("[]").split("][")) == [str(n) for n in range(8)]  # type: ignore[union-attr]


def test_no_change_costs_no_write(table: Any) -> None:
    repo = OrderRepository(table)
    repo.mutate("s1", "1", lambda _: _new("s1", "1"), assume_absent=True)
    before = table.get_item(Key={"pk": shop_pk("s1"), "sk": order_sk("1")})["Item"]
    result = repo.mutate("s1", "1", lambda _: None)
    assert not result.written
    assert table.get_item(Key={"pk": shop_pk("s1"), "sk": order_sk("1")})["Item"] == before


def test_sync_index_holds_only_orders_that_need_a_sync(table: Any) -> None:
    repo = OrderRepository(table)
    for i in range(40):
        repo.mutate("s1", str(i), lambda _, i=i: _new("s1", str(i)), assume_absent=True)
    for i in range(0, 40, 2):
        repo.mutate("s1", str(i), lambda o: transition(o, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED))
    found = sorted(int(oid) for shard in range(16) for _, oid in repo.iter_sync_candidates(shard, page_size=3))
    assert found == list(range(0, 40, 2))
    # Sharded: the candidates spread over several partitions of the index.
    shards_used = sum(1 for shard in range(16) if repo.sync_candidates(shard)[0])
    assert shards_used >= 8
    repo.mutate("s1", "0", lambda o: transition(o, OrderStatus.CANCELED, Event.STORE_CANCELLED))
    assert ("s1", "0") not in [p for s in range(16) for p in repo.iter_sync_candidates(s)]


def test_shops_share_the_table_but_never_see_each_other(table: Any) -> None:
    repo = OrderRepository(table)
    repo.mutate("s1", "7", lambda _: _new("s1", "7"), assume_absent=True)
    repo.mutate("s2", "7", lambda _: _new("s2", "7", OrderStatus.PENDING), assume_absent=True)
    assert repo.get("s1", "7").status is OrderStatus.AWAITING_ORDER  # type: ignore[union-attr]
    assert repo.get("s2", "7").status is OrderStatus.PENDING  # type: ignore[union-attr]
    assert [o.shop for o in repo.list_orders("s1").orders] == ["s1"]
    assert repo.count_by_status("s2")[OrderStatus.AWAITING_ORDER] == 0
    assert int(boto3.client("dynamodb").scan(TableName=table.name, Select="COUNT")["Count"]) == 2


# ------------------------------------------------------------------ ids of any shape, signed page cursors (issue 10)

def _keyed(table: Any) -> OrderRepository:
    return OrderRepository(table, cursor_key=lambda: derive_cursor_key("state-key"))


def _put(repo: OrderRepository, order_id: str, day: int = 1) -> None:
    order = _new("s1", order_id, OrderStatus.AWAITING_PAYMENT)
    order.created_at = datetime(2026, 11, day, tzinfo=UTC)
    assert repo.mutate("s1", order_id, lambda _: order, assume_absent=True).written


def test_ids_holding_a_hash_are_listed_counted_found_and_synced(table: Any) -> None:
    repo = _keyed(table)
    odd = ["10#01", "7#", "#", "a#b#c"]
    for day, order_id in enumerate(odd, start=1):
        _put(repo, order_id, day)
    assert repo.count_by_status("s1")[OrderStatus.AWAITING_PAYMENT] == 4
    listed: list[str] = []
    cursor = None
    while True:  # one per page: every cursor is issued and read back
        page = repo.list_orders("s1", OrderStatus.AWAITING_PAYMENT, limit=1, cursor=cursor)
        listed += [o.order_id for o in page.orders]
        cursor = page.cursor
        if not cursor:
            break
    assert listed == list(reversed(odd))  # newest first
    assert sorted(o.order_id for o in repo.list_orders("s1").orders) == sorted(odd)
    assert all(repo.get("s1", order_id) is not None for order_id in odd)
    candidates = [pair for shard in range(16) for pair in repo.iter_sync_candidates(shard)]
    assert sorted(candidates) == sorted(("s1", order_id) for order_id in odd)


def test_ids_that_zero_padding_would_merge_stay_two_orders(table: Any) -> None:
    repo = _keyed(table)
    for order_id in ("5", "05", "005"):
        _put(repo, order_id)
    assert [getattr(repo.get("s1", oid), "order_id", None) for oid in ("5", "05", "005")] == ["5", "05", "005"]
    assert len(repo.list_orders("s1").orders) == 3


def test_an_id_no_key_can_hold_is_absent_without_a_call(table: Any) -> None:
    repo = OrderRepository(table)
    assert repo.get("s1", "9" * 2000) is None and repo.get("s1", "") is None
    assert not repo.mutate("s1", "9" * 2000, lambda current: None).written
