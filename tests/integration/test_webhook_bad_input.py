"""Webhook bodies an attacker or a broken sender could post: every one gets a 4xx naming what is wrong, and
nothing is written. (Issue 10, items 5, 6 and 8; found by probing the local runtime from outside.)"""

from __future__ import annotations

import copy
import json
import random
import string
from typing import Any

import pytest

from functions.webhook_order import app as webhook
from shared import wiring
from tests.integration.lambda_http import invoke, webhook_event
from tests.integration.test_webhook_order import SECRET, item_count


def post(context: Any, shop: str, body: bytes, *, secret: str | None = SECRET, base64_body: bool = True,
         topic: str = "orders/paid") -> tuple[int, dict[str, Any]]:
    return invoke(webhook.lambda_handler, webhook_event(shop, topic, body, secret=secret, base64_body=base64_body),
                  context)


def signed_json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


# ------------------------------------------------------------------ item 5: bodies that are not UTF-8

def not_utf8_bodies(order_paid: dict[str, Any]) -> dict[str, bytes]:
    accented = dict(order_paid, name="Café #1042", note="Straße, ñ")
    return {
        "random bytes": random.Random(3).randbytes(64) + b"\xff\xfe\x80",
        "utf-16": json.dumps(order_paid).encode("utf-16"),
        "latin-1": json.dumps(accented, ensure_ascii=False).encode("latin-1"),
    }


@pytest.mark.parametrize("base64_body", [True, False], ids=["base64", "plain"])
@pytest.mark.parametrize("kind", ["random bytes", "utf-16", "latin-1"])
def test_a_signed_body_that_is_not_utf8_is_400(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                               kind: str, base64_body: bool) -> None:
    body = not_utf8_bodies(order_paid)[kind]
    status, answer = post(lambda_context, shop, body, base64_body=base64_body)
    assert (status, answer.get("error")) == (400, "body is not UTF-8 text"), answer
    assert item_count() == 0


@pytest.mark.parametrize("base64_body", [True, False], ids=["base64", "plain"])
@pytest.mark.parametrize("kind", ["random bytes", "utf-16", "latin-1"])
def test_an_unsigned_body_that_is_not_utf8_is_401(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                                  kind: str, base64_body: bool) -> None:
    body = not_utf8_bodies(order_paid)[kind]
    assert post(lambda_context, shop, body, secret=None, base64_body=base64_body) == (401, {"error": "unauthorized"})
    assert post(lambda_context, shop, body, secret="not-the-secret", base64_body=base64_body)[0] == 401
    assert item_count() == 0


def test_size_is_checked_before_anything_else(shop: str, lambda_context: Any) -> None:
    body = b"\xff" * (1024 * 1024 + 1)
    assert post(lambda_context, shop, body, secret=None) == (413, {"error": "payload too large"})
    assert post(lambda_context, shop, body, base64_body=False)[0] == 413
    assert item_count() == 0


def test_a_body_marked_base64_that_is_not_base64_is_400(shop: str, order_paid: dict[str, Any],
                                                        lambda_context: Any) -> None:
    event = webhook_event(shop, "orders/paid", signed_json(order_paid), secret=SECRET)
    event["body"] = "not*base64!"
    status, answer = invoke(webhook.lambda_handler, event, lambda_context)
    assert (status, answer.get("error")) == (400, "body is not valid base64"), answer
    assert item_count() == 0


# ------------------------------------------------------------------ item 6: signed, readable, out of bounds

def nested_order(order_paid: dict[str, Any], depth: int) -> bytes:
    """The order with an unknown field (kept as sent) nested `depth` lists deep, written out (json.dumps
    itself stops near 1,000 levels)."""
    head = json.dumps(order_paid).encode()[:-1]
    return head + b', "x_custom": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_too_deep_is_400(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                     depth: int) -> None:
    status, answer = post(lambda_context, shop, nested_order(order_paid, depth))
    assert (status, answer.get("error")) == (400, "body is nested deeper than 32 levels"), answer
    assert item_count() == 0


def test_json_nested_within_the_bound_is_read(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    assert post(lambda_context, shop, nested_order(order_paid, 31)) == (200, {"outcome": "created"})


@pytest.mark.parametrize(("change", "field"), [
    (lambda o: o.update(updated_at="0001-01-01T00:00:00+05:00"), "updated_at"),
    (lambda o: o.update(created_at="0001-01-01T03:00:00+14:00"), "created_at"),
    (lambda o: o.update(cancelled_at="9999-12-31T23:59:59-05:00"), "cancelled_at"),
    (lambda o: o["line_items"][0].update(quantity=10**40), "line_items.0.quantity"),
    (lambda o: o["line_items"][0].update(quantity=10**6 + 1), "line_items.0.quantity"),
    (lambda o: o["line_items"][0].update(price="1e400"), "line_items.0.price"),
    (lambda o: o.update(total_price=10**40), "total_price"),
    (lambda o: o.update(name="N" * 450_000), "name"),
    (lambda o: o["shipping_address"].update(address1="A" * 450_000), "shipping_address.address1"),
    (lambda o: o["customer"].update(email="e" * 450_000), "customer.email"),
    (lambda o: o.update(id="1" * 2000), "id"),
    (lambda o: o["line_items"][0].update(id="9" * 2000), "line_items.0.id"),
    (lambda o: o["line_items"][0].update(variant_id="v" * 2000), "line_items.0.variant_id"),
    (lambda o: o["line_items"][0].update(sku="S" * 5000), "line_items.0.sku"),
    (lambda o: o.update(line_items=[{"id": n, "quantity": 1} for n in range(1, 2502)]), "line_items"),
    (lambda o: o.update(currency="EURO" * 100), "currency"),
    (lambda o: o.update(financial_status="paid" * 100), "financial_status"),
], ids=["year-1-updated", "year-1-created", "year-9999-cancelled", "quantity-1e40", "quantity-over-bound",
        "price-1e400", "total-1e40", "name-450KB", "address-450KB", "email-450KB", "id-2000", "line-id-2000",
        "variant-id-2000", "sku-5000", "2501-line-items", "currency", "status"])
def test_a_field_out_of_bounds_is_422_naming_it(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                               change: Any, field: str) -> None:
    payload = copy.deepcopy(order_paid)
    change(payload)
    status, answer = post(lambda_context, shop, signed_json(payload))
    assert status == 422 and answer.get("field") == field, answer
    assert answer["error"].startswith(f"{field}: ")
    assert item_count() == 0


def test_a_refund_for_an_impossible_order_id_is_422(shop: str, lambda_context: Any) -> None:
    body = signed_json({"id": 7, "order_id": "1" * 2000})
    status, answer = post(lambda_context, shop, body, topic="refunds/create")
    assert status == 422 and answer["field"] == "order_id", answer
    assert item_count() == 0


def test_an_order_too_large_for_one_item_is_413_naming_it(shop: str, order_paid: dict[str, Any],
                                                          lambda_context: Any) -> None:
    # Every field within its bound, the whole past one DynamoDB item even compressed (random titles).
    rng = random.Random(7)
    letters = string.ascii_letters + string.digits

    def text(n: int) -> str:
        return "".join(rng.choice(letters) for _ in range(n))

    payload = copy.deepcopy(order_paid)
    payload["line_items"] = [{"id": 90000000 + i, "variant_id": 1000221, "title": text(255),
                              "variant_title": text(255), "sku": text(64), "quantity": 1, "price": "1"}
                             for i in range(1200)]
    body = signed_json(payload)
    assert len(body) < wiring.settings().max_webhook_bytes
    status, answer = post(lambda_context, shop, body)
    assert status == 413 and "order 5549662" in answer["error"] and answer.get("field") == "line_items", answer
    assert item_count() == 0


def test_a_timestamp_near_the_edges_that_is_valid_is_kept(shop: str, order_paid: dict[str, Any],
                                                          lambda_context: Any) -> None:
    payload = dict(order_paid, updated_at="2099-12-31T23:00:00-05:00", created_at="1971-01-01T00:00:00+00:00")
    assert post(lambda_context, shop, signed_json(payload)) == (200, {"outcome": "created"})
    order = wiring.orders().get(shop, "5549662")
    assert order is not None and order.store_updated_at is not None and order.store_updated_at.year == 2100


# ------------------------------------------------------------------ item 8: ids that could not round-trip

@pytest.mark.parametrize("order_id", ["10#01", "5549662#x", "#", "12 34", "-5", "0", "0x1F", "١٢٣"])
def test_an_order_id_that_is_not_a_shopbase_id_is_422(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                                      order_id: str) -> None:
    status, answer = post(lambda_context, shop, signed_json(dict(order_paid, id=order_id)))
    assert status == 422 and answer["field"] == "id", answer
    assert item_count() == 0


def test_an_id_with_leading_zeros_is_the_same_order(shop: str, order_paid: dict[str, Any],
                                                    lambda_context: Any) -> None:
    assert post(lambda_context, shop, signed_json(order_paid)) == (200, {"outcome": "created"})
    newer = dict(order_paid, id="0005549662", updated_at="2026-11-20T11:00:00+00:00", financial_status="refunded")
    assert post(lambda_context, shop, signed_json(newer)) == (200, {"outcome": "updated"})
    assert item_count() == 1
    order = wiring.orders().get(shop, "5549662")
    assert order is not None and order.status.value == "canceled"
