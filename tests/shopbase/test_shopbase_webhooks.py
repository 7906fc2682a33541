"""Webhook registration through the client, and signed delivery by the simulator."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from shopbase_testkit import SECRET, SHOP, Receiver, admin

from shared.shopbase import protocol
from shared.shopbase.client import ShopBaseClient
from shared.shopbase.errors import ShopBaseUnprocessable
from shared.shopbase.signature import verify_webhook
from simulators.shopbase import ShopBaseSimulator
from simulators.shopbase import protocol as sim_protocol


def _subscribe(client: ShopBaseClient, receiver: Receiver, *topics: str) -> None:
    # One URL per topic: consumers must not depend on the (unconfirmed) topic header.
    for topic in topics:
        client.register_webhook(topic, f"{receiver.url}/hooks/{topic.replace('/', '-')}")


def test_register_list_delete(sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver) -> None:
    hook = client.register_webhook("orders/paid", f"{receiver.url}/hooks/orders-paid")
    assert hook.topic == "orders/paid" and hook.format == "json" and hook.created_at is not None
    assert client.ensure_webhook("orders/paid", f"{receiver.url}/hooks/orders-paid").id == hook.id
    with pytest.raises(ShopBaseUnprocessable):  # same topic and address twice
        client.register_webhook("orders/paid", f"{receiver.url}/hooks/orders-paid")
    other = client.ensure_webhook("orders/cancelled", f"{receiver.url}/hooks/orders-cancelled")
    assert [h.id for h in client.list_webhooks()] == [hook.id, other.id]
    path = sim_protocol.WEBHOOK_PATH.format(webhook_id=hook.id)
    assert [admin(sim.shop_url(SHOP), "DELETE", path).status_code for _ in range(2)] == [200, 404]
    assert [h.id for h in client.list_webhooks()] == [other.id]


@pytest.mark.parametrize(
    "address",
    [
        "http://hooks.shop-app.io/orders",  # not HTTPS
        "https://example.com/hooks",
        "https://api.example.org/hooks",
        "https://svc.internal/hooks",
        "https://acme.onshopbase.com/hooks",
        "ftp://hooks.shop-app.io/x",
        "not a url",
    ],
)
def test_registration_refuses_bad_addresses(client: ShopBaseClient, address: str) -> None:
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.register_webhook("orders/paid", address)
    assert info.value.status == 422


def test_registration_refuses_unknown_topic(client: ShopBaseClient) -> None:
    with pytest.raises(ShopBaseUnprocessable):
        client.register_webhook("orders/exploded", "https://hooks.shop-app.io/x")


def test_loopback_refused_unless_allowed(make_client: Callable[..., ShopBaseClient]) -> None:
    with ShopBaseSimulator(allow_http_loopback=False) as strict:
        strict.create_shop("acme", access_token="t1")
        client = make_client(access_token="t1", base_url=strict.shop_url("acme"))
        with pytest.raises(ShopBaseUnprocessable):
            client.register_webhook("orders/paid", "http://127.0.0.1:9/hooks")
        assert client.register_webhook("orders/paid", "https://hooks.shop-app.io/x").id > 0


def test_signed_delivery_of_order_events(sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver) -> None:
    _subscribe(client, receiver, "orders/create", "orders/paid", "orders/updated")
    order = sim.make_order(SHOP, n_items=2, paid=False)
    paid = sim.mark_paid(SHOP, order["id"])
    assert paid["updated_at"] > order["updated_at"]  # same ISO format: string order is time order

    results = sim.deliver_pending()
    assert [(r.topic, r.ok, r.attempts) for r in results] == [
        ("orders/create", True, 1),
        ("orders/paid", True, 1),
        ("orders/updated", True, 1),
    ]
    got = receiver.received
    assert [r.path for r in got] == ["/hooks/orders-create", "/hooks/orders-paid", "/hooks/orders-updated"]
    for r in got:
        assert verify_webhook(SECRET, r.body, r.headers[protocol.WEBHOOK_HMAC_HEADER])
        assert not verify_webhook("other-secret", r.body, r.headers[protocol.WEBHOOK_HMAC_HEADER])
        assert r.headers[protocol.WEBHOOK_SHOP_DOMAIN_HEADER] == "acme.onshopbase.com"
        assert r.headers["Content-Type"] == "application/json"
    assert got[0].headers[protocol.WEBHOOK_TOPIC_HEADER] == "orders/create"
    created, paid_body = json.loads(got[0].body), json.loads(got[1].body)
    assert created["financial_status"] == "pending" and paid_body["financial_status"] == "paid"
    assert paid_body["updated_at"] == paid["updated_at"]
    # Raw bytes matter: a re-serialisation of the same JSON need not verify.
    reserialised = json.dumps(json.loads(got[1].body)).encode()
    if reserialised != got[1].body:
        assert not verify_webhook(SECRET, reserialised, got[1].headers[protocol.WEBHOOK_HMAC_HEADER])
    assert sim.stats()["webhooks"]["delivered"] == 3


def test_fixture_order_delivered_byte_exact(
    sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver, fixture_order: dict[str, object]
) -> None:
    _subscribe(client, receiver, "orders/paid")
    sim.create_order(SHOP, fixture_order)
    sim.deliver_pending()
    (got,) = receiver.received
    assert verify_webhook(SECRET, got.body, got.headers[protocol.WEBHOOK_HMAC_HEADER])
    assert json.loads(got.body) == fixture_order


def test_lifecycle_topics(sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver) -> None:
    topics = (
        "orders/cancelled", "refunds/create", "orders/fulfilled", "orders/partially_fulfilled",
        "fulfillments/create", "fulfillments/update", "orders/delete",
    )  # fmt: skip
    _subscribe(client, receiver, *topics)
    a = sim.make_order(SHOP, n_items=2)
    first_item = a["line_items"][0]
    sim.fulfill_in_admin(SHOP, a["id"], tracking_number="H1", line_items=[(first_item["id"], first_item["quantity"])])
    made = client.create_fulfillment(a["id"], tracking_number="A2", line_items=None)
    update = {"fulfillment": {"notify_customer": False, "tracking_number": "A3"}}
    path = sim_protocol.FULFILLMENT_PATH.format(order_id=a["id"], fulfillment_id=made.id)
    assert admin(sim.shop_url(SHOP), "PUT", path, update).status_code == 200
    b = sim.make_order(SHOP, n_items=1)
    refund = sim.refund_order(SHOP, b["id"])
    sim.cancel_order(SHOP, b["id"])
    sim.delete_order(SHOP, b["id"])
    results = sim.deliver_pending()
    assert [r.topic for r in results] == [
        "fulfillments/create", "orders/partially_fulfilled",
        "fulfillments/create", "orders/fulfilled",
        "fulfillments/update",
        "refunds/create", "orders/cancelled", "orders/delete",
    ]  # fmt: skip
    bodies = [json.loads(r.body) for r in receiver.received]
    assert bodies[0]["tracking_number"] == "H1" and bodies[4]["tracking_number"] == "A3"
    assert bodies[5]["id"] == refund["id"] and bodies[5]["order_id"] == b["id"]
    assert bodies[6]["cancelled_at"] and bodies[7] == {"id": b["id"]}
    assert sim.get_order(SHOP, a["id"])["fulfillment_status"] == "fulfilled"
    assert [n["source"] for n in sim.notifications(SHOP)] == ["admin", "api", "api"]


def test_duplicates(sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver) -> None:
    _subscribe(client, receiver, "orders/create")
    sim.set_delivery(duplicate_rate=1.0)
    ids = [sim.make_order(SHOP, n_items=1)["id"] for _ in range(3)]
    results = sim.deliver_pending()
    assert len(results) == 6 and sum(r.duplicate for r in results) == 3
    bodies = [r.body for r in receiver.received]
    assert sorted(json.loads(b)["id"] for b in bodies) == sorted(ids * 2)
    for body in set(bodies):
        assert bodies.count(body) == 2  # byte-identical, same signature
    assert all(verify_webhook(SECRET, r.body, r.headers[protocol.WEBHOOK_HMAC_HEADER]) for r in receiver.received)


def test_reordering(sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver) -> None:
    _subscribe(client, receiver, "orders/create")
    sim.set_delivery(reorder=True)
    ids = [sim.make_order(SHOP, n_items=1)["id"] for _ in range(10)]
    sim.deliver_pending()
    arrived = [json.loads(r.body)["id"] for r in receiver.received]
    assert sorted(arrived) == ids and arrived != ids  # seeded shuffle


def test_retry_on_non_2xx(sim: ShopBaseSimulator, client: ShopBaseClient, receiver: Receiver) -> None:
    _subscribe(client, receiver, "orders/create")
    sim.set_delivery(max_attempts=3)
    receiver.script = [500, 503]
    sim.make_order(SHOP)
    (result,) = sim.deliver_pending()
    assert (result.ok, result.attempts, result.status) == (True, 3, 200)
    assert len({r.body for r in receiver.received}) == 1 and len(receiver.received) == 3

    sim.set_delivery(max_attempts=2)
    receiver.script = [500, 500]
    sim.make_order(SHOP)
    (failed,) = sim.deliver_pending()
    assert (failed.ok, failed.attempts, failed.status) == (False, 2, 500)
    assert sim.stats()["webhooks"]["failed"] == 1


def test_unreachable_receiver_is_a_failed_delivery(sim: ShopBaseSimulator, client: ShopBaseClient) -> None:
    client.register_webhook("orders/create", "http://127.0.0.1:9/hooks")  # discard port: refused
    sim.make_order(SHOP)
    (result,) = sim.deliver_pending()
    assert not result.ok and result.status is None and result.error


def test_background_delivery(receiver: Receiver) -> None:
    with ShopBaseSimulator(delivery="background", seed=3) as sim:
        sim.create_shop(SHOP, access_token="bg-token", webhook_secret=SECRET)
        bg = ShopBaseClient(SHOP, access_token="bg-token", base_url=sim.shop_url(SHOP))
        bg.register_webhook("orders/create", f"{receiver.url}/hooks/orders-create")
        sim.make_order(SHOP)
        sim.make_order(SHOP)
        got = receiver.wait_for(2)
    assert len(got) == 2
    assert all(verify_webhook(SECRET, r.body, r.headers[protocol.WEBHOOK_HMAC_HEADER]) for r in got)
