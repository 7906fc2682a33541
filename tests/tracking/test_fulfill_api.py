"""The seller's manual fulfillment: POST /shops/{shop}/orders/{id}/fulfill -> package -> the same stream path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.seller_api import app as seller_api
from local.apigw import http_event
from shared import wiring
from shared.logic.auth import hash_token
from shared.models.order import OrderStatus
from simulators.shopbase.server import ShopBaseSimulator
from tests.tracking.conftest import SHOP, all_lines, our_order, save, sent_emails, store_order
from tests.tracking.streams import Mapping, StreamTap, pump

TOKEN = "tok-demo"


@pytest.fixture
def token(env: None) -> str:
    wiring.shop_secrets().put(SHOP, {"webhook_secret": "whsec-demo", "shopbase_access_token": "sbtok",
                            "api_token_sha256": hash_token(TOKEN)})
    return TOKEN


def fulfill(context: Any, order_id: str, body: Any, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    event = http_event("POST", f"/shops/{SHOP}/orders/{order_id}/fulfill",
                       headers={"authorization": f"Bearer {token}"} if token else {},
                       body=body if isinstance(body, str) else json.dumps(body))
    response = seller_api.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_manual_fulfillment_is_pushed_and_emailed_once(token: str, sim: ShopBaseSimulator, tap: StreamTap,
                                                       push: Mapping, notify: Mapping, lambda_context: Any) -> None:
    store = store_order(sim, n_items=2)
    order = save(our_order(store, OrderStatus.AWAITING_ORDER))  # not placed on AliExpress: the seller ships
    (a_id, a_qty), (b_id, b_qty) = all_lines(store)
    status, body = fulfill(lambda_context, order.order_id,
                           {"tracking_number": "MAN000000001", "carrier": "USPS", "line_items": [{"id": a_id,
                                                                                                  "quantity": a_qty}]})
    assert status == 202 and body["outcome"] == "created" and body["package"]["source"] == "manual"
    # Same request again (a double click, a client retry): nothing new.
    assert fulfill(lambda_context, order.order_id, {"tracking_number": "MAN000000001", "carrier": "USPS"})[0] == 200
    # Default line items: everything not yet covered.
    status, body = fulfill(lambda_context, order.order_id, {"tracking_number": "MAN000000002", "carrier": "UPS",
                                                            "tracking_url": "https://ups.example/MAN2"})
    assert status == 202 and body["package"]["line_items"] == [{"line_item_id": b_id, "quantity": b_qty}]
    pump(tap, push, notify)
    created = sim.get_order(SHOP, int(order.order_id))["fulfillments"]
    assert sorted(f["tracking_number"] for f in created) == ["MAN000000001", "MAN000000002"]
    stored = wiring.orders().get(SHOP, order.order_id)
    assert stored is not None and stored.status is OrderStatus.FULFILLED
    assert len(sent_emails()) == 2
    status, body = fulfill(lambda_context, order.order_id, {"tracking_number": "MAN000000003", "carrier": "UPS"})
    assert status == 409 and "already fulfilled" in body["error"]


def test_bad_requests_have_clear_answers(token: str, sim: ShopBaseSimulator, lambda_context: Any) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    ((item_id, quantity),) = all_lines(store)
    cases = [
        ({"tracking_number": "MAN1000001", "carrier": "USPS", "line_items": [{"id": "999", "quantity": 1}]},
         422, "line item 999 is not part of this order"),
        ({"tracking_number": "MAN1000001", "carrier": "USPS", "line_items": [{"id": item_id,
                                                                            "quantity": quantity + 1}]},
         422, "not yet fulfilled"),
        ({"tracking_number": "x", "carrier": "USPS"}, 422, "tracking_number"),
        ({"tracking_number": "MAN1000001"}, 422, "carrier"),
        ({"tracking_number": "MAN1000001", "carrier": "USPS", "tracking_url": "ftp://nope"}, 422, "tracking_url"),
        ("{not json", 400, "not valid JSON"),
    ]
    for body, status, message in cases:
        got_status, got = fulfill(lambda_context, order.order_id, body)
        assert (got_status, message in got["error"]) == (status, True), (body, got)
    assert fulfill(lambda_context, "424242", {"tracking_number": "MAN1000001", "carrier": "USPS"})[0] == 404
    assert fulfill(lambda_context, order.order_id, {"tracking_number": "MAN1000001", "carrier": "USPS"},
                   token="wrong")[0] == 401
    fulfill(lambda_context, order.order_id, {"tracking_number": "MAN1000001", "carrier": "USPS",
                                             "line_items": [{"id": item_id, "quantity": 1}]})
    status, body = fulfill(lambda_context, order.order_id, {"tracking_number": "MAN1000001", "carrier": "USPS",
                                                            "line_items": [{"id": item_id, "quantity": quantity}]})
    if quantity > 1:
        assert status == 409 and "already used" in body["error"]


def test_canceled_order_cannot_be_fulfilled(token: str, sim: ShopBaseSimulator, lambda_context: Any) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store, OrderStatus.CANCELED))
    status, body = fulfill(lambda_context, order.order_id, {"tracking_number": "MAN2000001", "carrier": "USPS"})
    assert status == 409 and "canceled" in body["error"]
    pending = save(our_order(store_order(sim, n_items=1), OrderStatus.PENDING))
    status, body = fulfill(lambda_context, pending.order_id, {"tracking_number": "MAN2000002", "carrier": "USPS"})
    assert status == 409 and "not paid" in body["error"]


def test_refused_carrier_is_fixed_by_fulfilling_again(token: str, sim: ShopBaseSimulator, tap: StreamTap,
                                                      push: Mapping, notify: Mapping, lambda_context: Any) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    assert fulfill(lambda_context, order.order_id, {"tracking_number": "MAN3000001", "carrier": "Bogus Post"})[0] == 202
    pump(tap, push, notify)
    failed = wiring.orders().get(SHOP, order.order_id)
    assert failed is not None and failed.status is OrderStatus.FAILED
    assert failed.reason_code == "push_invalid_carrier"
    status, body = fulfill(lambda_context, order.order_id, {"tracking_number": "MAN3000001", "carrier": "USPS"})
    assert status == 202 and body["outcome"] == "retrying"
    pump(tap, push, notify)
    fixed = wiring.orders().get(SHOP, order.order_id)
    assert fixed is not None and fixed.status is OrderStatus.FULFILLED and fixed.reason is None
    assert [f["tracking_company"] for f in sim.get_order(SHOP, int(order.order_id))["fulfillments"]] == ["USPS"]
    assert len(sent_emails()) == 1


def test_items_covered_by_pending_packages_cannot_be_fulfilled_again(token: str, sim: ShopBaseSimulator,
                                                                     lambda_context: Any) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    assert fulfill(lambda_context, order.order_id, {"tracking_number": "MAN4000001", "carrier": "USPS"})[0] == 202
    status, body = fulfill(lambda_context, order.order_id, {"tracking_number": "MAN4000002", "carrier": "USPS"})
    assert status == 409 and "already has a tracking number" in body["error"]
    stored = wiring.orders().get(SHOP, order.order_id)
    assert stored is not None and [p.tracking_number for p in stored.packages] == ["MAN4000001"]
