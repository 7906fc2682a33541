"""The ShopBase order webhook, end to end under moto: API Gateway v2 events in, table items out."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from functions.webhook_order import app as webhook
from local.apigw import http_event
from shared import wiring
from shared.models.order import OrderStatus
from shared.shopbase.signature import sign_webhook

SECRET = "whsec-demo"


def deliver(context: Any, shop: str, topic: str, payload: Any, *, secret: str = SECRET,
            raw: bytes | None = None, signature: str | None = None, domain: str | None = None,
            base64_body: bool = False, path: str | None = None) -> tuple[int, dict[str, Any]]:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"content-type": "application/json",
               "x-shopbase-hmac-sha256": signature if signature is not None else sign_webhook(secret, body)}
    if domain:
        headers["x-shopbase-shop-domain"] = domain
    route_path = path or f"/webhooks/shopbase/{shop}/{topic}"
    event = http_event("POST", route_path, body=body, headers=headers, base64_body=base64_body,
                       route_key=f"POST /webhooks/shopbase/{{shop}}/{topic}",
                       path_parameters={"shop": shop})
    response = webhook.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else {}


def item_count() -> int:
    return int(boto3.client("dynamodb").scan(TableName=wiring.settings().table_name, Select="COUNT")["Count"])


def test_paid_order_is_recorded_awaiting_order(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    status, body = deliver(lambda_context, shop, "orders/paid", order_paid, domain="demo-store.onshopbase.com")
    assert (status, body) == (200, {"outcome": "created"})
    order = wiring.orders().get(shop, "5549662")
    assert order is not None
    assert order.status is OrderStatus.AWAITING_ORDER
    assert order.name == "#1042" and order.total_price == "43.90" and order.fulfillment_status is None
    assert [(li.id, li.variant_id, li.quantity, li.price) for li in order.line_items] == [
        ("90817001", "1000221", 2, "12.95"), ("90817002", "1000387", 1, "13.0")]
    assert order.customer.email == "jane.doe@example.com"
    assert order.shipping_address and order.shipping_address.country_code == "US"
    assert [(h.from_status, h.to_status, h.cause) for h in order.history] == [
        (None, OrderStatus.AWAITING_ORDER, "customer_paid")]


def test_unpaid_order_is_pending_then_paid_moves_it(shop: str, order_paid: dict[str, Any],
                                                    lambda_context: Any) -> None:
    unpaid = dict(order_paid, financial_status="pending", updated_at="2026-11-20T09:14:10+00:00")
    assert deliver(lambda_context, shop, "orders/create", unpaid)[0] == 200
    assert wiring.orders().get(shop, "5549662").status is OrderStatus.PENDING  # type: ignore[union-attr]
    assert deliver(lambda_context, shop, "orders/paid", order_paid) == (200, {"outcome": "updated"})
    order = wiring.orders().get(shop, "5549662")
    assert order is not None and order.status is OrderStatus.AWAITING_ORDER
    assert [h.to_status for h in order.history] == [OrderStatus.PENDING, OrderStatus.AWAITING_ORDER]


def test_duplicate_and_stale_deliveries_change_nothing(shop: str, order_paid: dict[str, Any],
                                                       lambda_context: Any) -> None:
    assert deliver(lambda_context, shop, "orders/paid", order_paid)[1] == {"outcome": "created"}
    before = wiring.orders().get(shop, "5549662")
    assert deliver(lambda_context, shop, "orders/paid", order_paid)[1] == {"outcome": "duplicate"}
    older = dict(order_paid, financial_status="pending", updated_at="2026-11-20T09:14:10+00:00")
    assert deliver(lambda_context, shop, "orders/create", older) == (200, {"outcome": "stale"})
    assert wiring.orders().get(shop, "5549662") == before


def test_late_webhook_never_moves_an_advanced_order_back(shop: str, order_paid: dict[str, Any],
                                                         lambda_context: Any) -> None:
    from shared.lifecycle import Event, transition

    deliver(lambda_context, shop, "orders/paid", order_paid)
    repo = wiring.orders()
    repo.mutate(shop, "5549662", lambda o: transition(o, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED))
    newer = dict(order_paid, updated_at="2026-11-20T10:00:00+00:00", note="address changed")
    newer["shipping_address"] = dict(order_paid["shipping_address"], address2="Apt 4")
    assert deliver(lambda_context, shop, "orders/updated", newer)[1] == {"outcome": "updated"}
    order = repo.get(shop, "5549662")
    assert order is not None and order.status is OrderStatus.AWAITING_PAYMENT
    assert order.shipping_address and order.shipping_address.address2 == "Apt 4"


def test_cancel_after_aliexpress_placement_says_so(shop: str, order_paid: dict[str, Any],
                                                   lambda_context: Any) -> None:
    from shared.lifecycle import Event, transition
    from shared.models.order import AeOrder

    deliver(lambda_context, shop, "orders/paid", order_paid)
    repo = wiring.orders()

    def placed(o: Any) -> Any:
        o = transition(o, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED)
        o.ae_orders = [AeOrder(ae_order_id="8198352049851315")]
        return o

    repo.mutate(shop, "5549662", placed)
    cancelled = dict(order_paid, updated_at="2026-11-21T00:00:00+00:00", cancelled_at="2026-11-21T00:00:00Z",
                     financial_status="refunded")
    assert deliver(lambda_context, shop, "orders/cancelled", cancelled)[0] == 200
    order = repo.get(shop, "5549662")
    assert order is not None and order.status is OrderStatus.CANCELED
    assert order.reason_code == "cancel_on_aliexpress" and "AliExpress website" in (order.reason or "")


@pytest.mark.parametrize("financial_status", ["refunded", "voided"])
def test_refunded_or_voided_is_canceled(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                        financial_status: str) -> None:
    payload = dict(order_paid, financial_status=financial_status)
    assert deliver(lambda_context, shop, "orders/updated", payload)[0] == 200
    assert wiring.orders().get(shop, "5549662").status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_fulfilled_by_hand_in_the_store_stops_the_pipeline(shop: str, order_paid: dict[str, Any],
                                                           lambda_context: Any) -> None:
    deliver(lambda_context, shop, "orders/paid", order_paid)
    by_hand = dict(order_paid, updated_at="2026-11-22T00:00:00Z", fulfillment_status="fulfilled",
                   fulfillments=[{"id": 1, "tracking_number": "SELLER123"}])
    assert deliver(lambda_context, shop, "orders/fulfilled", by_hand)[0] == 200
    order = wiring.orders().get(shop, "5549662")
    assert order is not None and order.status is OrderStatus.FULFILLED and order.fulfilled_in_store


def test_refund_object_flags_a_known_order_and_ignores_an_unknown_one(shop: str, order_paid: dict[str, Any],
                                                                      lambda_context: Any) -> None:
    assert deliver(lambda_context, shop, "refunds/create", {"id": 7, "order_id": 5549662})[1] == {
        "outcome": "ignored"}
    deliver(lambda_context, shop, "orders/paid", order_paid)
    assert deliver(lambda_context, shop, "refunds/create", {"id": 7, "order_id": 5549662})[1] == {
        "outcome": "updated"}
    assert wiring.orders().get(shop, "5549662").attention == "Refund issued in the store."  # type: ignore[union-attr]


def test_base64_encoded_body_is_verified_on_its_bytes(shop: str, order_paid: dict[str, Any],
                                                      lambda_context: Any) -> None:
    assert deliver(lambda_context, shop, "orders/paid", order_paid, base64_body=True)[0] == 200


@pytest.mark.parametrize("case", ["missing", "wrong", "unknown_shop", "other_domain", "tampered"])
def test_bad_signature_or_shop_is_401_and_writes_nothing(shop: str, order_paid: dict[str, Any],
                                                         lambda_context: Any, case: str) -> None:
    body = json.dumps(order_paid).encode()
    kwargs: dict[str, Any] = {}
    target_shop = shop
    if case == "missing":
        kwargs["signature"] = ""
    elif case == "wrong":
        kwargs["secret"] = "not-the-secret"
    elif case == "unknown_shop":
        target_shop = "no-such-shop"
    elif case == "other_domain":
        kwargs["domain"] = "another-store.onshopbase.com"
    elif case == "tampered":
        kwargs["signature"] = sign_webhook(SECRET, body)
        kwargs["raw"] = body.replace(b"43.90", b"0.01")
    status, response = deliver(lambda_context, target_shop, "orders/paid", order_paid, **kwargs)
    assert (status, response) == (401, {"error": "unauthorized"})
    assert item_count() == 0


def test_malformed_json_is_400(shop: str, lambda_context: Any) -> None:
    status, body = deliver(lambda_context, shop, "orders/paid", None, raw=b"{not json")
    assert status == 400 and "JSON" in body["error"]
    assert item_count() == 0


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda o: o.pop("id"), "id"),
    (lambda o: o.pop("line_items"), "line_items"),
    (lambda o: o["line_items"][0].update(quantity="two"), "line_items.0.quantity"),
    (lambda o: o.update(updated_at="yesterday"), "updated_at"),
])
def test_schema_failure_is_422_naming_the_field(shop: str, order_paid: dict[str, Any], lambda_context: Any,
                                                mutate: Any, field: str) -> None:
    payload = copy.deepcopy(order_paid)
    mutate(payload)
    status, body = deliver(lambda_context, shop, "orders/paid", payload)
    assert status == 422 and body["field"] == field and field in body["error"]
    assert item_count() == 0


def test_body_over_one_mib_is_413(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    payload = dict(order_paid, padding="x" * (1024 * 1024))
    status, body = deliver(lambda_context, shop, "orders/paid", payload)
    assert status == 413 and body == {"error": "payload too large"}
    assert item_count() == 0


def test_unknown_route_is_404_json(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    status, body = deliver(lambda_context, shop, "orders/exploded", order_paid)
    assert status == 404 and body == {"error": f"no route POST /webhooks/shopbase/{shop}/orders/exploded"}


def test_shopbase_quirks_parse(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    payload = copy.deepcopy(order_paid)
    payload.update(id="5549663", fulfillment_status=None, total_price=43.9, closed_at=0, created_at=0,
                   brand_new_field={"x": 1})
    payload["line_items"][0].update(price=12.95, id="90817001", fulfillment_status=None)
    assert deliver(lambda_context, shop, "orders/paid", payload)[0] == 200
    order = wiring.orders().get(shop, "5549663")
    assert order is not None and order.total_price == "43.9" and order.line_items[0].price == "12.95"


def test_very_large_order_fits_one_item(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    payload = copy.deepcopy(order_paid)
    template = payload["line_items"][0]
    payload["line_items"] = [dict(template, id=90000000 + i, title="Insulated Water Bottle " * 10)
                             for i in range(1500)]
    assert len(json.dumps(payload)) > 400_000
    assert deliver(lambda_context, shop, "orders/paid", payload)[0] == 200
    order = wiring.orders().get(shop, "5549662")
    assert order is not None and len(order.line_items) == 1500


def test_event_in_the_exact_shape_sam_generates(shop: str, order_paid: dict[str, Any], lambda_context: Any) -> None:
    """tests/fixtures/apigw_http_api_proxy.json is `sam local generate-event apigateway http-api-proxy`."""
    import base64
    from pathlib import Path

    event = json.loads((Path(__file__).parent.parent / "fixtures" / "apigw_http_api_proxy.json").read_text())
    body = json.dumps(order_paid).encode()
    path = f"/webhooks/shopbase/{shop}/orders/paid"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = "POST /webhooks/shopbase/{shop}/orders/paid"
    event["pathParameters"] = {"shop": shop}
    event["headers"] = {"Content-Type": "application/json", "X-ShopBase-Hmac-SHA256": sign_webhook(SECRET, body),
                        "X-ShopBase-Shop-Domain": f"{shop}.onshopbase.com"}
    event["body"] = base64.b64encode(body).decode()
    response = webhook.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"outcome": "created"}


def test_logs_carry_a_correlation_id_and_no_personal_data(shop: str, order_paid: dict[str, Any],
                                                          lambda_context: Any) -> None:
    import io

    from shared.observability import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[union-attr]
    try:
        deliver(lambda_context, shop, "orders/paid", order_paid)
        deliver(lambda_context, shop, "orders/paid", dict(order_paid, line_items="oops"))
    finally:
        logger.registered_handler.setStream(previous)  # type: ignore[union-attr]
    out = stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all(line.get("correlation_id") for line in lines)
    assert {line["message"] for line in lines} == {"webhook applied", "webhook rejected"}
    for secret in ("jane.doe@example.com", "12 Example Street", "Springfield", "+1 217 555 0100", SECRET):
        assert secret not in out
