"""Issue 13: what the Manage Orders page's views read, for a small and a ten-times larger shop.

    AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled .venv/bin/python bench/page_reads.py [small] [large]

The orders table is created from infra/template.yaml in moto (in process); each shop gets `n` orders written
through OrderRepository.mutate (the production write path), of which a fixed handful match the search and need
attention. For each view it prints the DynamoDB calls and the items DynamoDB read (ScannedCount summed over the
calls, and the keys BatchGetItem fetched): a view served by its index reads the same amount whatever the shop's
size; a scan or a filter-after-read would grow ten times.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(key, "bench")
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from local.template import load_template, table_create_args  # noqa: E402
from shared.data.order_search import OrderSearch  # noqa: E402
from shared.data.orders import OrderRepository  # noqa: E402
from shared.models.order import Customer, LineItem, Order, OrderStatus  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
MATCHING = 5  # orders of every shop whose customer is "Zora Quill" and that need attention


def fill(repo: OrderRepository, shop: str, n: int) -> None:
    for i in range(n):
        special = i % (n // MATCHING) == 0 and i // (n // MATCHING) < MATCHING
        customer = Customer(first_name="Zora" if special else f"Cust{i}", last_name="Quill" if special else f"L{i}",
                            email=f"c{i}@example.com")
        order = Order(shop=shop, order_id=str(100000 + i), name=f"#{100000 + i}", status=OrderStatus.AWAITING_ORDER,
                      created_at=NOW - timedelta(minutes=n - i), customer=customer,
                      attention="Refund issued in the store." if special else None,
                      line_items=[LineItem(id=f"{i}1", quantity=1, title="Bottle")])
        repo.mutate(shop, order.order_id, lambda _, o=order: o, assume_absent=True)


def measure(table: Any, view: Any) -> tuple[int, int]:
    calls: Counter[str] = Counter()
    read = Counter[str]()
    client = table.meta.client

    def after(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        calls[model.name] += 1
        read["items"] += int(parsed.get("ScannedCount", 0))
        for items in (parsed.get("Responses") or {}).values():
            read["items"] += len(items)

    client.meta.events.register("after-call.dynamodb", after)
    try:
        view()
    finally:
        client.meta.events.unregister("after-call.dynamodb", after)
    return sum(calls.values()), read["items"]


def main(sizes: list[int]) -> None:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(**table_create_args(load_template(), "OrdersTable", "bench-orders"))
        table = boto3.resource("dynamodb").Table("bench-orders")
        repo = OrderRepository(table, cursor_key=lambda: b"bench-key")
        search = OrderSearch(repo)
        print(f"{'view':<44}" + "".join(f"{f'{n} orders: calls / items read':>34}" for n in sizes))
        results: dict[str, list[tuple[int, int]]] = {}
        for n in sizes:
            shop = f"shop-{n}"
            fill(repo, shop, n)
            views = {
                "search 'zora' (8 find indexes + BatchGet)": lambda s=shop: search.search(s, "zora", limit=50),
                "search a tracking number (no match)": lambda s=shop: search.search(s, "lx999", limit=50),
                "needs attention, first page": lambda s=shop: search.needs_attention(s, NOW, limit=50),
                "count of needs attention": lambda s=shop: search.count_attention(s, NOW),
                "one day (Nov 30) of all tabs, a page of 50": lambda s=shop: search.by_date(
                    s, None, (NOW - timedelta(days=1)).date(), (NOW - timedelta(days=1)).date(), limit=50),
            }
            for name, view in views.items():
                results.setdefault(name, []).append(measure(table, view))
        for name, figures in results.items():
            print(f"{name:<44}" + "".join(f"{f'{c} / {r}':>34}" for c, r in figures))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [200, 2000])
