"""The webhook use case over fakes: the order of the checks, one answer for every authenticity failure,
refund-or-order, auto-place after the write; and the seller token check."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared.logic.auth import SellerAuth, hash_token
from shared.logic.intake import IntakeOutcome, Topic
from shared.logic.webhooks import WebhookReceiver
from shared.models.errors import BadRequest, Invalid, NotAuthorized, TooLarge
from shared.models.order import Order
from shared.shopbase.signature import sign_webhook
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_intake import InMemorySecrets

SHOP = "demo-store"
SECRET = "whsec-demo"


class Harness:
    def __init__(self, max_bytes: int = 1024 * 1024) -> None:
        self.orders = InMemoryOrders()
        self.secrets = InMemorySecrets()
        self.secrets.add(SHOP, SECRET)
        self.auto_placed: list[Order | None] = []
        self.receiver = WebhookReceiver(self.secrets, self.orders, self._auto_place, max_bytes)

    def _auto_place(self, order: Order | None) -> bool:
        self.auto_placed.append(order)
        return False

    def deliver(self, topic: Topic, payload: Any = None, *, raw: bytes | None = None, secret: str = SECRET,
                shop: str = SHOP, **headers: str) -> IntakeOutcome:
        body = raw if raw is not None else json.dumps(payload).encode()
        sent = {"X-ShopBase-Hmac-SHA256": sign_webhook(secret, body), **headers}
        return self.receiver.receive(shop, topic, sent, body).outcome


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_an_authentic_delivery_is_applied_then_auto_placed(harness: Harness, order_paid: dict[str, Any]) -> None:
    assert harness.deliver(Topic.ORDERS_PAID, order_paid,
                           **{"X-ShopBase-Shop-Domain": "Demo-Store.onshopbase.com"}) is IntakeOutcome.CREATED
    [order] = harness.orders.all()
    assert [o.order_id if o else None for o in harness.auto_placed] == [order.order_id]
    assert harness.deliver(Topic.ORDERS_PAID, order_paid, **{"x-shopbase-shop-domain": SHOP}) is \
        IntakeOutcome.DUPLICATE
    assert len(harness.auto_placed) == 2  # decided on the order's state, not on the outcome


@pytest.mark.parametrize("case", ["missing", "wrong_secret", "unknown_shop", "other_domain", "tampered"])
def test_every_authenticity_failure_is_the_same_error_and_writes_nothing(
        harness: Harness, order_paid: dict[str, Any], case: str) -> None:
    body = json.dumps(order_paid).encode()
    headers = {"x-shopbase-hmac-sha256": sign_webhook(SECRET, body)}
    shop = SHOP
    if case == "missing":
        headers = {}
    elif case == "wrong_secret":
        headers["x-shopbase-hmac-sha256"] = sign_webhook("not-the-secret", body)
    elif case == "unknown_shop":
        shop = "no-such-shop"
    elif case == "other_domain":
        headers["x-shopbase-shop-domain"] = "another-store.onshopbase.com"
    else:
        body = body.replace(b"43.90", b"0.01")  # tampered: signed before the change
    with pytest.raises(NotAuthorized) as raised:
        harness.receiver.receive(shop, Topic.ORDERS_PAID, headers, body)
    assert raised.value.message == "unauthorized" and raised.value.details == {}
    assert harness.orders.all() == [] and harness.auto_placed == []


def test_size_is_checked_first_even_before_the_signature(order_paid: dict[str, Any]) -> None:
    small = Harness(max_bytes=100)
    with pytest.raises(TooLarge, match="payload too large"):
        small.receiver.receive(SHOP, Topic.ORDERS_PAID, {}, json.dumps(order_paid).encode())
    assert small.secrets.calls["get"] == 0 and small.orders.calls["mutate"] == 0


def test_a_body_that_is_not_json_is_a_bad_request(harness: Harness) -> None:
    with pytest.raises(BadRequest, match="JSON"):
        harness.deliver(Topic.ORDERS_PAID, raw=b"{not json")
    with pytest.raises(BadRequest):
        harness.deliver(Topic.ORDERS_PAID, raw=b"\xff\xfe")
    assert harness.orders.calls["mutate"] == 0


@pytest.mark.parametrize("payload", [[1, 2], "order", 42, None])
def test_a_body_that_is_not_an_object_is_invalid(harness: Harness, payload: Any) -> None:
    with pytest.raises(Invalid) as raised:
        harness.deliver(Topic.ORDERS_PAID, payload)
    assert raised.value.field == "" and raised.value.details == {"field": ""}


def test_a_body_of_the_wrong_shape_names_the_field(harness: Harness, order_paid: dict[str, Any]) -> None:
    order_paid["line_items"][0]["quantity"] = "two"
    with pytest.raises(ValidationError) as raised:
        harness.deliver(Topic.ORDERS_PAID, order_paid)
    assert raised.value.errors()[0]["loc"] == ("line_items", 0, "quantity")
    assert harness.orders.all() == [] and harness.auto_placed == []


def test_refunds_create_carries_a_refund_or_an_order(harness: Harness, order_paid: dict[str, Any]) -> None:
    assert harness.deliver(Topic.REFUNDS_CREATE, {"id": 7, "order_id": 5549662}) is IntakeOutcome.IGNORED
    assert harness.deliver(Topic.REFUNDS_CREATE, order_paid) is IntakeOutcome.CREATED  # has line_items
    assert harness.deliver(Topic.REFUNDS_CREATE, {"id": 7, "order_id": 5549662}) is IntakeOutcome.UPDATED
    assert harness.orders.all()[0].attention == "Refund issued in the store."


def test_a_failing_auto_place_fails_the_delivery_after_the_write(order_paid: dict[str, Any]) -> None:
    orders, secrets = InMemoryOrders(), InMemorySecrets()
    secrets.add(SHOP, SECRET)

    def broken(_: Order | None) -> bool:
        raise RuntimeError("queue down")

    receiver = WebhookReceiver(secrets, orders, broken, 1024 * 1024)
    body = json.dumps(order_paid).encode()
    with pytest.raises(RuntimeError, match="queue down"):
        receiver.receive(SHOP, Topic.ORDERS_PAID, {"x-shopbase-hmac-sha256": sign_webhook(SECRET, body)}, body)
    assert len(orders.all()) == 1  # stored: ShopBase's redelivery is a duplicate, queued again


# ---------------------------------------------------------------- seller API token


@pytest.mark.parametrize(("shop", "authorization", "valid"), [
    (SHOP, "Bearer tok-demo", True),
    (SHOP, "bearer   tok-demo  ", True),
    (SHOP, "Bearer tok-other", False),
    (SHOP, "tok-demo", False),
    (SHOP, None, False),
    (SHOP, "", False),
    ("other-store", "Bearer tok-demo", False),  # a token is one shop's
    ("no-token-store", "Bearer ", False),  # a shop without an API token hash accepts nothing
    ("no-such-shop", "Bearer tok-demo", False),
])
def test_the_seller_token_is_one_shops(shop: str, authorization: str | None, valid: bool) -> None:
    secrets = InMemorySecrets()
    secrets.add(SHOP, api_token_sha256=hash_token("tok-demo"))
    secrets.add("other-store", api_token_sha256=hash_token("tok-other"))
    secrets.add("no-token-store")
    auth = SellerAuth(secrets)
    assert auth.is_valid(shop, authorization) is valid
    if valid:
        auth.require(shop, authorization)
    else:
        with pytest.raises(NotAuthorized):
            auth.require(shop, authorization)
