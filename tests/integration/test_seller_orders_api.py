"""Seller API: token per shop, tabs with counts, pagination, isolation between shops."""

from __future__ import annotations

import json
from typing import Any

from functions.seller_api import app as seller_api
from local.apigw import http_event
from shared import wiring
from tests.integration.test_webhook_order import deliver


def call(context: Any, method: str, path: str, token: str | None, query: str = "",
         body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    event = http_event(method, path, headers=headers, query=query,
                       body=json.dumps(body) if body is not None else None)
    response = seller_api.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_tabs_counts_and_pagination(shop: str, tokens: dict[str, str], order_paid: dict[str, Any],
                                    lambda_context: Any) -> None:
    for i in range(5):
        payload = dict(order_paid, id=1000 + i, created_at=f"2026-11-2{i}T00:00:00Z",
                       financial_status="paid" if i % 2 == 0 else "pending")
        assert deliver(lambda_context, shop, "orders/create", payload)[0] == 200
    status, body = call(lambda_context, "GET", f"/shops/{shop}/orders", tokens[shop], "tab=awaiting_order&limit=2")
    assert status == 200
    assert [o["order_id"] for o in body["orders"]] == ["1004", "1002"]
    assert body["counts"]["all"] == 5 and body["counts"]["awaiting_order"] == 3 and body["counts"]["pending"] == 2
    status, page2 = call(lambda_context, "GET", f"/shops/{shop}/orders", tokens[shop],
                         f"tab=awaiting_order&limit=2&cursor={body['next_cursor']}")
    assert [o["order_id"] for o in page2["orders"]] == ["1000"] and page2["next_cursor"] is None
    status, everything = call(lambda_context, "GET", f"/shops/{shop}/orders", tokens[shop])
    assert [o["order_id"] for o in everything["orders"]] == ["1004", "1003", "1002", "1001", "1000"]


def test_token_is_per_shop_and_other_shops_orders_are_invisible(shop: str, tokens: dict[str, str],
                                                                order_paid: dict[str, Any],
                                                                lambda_context: Any) -> None:
    deliver(lambda_context, shop, "orders/paid", order_paid)
    assert call(lambda_context, "GET", f"/shops/{shop}/orders", None)[0] == 401
    assert call(lambda_context, "GET", f"/shops/{shop}/orders", "tok-other")[0] == 401
    assert call(lambda_context, "GET", f"/shops/{shop}/orders/5549662", tokens[shop])[0] == 200
    assert call(lambda_context, "GET", "/shops/other-store/orders/5549662", tokens["other-store"])[0] == 404
    _, body = call(lambda_context, "GET", f"/shops/{shop}/orders", tokens[shop], "limit=1")
    forged = call(lambda_context, "GET", "/shops/other-store/orders", tokens["other-store"],
                  f"cursor={body['next_cursor'] or 'eyJwayI6ICJTSE9QI2RlbW8tc3RvcmUifQ=='}")
    assert forged[0] == 400


def test_bad_tab_is_400(shop: str, tokens: dict[str, str], lambda_context: Any) -> None:
    status, body = call(lambda_context, "GET", f"/shops/{shop}/orders", tokens[shop], "tab=shipped")
    assert status == 400 and "unknown tab" in body["error"]


def test_settings_read_and_patch(shop: str, tokens: dict[str, str], lambda_context: Any) -> None:
    status, body = call(lambda_context, "GET", f"/shops/{shop}/settings", tokens[shop])
    assert status == 200 and body["auto_place"] is False and body["send_tracking_email"] is True
    status, body = call(lambda_context, "PATCH", f"/shops/{shop}/settings", tokens[shop],
                        body={"auto_place": True, "send_tracking_email": False, "sender_email": "shop@example.com"})
    assert status == 200 and body["auto_place"] is True and body["send_tracking_email"] is False
    assert call(lambda_context, "GET", f"/shops/{shop}/settings", tokens[shop])[1]["sender_email"] == "shop@example.com"
    # Bad input changes nothing.
    assert call(lambda_context, "PATCH", f"/shops/{shop}/settings", tokens[shop],
                body={"aliexpress_connected": True})[0] == 422
    assert call(lambda_context, "PATCH", f"/shops/{shop}/settings", tokens[shop],
                body={"sender_email": "not-an-address"})[0] == 422
    assert call(lambda_context, "PATCH", f"/shops/{shop}/settings", tokens[shop], body={})[0] == 400
    assert call(lambda_context, "PATCH", f"/shops/{shop}/settings", "tok-other", body={"auto_place": False})[0] == 401
    assert call(lambda_context, "GET", f"/shops/{shop}/settings", tokens[shop])[1]["auto_place"] is True


def test_list_rows_carry_no_address_and_no_email_the_detail_does(shop: str, tokens: dict[str, str],
                                                                 order_paid: dict[str, Any],
                                                                 lambda_context: Any) -> None:
    deliver(lambda_context, shop, "orders/paid", order_paid)
    personal = ("jane.doe@example.com", "12 Example Street", "Apt 3", "Springfield", "62701", "+1 217 555 0100")
    for tab in ("all", "awaiting_order"):
        status, body = call(lambda_context, "GET", f"/shops/{shop}/orders", tokens[shop], f"tab={tab}")
        assert status == 200
        [row] = body["orders"]
        text = json.dumps(row)
        assert not [value for value in personal if value in text], row
        assert "shipping_address" not in row and "email" not in json.dumps(list(row))
        assert row["customer"] == {"name": "Jane Doe", "country": "US"}
        assert (row["order_id"], row["name"], row["status"], row["tab"]) == ("5549662", "#1042", "awaiting_order",
                                                                             "awaiting_order")
        assert [(i["title"], i["variant_title"], i["quantity"], i["variant_id"]) for i in row["items"]] == [
            ("Insulated Water Bottle", "Silver / 500 ml", 2, "1000221"), ("Flounce Mini Skirt", "M", 1, "1000387")]
        assert row["ae_order_ids"] == [] and row["tracking_numbers"] == [] and row["reason"] is None
    status, detail = call(lambda_context, "GET", f"/shops/{shop}/orders/5549662", tokens[shop])
    assert status == 200
    assert detail["shipping_address"]["address1"] == "12 Example Street"
    assert detail["customer"]["email"] == "jane.doe@example.com"
    assert detail["history"][0]["cause"] == "customer_paid" and "body_hash" not in detail and "version" not in detail
    stored = wiring.orders().get(shop, "5549662")
    assert stored is not None  # the detail is the whole stored order but for our bookkeeping
    assert detail == stored.model_dump(mode="json", exclude={"body_hash", "version"})
