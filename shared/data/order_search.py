"""The Manage Orders page's reads beyond a plain tab: search, date ranges, "needs attention", the shop's sync times.

Every read is a Query on a key or an index built for it (docs/data-model.md, "Search and filters"); none scans
and none filters what it read by a condition that grows with the shop's size:
- search: one Query per Find*Index, begins_with("<query>") on the shop's terms (shared.data.search_terms), then one
  BatchGetItem of the orders found; at most one page (50) of matches, newest first, and whether more match;
- a date range: TabIndex (one tab) or DateIndex (all tabs), KeyCondition BETWEEN on "<created_at>#<id>";
- needs attention: AttentionIndex, KeyCondition attn_sk <= now (flags, and unpaid orders past day 15).
Pages carry the same authenticated cursors as the tabs (shared.data.orders.PageCursors), bound to the shop and
to the view (the query, the tab and the dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from shared.data.orders import (
    ATTENTION_INDEX,
    DATE_INDEX,
    TAB_INDEX,
    OrderPage,
    OrderRepository,
    index_time,
    order_sk,
    shop_pk,
)
from shared.data.search_terms import FIND_KINDS, FIND_PK, index_name, query_term
from shared.models.order import Order, OrderStatus


@dataclass(frozen=True)
class SearchResult:
    orders: list[Order]
    more: bool  # more orders match than were read: the seller refines the query


class OrderSearch:
    def __init__(self, orders: OrderRepository) -> None:
        self._orders = orders
        self._table = orders.table

    # ------------------------------------------------------------ search

    def search(self, shop: str, query: str, *, limit: int = 50) -> SearchResult:
        """Orders with a term starting with `query` (order name, customer name or email, AliExpress order id,
        tracking number): at most `limit` per kind of term, newest first, and whether more match (then the seller
        refines the query: a search has one page)."""
        term = query_term(query)
        keys: dict[str, dict[str, Any]] = {}
        more = False
        for kind in FIND_KINDS:
            attribute = f"find_{kind}"
            # Descending: among orders sharing a term (a customer's last name), the newest first (ids grow).
            response = self._table.query(IndexName=index_name(kind), Limit=limit, ScanIndexForward=False,
                                         KeyConditionExpression=Key(FIND_PK).eq(shop)
                                         & Key(attribute).begins_with(term))
            for item in response.get("Items", []):
                keys.setdefault(str(item["sk"]), {"pk": item["pk"], "sk": item["sk"]})
            more = more or "LastEvaluatedKey" in response
        found = sorted(self._orders_of(list(keys.values())).values(), key=lambda o: (o.created_at, o.order_id),
                       reverse=True)
        return SearchResult(orders=found[:limit], more=more or len(found) > limit)

    # ------------------------------------------------------------ date range

    def by_date(self, shop: str, status: OrderStatus | None, since: date | None, until: date | None, *,
                limit: int = 50, cursor: str | None = None) -> OrderPage:
        """A tab's orders (None: every tab) created between `since` and `until` (inclusive days, UTC), newest first."""
        low = since.isoformat() if since else "0"
        high = f"{until.isoformat()}T~" if until else "~"
        if status is None:
            index, pk_name, sk_name, pk = DATE_INDEX, "date_pk", "date_sk", shop
        else:
            index, pk_name, sk_name, pk = TAB_INDEX, "tab_pk", "tab_sk", f"{shop}#{status.value}"
        label = f"date:{status.value if status else 'all'}:{low}:{high}"
        return self._index_page(shop, label, index, pk_name, pk, Key(sk_name).between(low, high), sk_name,
                                limit=limit, cursor=cursor)

    # ------------------------------------------------------------ needs attention

    def needs_attention(self, shop: str, now: datetime, *, limit: int = 50, cursor: str | None = None) -> OrderPage:
        """Orders needing attention now, the most recent first."""
        return self._index_page(shop, "attention", ATTENTION_INDEX, "attn_pk", shop,
                                Key("attn_sk").lte(f"{index_time(now)}~"), "attn_sk", limit=limit, cursor=cursor)

    def count_attention(self, shop: str, now: datetime) -> int:
        kwargs: dict[str, Any] = {"IndexName": ATTENTION_INDEX, "Select": "COUNT", "KeyConditionExpression":
                                  Key("attn_pk").eq(shop) & Key("attn_sk").lte(f"{index_time(now)}~")}
        total = 0
        while True:
            response = self._table.query(**kwargs)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ------------------------------------------------------------ sync times

    def last_shop_sync_now(self, shop: str) -> float | None:
        """When the seller last synced the whole shop (epoch seconds; the sync-now limit's record)."""
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": "SYNCNOW"}).get("Item")
        return float(item["last_at"]) if item and "last_at" in item else None

    def scheduled_run(self, run_id: str) -> dict[str, Any] | None:
        """A scheduled sync run's lock item (started_at, ended_at), None if that slot did not run."""
        item = self._table.get_item(Key={"pk": f"SYNCRUN#{run_id}", "sk": "RUN"}).get("Item")
        return dict(item) if item else None

    # ------------------------------------------------------------ internals

    def _index_page(self, shop: str, label: str, index: str, pk_name: str, pk: str, sk_condition: Any,
                    sk_name: str, *, limit: int, cursor: str | None) -> OrderPage:
        kwargs: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": Key(pk_name).eq(pk) & sk_condition,
                                  "ScanIndexForward": False, "Limit": limit}
        if cursor:
            kwargs["ExclusiveStartKey"] = self._orders.cursors.read(
                shop, label, cursor, lambda key: set(key) == {"pk", "sk", pk_name, sk_name}
                and key["pk"] == shop_pk(shop) and key["sk"].startswith("ORDER#") and key[pk_name] == pk)
        response = self._table.query(**kwargs)
        keys = [{"pk": item["pk"], "sk": item["sk"]} for item in response.get("Items", [])]
        found = self._orders_of(keys)
        orders = [found[str(k["sk"])] for k in keys if str(k["sk"]) in found]
        last = response.get("LastEvaluatedKey")
        return OrderPage(orders=orders, cursor=self._orders.cursors.issue(shop, label, last) if last else None)

    def _orders_of(self, keys: list[dict[str, Any]]) -> dict[str, Order]:
        """The orders at these keys (one BatchGetItem per 100), by their sort key."""
        unique = list({str(k["sk"]): k for k in keys}.values())
        found: dict[str, Order] = {}
        for start in range(0, len(unique), 100):
            for order in self._orders.batch_get(unique[start:start + 100]):
                found[order_sk(order.order_id)] = order
        return found

