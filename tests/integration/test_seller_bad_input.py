"""Seller API input an attacker or a broken client could send: bodies that are not UTF-8 or nested too deep,
tampered pagination cursors, ids that cannot exist, unknown routes. Every one gets a 4xx that says what is
wrong, and nothing is written. (Issue 10, items 5, 7, 8 and 9.)"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from functions.seller_api import app as seller_api
from shared import wiring
from tests.integration.lambda_http import invoke, seller_event
from tests.integration.test_webhook_order import deliver

SHOP = "demo-store"
BODY_ROUTES = [
    ("POST", f"/shops/{SHOP}/orders/place", {"order_ids": ["1001"]}),
    ("POST", f"/shops/{SHOP}/orders/1001/fulfill", {"tracking_number": "MAN1000001", "carrier": "USPS"}),
    ("PUT", f"/shops/{SHOP}/links/1000221", {"product_id": "1005001"}),
    ("PATCH", f"/shops/{SHOP}/settings", {"auto_place": True}),
]
ROUTE_IDS = ["place", "fulfill", "link", "settings"]


def request(context: Any, method: str, path: str, token: str | None, *, body: bytes | None = None,
            query: str = "", base64_body: bool = False) -> tuple[int, dict[str, Any]]:
    event = seller_event(method, path, token, body=body, query=query, base64_body=base64_body)
    return invoke(seller_api.lambda_handler, event, context)


def table_items() -> list[dict[str, Any]]:
    """Every item but the rate limits' counters (sync now counts an attempt before it looks the order up)."""
    scanned = boto3.client("dynamodb").scan(TableName=wiring.settings().table_name)["Items"]
    kept = [item for item in scanned if not item["pk"]["S"].startswith("RATE#")]
    return sorted(kept, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.fixture
def orders(shop: str, tokens: dict[str, str], order_paid: dict[str, Any], lambda_context: Any) -> list[str]:
    """Three paid orders of the demo shop, newest last."""
    ids = []
    for i in range(3):
        payload = dict(order_paid, id=1001 + i, created_at=f"2026-11-2{i}T00:00:00Z")
        assert deliver(lambda_context, shop, "orders/paid", payload)[0] == 200
        ids.append(str(1001 + i))
    return ids


# ------------------------------------------------------------------ item 5: bodies that are not UTF-8

@pytest.mark.parametrize("base64_body", [True, False], ids=["base64", "plain"])
@pytest.mark.parametrize(("method", "path", "valid"), BODY_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("encoding", ["utf-16", "latin-1", "random"])
def test_a_body_that_is_not_utf8_is_400(orders: list[str], tokens: dict[str, str], lambda_context: Any,
                                        method: str, path: str, valid: dict[str, Any], encoding: str,
                                        base64_body: bool) -> None:
    text = json.dumps(dict(valid, note="Café ñ"), ensure_ascii=False)
    body = bytes(range(128, 256)) if encoding == "random" else text.encode(encoding)
    before = table_items()
    status, answer = request(lambda_context, method, path, tokens[SHOP], body=body, base64_body=base64_body)
    assert (status, answer.get("error")) == (400, "body is not UTF-8 text"), answer
    assert table_items() == before


@pytest.mark.parametrize(("method", "path", "valid"), BODY_ROUTES, ids=ROUTE_IDS)
def test_a_body_marked_base64_that_is_not_base64_is_400(orders: list[str], tokens: dict[str, str],
                                                        lambda_context: Any, method: str, path: str,
                                                        valid: dict[str, Any]) -> None:
    event = seller_event(method, path, tokens[SHOP], body=json.dumps(valid).encode(), base64_body=True)
    event["body"] = "%%%not base64%%%"
    status, answer = invoke(seller_api.lambda_handler, event, lambda_context)
    assert (status, answer.get("error")) == (400, "body is not valid base64"), answer


@pytest.mark.parametrize(("method", "path", "valid"), BODY_ROUTES, ids=ROUTE_IDS)
def test_an_escaped_lone_surrogate_is_422_naming_the_field(orders: list[str], tokens: dict[str, str],
                                                           lambda_context: Any, method: str, path: str,
                                                           valid: dict[str, Any]) -> None:
    # Valid JSON text (ASCII) whose string holds half a UTF-16 pair: no store can keep it (pydantic refuses it).
    key = next(iter(valid))
    body = ('{"' + key + '": "\\udc80"}').encode()
    before = table_items()
    status, answer = request(lambda_context, method, path, tokens[SHOP], body=body)
    assert status == 422 and answer["field"] == key, answer
    assert table_items() == before


# ------------------------------------------------------------------ item 7: nesting and cursors

@pytest.mark.parametrize(("method", "path", "valid"), BODY_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deeply_nested_json_is_a_4xx(orders: list[str], tokens: dict[str, str], lambda_context: Any,
                                     method: str, path: str, valid: dict[str, Any], depth: int) -> None:
    key = next(iter(valid))
    body = ('{"' + key + '": ' + "[" * depth + "]" * depth + "}").encode()
    before = table_items()
    status, answer = request(lambda_context, method, path, tokens[SHOP], body=body)
    if depth < 900:  # parsed: the model refuses a list where it wants text, a flag or ids
        assert status == 422 and answer["field"].startswith(key), answer
    else:  # past Python's recursion limit: refused while parsing
        assert (status, answer["error"]) == (400, "body is nested too deeply"), answer
    assert table_items() == before


def old_style(key: dict[str, Any]) -> str:
    """A cursor as the API used to issue them: base64 of the DynamoDB key, readable and forgeable."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def listing(context: Any, token: str, query: str, shop: str = SHOP) -> tuple[int, dict[str, Any]]:
    return request(context, "GET", f"/shops/{shop}/orders", token, query=query)


@pytest.mark.parametrize(("tab", "cursor"), [
    ("all", old_style({"pk": "SHOP#other-store", "sk": "ORDER#00000000000000001001"})),
    ("all", old_style({"pk": f"SHOP#{SHOP}", "sk": "ORDER#00000000000000001002", "extra": "x"})),
    ("all", old_style({"pk": f"SHOP#{SHOP}", "sk": "SETTINGS"})),
    ("all", old_style({"pk": f"SHOP#{SHOP}", "sk": "ORDER#" + "9" * 3000})),
    ("awaiting_order", old_style({"pk": f"SHOP#{SHOP}", "sk": "LINK#1000221", "tab_pk": f"{SHOP}#awaiting_order",
                                  "tab_sk": "2026-11-21T00:00:00+00:00#1002"})),
    ("awaiting_order", old_style({"pk": f"SHOP#{SHOP}", "sk": "ORDER#00000000000000001002",
                                  "tab_pk": "other-store#awaiting_order", "tab_sk": "x"})),
    ("awaiting_order", old_style({"pk": f"SHOP#{SHOP}", "sk": "ORDER#00000000000000001002",
                                  "tab_pk": f"{SHOP}#awaiting_order", "tab_sk": "t" * 3000})),
    ("all", "x" * 5000),
    ("all", "é"),
    ("all", "."),
    ("all", "eyJwayI6ICJTSE9QI2RlbW8tc3RvcmUifQ==.AAAA"),
], ids=["other-pk", "extra-attribute", "other-item-type", "3000-char-sk", "tab-other-item-type", "tab-other-pk",
        "3000-char-tab-sk", "5000-chars", "non-ascii", "dot", "forged-signature"])
def test_a_cursor_we_did_not_issue_is_400(orders: list[str], tokens: dict[str, str], lambda_context: Any,
                                          tab: str, cursor: str) -> None:
    status, answer = listing(lambda_context, tokens[SHOP], f"tab={tab}&limit=1&cursor={cursor}")
    assert (status, answer.get("error")) == (400, "cursor is not valid; start again from the first page"), answer


@pytest.mark.parametrize("tab", ["all", "awaiting_order"])
def test_an_issued_cursor_is_good_only_for_its_shop_and_tab(orders: list[str], tokens: dict[str, str],
                                                            lambda_context: Any, tab: str) -> None:
    status, first = listing(lambda_context, tokens[SHOP], f"tab={tab}&limit=1")
    assert status == 200 and first["next_cursor"]
    cursor = first["next_cursor"]
    assert "SHOP#" not in cursor and "ORDER#" not in cursor  # opaque: no key inside to read or edit
    status, second = listing(lambda_context, tokens[SHOP], f"tab={tab}&limit=1&cursor={cursor}")
    assert status == 200 and second["orders"][0]["order_id"] == "1002"
    other_tab = "pending" if tab == "all" else "all"
    assert listing(lambda_context, tokens[SHOP], f"tab={other_tab}&limit=1&cursor={cursor}")[0] == 400
    assert listing(lambda_context, tokens["other-store"], f"tab={tab}&limit=1&cursor={cursor}",
                   shop="other-store")[0] == 400
    payload, _, signature = cursor.partition(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for tampered in (f"{flipped}.{signature}", f"{payload}.{signature[:-2]}", payload, cursor + "x"):
        assert listing(lambda_context, tokens[SHOP], f"tab={tab}&limit=1&cursor={tampered}")[0] == 400


def test_without_a_cursor_key_pages_fail_closed_with_a_clear_error(shop: str, order_paid: dict[str, Any],
                                                                  lambda_context: Any) -> None:
    from shared.logic.auth import hash_token

    wiring.shop_secrets().put(shop, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token("tok-demo")})
    for i in range(2):
        assert deliver(lambda_context, shop, "orders/paid", dict(order_paid, id=1001 + i))[0] == 200
    # One page holds everything: no cursor, no key needed.
    assert listing(lambda_context, "tok-demo", "limit=5")[0] == 200
    status, answer = listing(lambda_context, "tok-demo", "limit=1")
    assert status == 503 and "cursor signing key" in answer["error"], answer
    assert listing(lambda_context, "tok-demo", "limit=1&cursor=abc." + "A" * 43)[0] == 503
    assert listing(lambda_context, "tok-demo", "limit=1&cursor=abc.def")[0] == 400  # not even shaped like one


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=-1", "limit=ten", "limit=" + "9" * 5000,
                                   "tab=" + "x" * 5000, "tab=", "limit="])
def test_bad_query_values_are_400(orders: list[str], tokens: dict[str, str], lambda_context: Any,
                                  query: str) -> None:
    status, answer = listing(lambda_context, tokens[SHOP], query)
    assert status == 400 and len(answer["error"]) < 200, answer


# ------------------------------------------------------------------ items 8 and 9: ids, and what was not found

@pytest.mark.parametrize(("method", "path", "body", "message"), [
    ("GET", f"/shops/{SHOP}/orders/999", None, "order 999 not found"),
    ("POST", f"/shops/{SHOP}/orders/999/retry", None, "order 999 not found"),
    ("POST", f"/shops/{SHOP}/orders/999/sync", None, "order 999 not found"),
    ("POST", f"/shops/{SHOP}/orders/999/fulfill", {"tracking_number": "MAN1000001", "carrier": "USPS"},
     "order 999 not found"),
    ("GET", f"/shops/{SHOP}/links/55", None, "link for variant 55 not found"),
    ("DELETE", f"/shops/{SHOP}/links/55", None, "link for variant 55 not found"),
    ("GET", f"/shops/{SHOP}/orders/{'9' * 2000}", None, f"order {'9' * 40}… not found"),
    ("POST", f"/shops/{SHOP}/orders/{'9' * 2000}/retry", None, f"order {'9' * 40}… not found"),
    ("GET", f"/shops/{SHOP}/links/{'5' * 2000}", None, f"link for variant {'5' * 40}… not found"),
    ("GET", f"/shops/{SHOP}/orders/1001%23x", None, "order 1001%23x not found"),
    ("GET", f"/shops/{SHOP}/nothing", None, f"no route GET /shops/{SHOP}/nothing"),
    ("DELETE", f"/shops/{SHOP}/orders", None, f"no route DELETE /shops/{SHOP}/orders"),
    ("GET", "/nothing/here", None, "no route GET /nothing/here"),
], ids=["order", "retry", "sync", "fulfill", "link", "delete-link", "long-order-id", "long-retry-id",
        "long-variant-id", "hash-in-id", "unknown-route", "unknown-method", "unknown-path"])
def test_every_404_names_what_was_not_found(orders: list[str], tokens: dict[str, str], lambda_context: Any,
                                            method: str, path: str, body: Any, message: str) -> None:
    before = table_items()
    raw = json.dumps(body).encode() if body is not None else None
    assert request(lambda_context, method, path, tokens[SHOP], body=raw) == (404, {"error": message})
    assert table_items() == before


def test_an_order_stored_with_a_hash_in_its_id_is_listed_and_found(shop: str, tokens: dict[str, str],
                                                                   lambda_context: Any) -> None:
    """Intake refuses such ids now, but an order id of any shape the store holds must round-trip."""
    from shared.models.order import Order, OrderStatus, utcnow

    for order_id in ("10#01", "7#", "#"):
        wiring.orders().mutate(shop, order_id, lambda _, oid=order_id: Order(  # type: ignore[misc]
            shop=shop, order_id=oid, status=OrderStatus.AWAITING_ORDER, created_at=utcnow()))
    status, page = listing(lambda_context, tokens[SHOP], "tab=awaiting_order")
    assert status == 200 and page["counts"]["awaiting_order"] == 3
    assert sorted(row["order_id"] for row in page["orders"]) == ["#", "10#01", "7#"]
    status, page = listing(lambda_context, tokens[SHOP], "tab=all")
    assert sorted(row["order_id"] for row in page["orders"]) == ["#", "10#01", "7#"]
    assert wiring.orders().get(shop, "10#01") is not None
