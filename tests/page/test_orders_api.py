"""The API under the Manage Orders page: views (tabs, search, dates, needs attention), counts that match the lists,
pagination while orders change tab, CSV, the detail view, the shop's header, and shops kept apart."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import wiring
from shared.data.search_terms import FIND_KINDS, index_name
from shared.models.seller_api import TABS
from tests.page.conftest import OTHER, SHOP, Api, MakeOrder, placed

ORDERS = f"/shops/{SHOP}/orders"


def every_page(api: Api, query: str, limit: int, between: Any = None) -> list[str]:
    """Every order id of a view, page by page (`between(page_number)` runs between pages)."""
    ids: list[str] = []
    cursor = ""
    for number in range(200):
        status, body, _ = api("GET", ORDERS, f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        ids += [row["order_id"] for row in body["orders"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids
        if between is not None:
            between(number)
    raise AssertionError("pages never ended")


def cancel(api_context: Any, order_id: str) -> None:
    from tests.integration.test_webhook_order import deliver
    payload = {"id": int(order_id), "cancelled_at": "2026-11-30T00:00:00Z", "financial_status": "voided",
               "updated_at": "2026-11-30T00:00:00Z", "created_at": "2026-11-01T00:00:00Z", "line_items": []}
    assert deliver(api_context, SHOP, "orders/cancelled", payload, secret="whsec-demo")[0] == 200


def test_all_tab_pages_lose_and_repeat_nothing_while_orders_change_tab(api: Api, make_order: MakeOrder,
                                                                       lambda_context: Any) -> None:
    ids = [make_order(6000 + n) for n in range(23)]
    moving = iter(ids[::3])

    def move_some(_: int) -> None:
        for _ in range(2):
            order_id = next(moving, None)
            if order_id:
                cancel(lambda_context, order_id)

    seen = every_page(api, "tab=all", 5, move_some)
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_a_tab_pages_lose_and_repeat_nothing_while_orders_leave_it(api: Api, make_order: MakeOrder,
                                                                   lambda_context: Any) -> None:
    ids = [make_order(7000 + n) for n in range(20)]
    left: list[str] = []

    def move(number: int) -> None:
        # Orders leave the tab on both sides of the cursor: behind it (already listed) and ahead of it.
        for order_id in (ids[number], ids[-1 - number]):
            if order_id not in left:
                cancel(lambda_context, order_id)
                left.append(order_id)

    seen = every_page(api, "tab=awaiting_order", 4, move)
    assert len(seen) == len(set(seen))
    stayed = [i for i in ids if i not in left]
    assert set(stayed) <= set(seen)  # every order that stayed in the tab was listed, once
    assert set(seen) <= set(ids)


def test_counts_match_the_lists_of_every_tab_and_needs_attention(api: Api, make_order: MakeOrder,
                                                                 lambda_context: Any) -> None:
    for n in range(9):
        make_order(8000 + n, paid=n % 3 != 0)
    cancel(lambda_context, "8001")
    placed(SHOP, "8002", "ae-3002", datetime.now(UTC) - timedelta(days=16))  # unpaid for 16 of 20 days
    placed(SHOP, "8004", "ae-3004", datetime.now(UTC) - timedelta(days=2))  # not yet
    _, body, _ = api("GET", ORDERS)
    counts = body["counts"]
    for tab in TABS:
        assert counts[tab] == len(every_page(api, f"tab={tab}", 2)), tab
    assert counts["all"] == 9 and counts["awaiting_payment"] == 2 and counts["canceled"] == 1
    attention = every_page(api, "attention=1", 2)
    assert attention == ["8002"] and body["attention_count"] == 1
    _, page, _ = api("GET", ORDERS, "attention=1")
    assert [i["kind"] for i in page["orders"][0]["issues"]] == ["unpaid"]
    assert page["orders"][0]["issues"][0]["action"] == "pay"


def test_needs_attention_flags_refunds_partial_fulfillment_and_stalled_tracking(api: Api, make_order: MakeOrder,
                                                                                lambda_context: Any) -> None:
    from tests.integration.test_webhook_order import deliver
    for n in range(4):
        make_order(8100 + n)
    refund = {"id": 1, "order_id": 8100, "created_at": "2026-11-30T00:00:00Z", "refund_line_items": []}
    assert deliver(lambda_context, SHOP, "refunds/create", refund, secret="whsec-demo")[0] == 200
    order = wiring.orders().get(SHOP, "8101")
    assert order is not None
    # A package pushed for one of the two items: partly fulfilled.
    status, body, _ = api("POST", f"{ORDERS}/8101/fulfill", body={
        "tracking_number": "LP00112233", "carrier": "USPS",
        "line_items": [{"id": order.line_items[0].id, "quantity": order.line_items[0].quantity}]})
    assert status in (200, 202), body

    def pushed(current: Any) -> Any:
        current.packages[0].pushed_at = datetime.now(UTC)
        return current

    wiring.orders().mutate(SHOP, "8101", pushed)
    _, body, _ = api("GET", ORDERS, "attention=1")
    kinds = {row["order_id"]: [i["kind"] for i in row["issues"]] for row in body["orders"]}
    assert kinds == {"8100": ["refund"], "8101": ["partial"]}
    assert body["attention_count"] == 2


def test_search_by_name_customer_email_aliexpress_id_and_tracking_number(api: Api, make_order: MakeOrder) -> None:
    make_order(9001, first="Ana", last="Lima", email="ana@example.com")
    make_order(9002, first="Bob", last="Stone", email="bob@shop.example")
    make_order(9003, first="Cleo", last="Anand", email="cleo@example.com", name="#A-77")
    placed(SHOP, "9002", "8150000123456789", datetime.now(UTC))
    order = wiring.orders().get(SHOP, "9003")
    assert order is not None
    status, body, _ = api("POST", f"{ORDERS}/9003/fulfill", body={"tracking_number": "LX123456789CN",
                                                                   "carrier": "China Post"})
    assert status in (200, 202), body

    def found(q: str) -> list[str]:
        status, body, _ = api("GET", ORDERS, f"q={q}")
        assert status == 200, body
        return sorted(row["order_id"] for row in body["orders"])

    assert found("%239001") == ["9001"]  # "#9001"
    assert found("9001") == ["9001"]
    assert found("lima") == ["9001"] and found("Ana Lima") == ["9001"]
    assert found("an") == ["9001", "9003"]  # Ana, Anand, ana@…: each order once
    assert found("bob%40shop") == ["9002"]
    assert found("815000012") == ["9002"]
    assert found("lx1234") == ["9003"] and found("LX123456789CN") == ["9003"]
    assert found("zz") == []


def test_a_search_is_one_page_of_the_newest_matches_and_says_when_more_match(api: Api,
                                                                           make_order: MakeOrder) -> None:
    for n in range(7):
        make_order(9100 + n, first="Sam", last="Samson", email=f"sam{n}@example.com")
    status, body, _ = api("GET", ORDERS, "q=sam&limit=5")
    assert status == 200 and body["more_matches"] is True and body["next_cursor"] is None
    assert [r["order_id"] for r in body["orders"]] == [str(9106 - n) for n in range(5)]  # newest first, each once
    _, everything, _ = api("GET", ORDERS, "q=sam&limit=50")
    assert sorted(r["order_id"] for r in everything["orders"]) == [str(9100 + n) for n in range(7)]
    assert everything["more_matches"] is False


def test_search_reads_only_the_find_indexes_and_follows_changes(api: Api, make_order: MakeOrder) -> None:
    make_order(9201, first="Old", last="Name", email="old@example.com")
    # The customer's email changes in the store: the order is found by the new one only.
    make_order(9201, first="New", last="Name", email="new@example.com", updated=datetime(2026, 11, 29, tzinfo=UTC))
    assert [r["order_id"] for r in api("GET", ORDERS, "q=new%40")[1]["orders"]] == ["9201"]
    assert api("GET", ORDERS, "q=old%40")[1]["orders"] == []
    # Every kind of term is a key of its own sparse index: a search is index queries, never a scan.
    events = wiring.orders().table.meta.client.meta.events
    queried: list[str] = []
    scanned: list[str] = []
    events.register("provide-client-params.dynamodb.Query",
                    lambda params, **_: queried.append(params.get("IndexName", "")))
    events.register("provide-client-params.dynamodb.Scan", lambda params, **_: scanned.append(params["TableName"]))
    assert [r["order_id"] for r in api("GET", ORDERS, "q=name")[1]["orders"]] == ["9201"]
    searched = [name for name in queried if name.startswith("Find")]
    assert sorted(searched) == sorted(index_name(k) for k in FIND_KINDS) and scanned == []


def test_date_range_on_a_tab_and_on_every_tab(api: Api, make_order: MakeOrder, lambda_context: Any) -> None:
    for day in range(1, 8):
        make_order(9300 + day, created=datetime(2026, 11, day, 10, tzinfo=UTC), paid=day % 2 == 0)
    cancel(lambda_context, "9304")
    assert every_page(api, "since=2026-11-03&until=2026-11-05", 2) == ["9305", "9304", "9303"]
    assert every_page(api, "tab=awaiting_order&since=2026-11-02&until=2026-11-06", 1) == ["9306", "9302"]
    assert every_page(api, "tab=pending&until=2026-11-03", 5) == ["9303", "9301"]


@pytest.mark.parametrize("query,message", [
    ("tab=shipped", "unknown tab"), ("limit=0", "limit must be"), ("q=a", "q must be"),
    ("q=ab&tab=failed", "a search covers every tab"), ("attention=1&since=2026-11-01", "needs attention covers"),
    ("since=2026-13-01", "since must be a day"), ("since=2026-11-05&until=2026-11-01", "since must not be after"),
    ("attention=maybe", "attention must be"),
])
def test_bad_views_are_400_naming_the_problem(api: Api, query: str, message: str) -> None:
    status, body, _ = api("GET", ORDERS, query)
    assert status == 400 and message in body["error"]


def test_a_cursor_only_continues_its_own_view(api: Api, make_order: MakeOrder) -> None:
    for n in range(4):
        make_order(9400 + n, created=datetime(2026, 11, 10 + n, tzinfo=UTC))
    _, body, _ = api("GET", ORDERS, "since=2026-11-01&limit=2")
    cursor = body["next_cursor"]
    assert cursor
    assert api("GET", ORDERS, f"since=2026-11-01&limit=2&cursor={cursor}")[0] == 200
    assert api("GET", ORDERS, f"since=2026-11-02&limit=2&cursor={cursor}")[0] == 400  # other dates
    assert api("GET", ORDERS, f"tab=all&limit=2&cursor={cursor}")[0] == 400  # a tab
    assert api("GET", ORDERS, f"attention=1&limit=2&cursor={cursor}")[0] == 400  # needs attention
    assert api("GET", ORDERS, f"q=ab&cursor={cursor}")[0] == 400  # a search has one page
    assert api("GET", f"/shops/{OTHER}/orders", f"since=2026-11-01&limit=2&cursor={cursor}",
               token="tok-other")[0] == 400


def test_csv_export_of_a_view_holds_every_page_and_defuses_formulas(api: Api, make_order: MakeOrder) -> None:
    for n in range(3):
        make_order(9500 + n, first="=HYPERLINK(\"http://evil\")" if n == 0 else "Lee", last="Ray")
    status, text, headers = api("GET", f"/shops/{SHOP}/orders.csv", "tab=awaiting_order")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "attachment" in headers["content-disposition"] and headers["x-export-rows"] == "3"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Order", "Order id", "Date (UTC)", "Status"] and len(rows) == 4
    assert {r[1] for r in rows[1:]} == {"9500", "9501", "9502"}
    customer = next(r for r in rows[1:] if r[1] == "9500")[4]
    assert customer.startswith("'=")  # a spreadsheet shows it as text, it does not run it


def test_detail_view_has_links_emails_and_the_timeline(api: Api, make_order: MakeOrder) -> None:
    make_order(9601)
    status, body, _ = api("GET", f"{ORDERS}/9601/view")
    assert status == 200
    assert body["order"]["order_id"] == "9601" and [h["to_status"] for h in body["order"]["history"]] == \
        ["awaiting_order"]
    assert len(body["links"]) == 2 and all(link["product_id"] is None for link in body["links"])
    assert body["emails"] == [] and body["row"]["tab"] == "awaiting_order"
    assert api("GET", f"{ORDERS}/404404/view")[0] == 404


def test_overview_shows_connection_sync_times_and_counts(api: Api, make_order: MakeOrder) -> None:
    make_order(9701)
    status, body, _ = api("GET", f"/shops/{SHOP}/overview")
    assert status == 200
    assert body["connection"]["state"] == "disconnected"
    nxt = datetime.fromisoformat(body["sync"]["next_scheduled_run"].replace("Z", "+00:00"))
    assert nxt > datetime.now(UTC) and nxt.hour in (0, 12) and nxt.minute == 0
    assert body["counts"]["awaiting_order"] == 1 and body["sync"]["shop_sync_interval_minutes"] == 10


def test_other_shops_views_are_refused_and_invisible(api: Api, make_order: MakeOrder) -> None:
    make_order(9801, first="Secret", last="Buyer")
    make_order(9802, shop=OTHER, first="Secret", last="Other")
    for path in (ORDERS, f"{ORDERS}.csv", f"{ORDERS}/9801/view", f"/shops/{SHOP}/overview",
                 f"/shops/{SHOP}/aliexpress/connect"):
        method = "POST" if path.endswith("connect") else "GET"
        assert api(method, path, "q=secret", token="tok-other")[0] == 401, path
        assert api(method, path, "q=secret", token=None)[0] == 401, path
    _, body, _ = api("GET", f"/shops/{OTHER}/orders", "q=secret", token="tok-other")
    assert [r["order_id"] for r in body["orders"]] == ["9802"]
    assert api("GET", f"/shops/{OTHER}/orders/9801/view", token="tok-other")[0] == 404
