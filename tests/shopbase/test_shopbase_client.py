"""ShopBaseClient against the simulator over real HTTP."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
from shopbase_testkit import SHOP, TOKEN, SleepRecorder

from shared.models.shopbase_order import ShopBaseOrder
from shared.shopbase import protocol
from shared.shopbase.client import ShopBaseClient
from shared.shopbase.errors import (
    ShopBaseAuthError,
    ShopBaseConnectionError,
    ShopBaseNotFound,
    ShopBaseRateLimited,
    ShopBaseResponseError,
    ShopBaseServerError,
    ShopBaseTimeout,
    ShopBaseUnprocessable,
)
from shared.shopbase.throttle import LeakyBucketThrottle, throttle_for
from simulators.shopbase import ShopBaseSimulator
from simulators.shopbase import protocol as sim_protocol

LIST_KEY = ("GET", protocol.FULFILLMENTS_PATH)
CREATE_KEY = ("POST", protocol.FULFILLMENTS_PATH)

MakeClient = Callable[..., ShopBaseClient]


# --- auth ----------------------------------------------------------------------------------------


def test_access_token_auth_and_quirky_order(
    sim: ShopBaseSimulator, client: ShopBaseClient, fixture_order: dict[str, Any]
) -> None:
    sim.create_order(SHOP, fixture_order)
    assert client.list_fulfillments(fixture_order["id"]) == []  # the token is accepted
    # The order as the Admin API serves it, read by the one ShopBase order model.
    served = requests.get(
        f"{sim.shop_url(SHOP)}{sim_protocol.ORDER_PATH.format(order_id=fixture_order['id'])}",
        headers={protocol.ACCESS_TOKEN_HEADER: TOKEN},
        timeout=5,
    ).json()[sim_protocol.ORDER_KEY]
    order = ShopBaseOrder.model_validate(served)
    assert order.id == "5549662"
    assert order.fulfillment_status is None  # "" in the JSON
    assert order.closed_at is None  # 0 in the JSON
    assert order.total_price == Decimal("43.90")  # string
    assert order.subtotal_price == Decimal("38.9")  # number
    assert [li.price for li in order.line_items] == [Decimal("12.95"), Decimal("13.0")]
    assert [li.fulfillment_status for li in order.line_items] == [None, None]  # "" and null
    assert order.model_extra is not None and order.model_extra["draft_order_number"] == 0
    assert order.customer is not None and order.customer.last_order_at == 0  # type: ignore[attr-defined]


def test_basic_auth_private_app(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    sim.create_shop("private-shop", api_key="key123", password="pw456")
    order = sim.make_order("private-shop", n_items=1)
    client = make_client(
        shop="private-shop", access_token=None, api_key="key123", password="pw456",
        base_url=sim.shop_url("private-shop"),
    )  # fmt: skip
    assert client.list_fulfillments(order["id"]) == []
    bad = make_client(
        shop="private-shop", access_token=None, api_key="key123", password="nope",
        base_url=sim.shop_url("private-shop"),
    )  # fmt: skip
    with pytest.raises(ShopBaseAuthError):
        bad.list_fulfillments(order["id"])


def test_bad_token_is_typed_not_retried_and_not_leaked(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP)
    client = make_client(access_token="wrong-token-xyz")
    with pytest.raises(ShopBaseAuthError) as info:
        client.list_fulfillments(order["id"])
    assert info.value.status == 401 and not info.value.retryable
    assert client.calls[LIST_KEY] == 1
    assert "wrong-token-xyz" not in str(info.value) and "wrong-token-xyz" not in repr(client)


def test_client_needs_credentials() -> None:
    with pytest.raises(ValueError):
        ShopBaseClient("acme")
    with pytest.raises(ValueError):
        ShopBaseClient("acme/../evil", access_token="t")


def test_default_base_url_and_shop_normalisation() -> None:
    client = ShopBaseClient("https://Acme.onshopbase.com/", access_token="t")
    assert client.shop == "acme"
    assert client.base_url == "https://acme.onshopbase.com"


# --- fulfillments ---------------------------------------------------------------------


def test_fulfillments_with_line_items(
    sim: ShopBaseSimulator, client: ShopBaseClient, fixture_order: dict[str, Any]
) -> None:
    sim.create_order(SHOP, fixture_order)
    oid = fixture_order["id"]
    bottle, skirt = (li["id"] for li in fixture_order["line_items"])
    assert client.list_fulfillments(oid) == []

    first = client.create_fulfillment(
        oid,
        tracking_number="LP00112233",
        tracking_company="Cainiao",
        tracking_url="https://global.cainiao.com/detail.htm?mailNoList=LP00112233",
        line_items=[(bottle, 1)],
        notify_customer=True,
    )
    assert first.tracking_number == "LP00112233" and first.order_id == str(oid)
    assert [(li.id, li.quantity) for li in first.line_items] == [(str(bottle), 1)]
    assert sim.get_order(SHOP, oid)["fulfillment_status"] == "partial"

    second = client.create_fulfillment(
        oid,
        tracking_number="YT2233445566",
        tracking_company="YunExpress",
        line_items=[{"id": bottle, "quantity": 1}, {"id": skirt, "quantity": 1}],
        notify_customer=False,
    )
    listed = client.list_fulfillments(oid)
    assert [f.id for f in listed] == [first.id, second.id]
    assert [f.all_tracking_numbers for f in listed] == [["LP00112233"], ["YT2233445566"]]
    order = sim.get_order(SHOP, oid)
    assert order["fulfillment_status"] == "fulfilled"
    assert [(li["fulfillable_quantity"], li["fulfillment_status"]) for li in order["line_items"]] == [
        (0, "fulfilled"),
        (0, "fulfilled"),
    ]
    assert [n["notify_customer"] for n in sim.notifications(SHOP)] == [True, False]


def test_already_fulfilled_is_typed(sim: ShopBaseSimulator, client: ShopBaseClient) -> None:
    order = sim.make_order(SHOP, n_items=2)
    client.create_fulfillment(order["id"], tracking_number="T1", line_items=None)
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="T1", line_items=None)
    assert info.value.is_already_fulfilled and not info.value.is_invalid_carrier
    assert info.value.status == 422 and not info.value.retryable
    item = order["line_items"][0]
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="T2", line_items=[(item["id"], 1)])
    assert info.value.is_already_fulfilled


def test_merchant_fulfilled_in_admin_then_app_gets_already_fulfilled(
    sim: ShopBaseSimulator, client: ShopBaseClient
) -> None:
    order = sim.make_order(SHOP, n_items=1)
    sim.fulfill_in_admin(SHOP, order["id"], tracking_number="BYHAND1")
    assert [f.tracking_number for f in client.list_fulfillments(order["id"])] == ["BYHAND1"]
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="APP1", line_items=None)
    assert info.value.is_already_fulfilled


def test_over_quantity_and_unknown_line_item(sim: ShopBaseSimulator, client: ShopBaseClient) -> None:
    order = sim.make_order(SHOP, n_items=1)
    item = order["line_items"][0]
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="T", line_items=[(item["id"], item["quantity"] + 1)])
    assert info.value.kind == protocol.UnprocessableKind.INVALID_LINE_ITEMS
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="T", line_items=[(123, 1)])
    assert info.value.kind == protocol.UnprocessableKind.INVALID_LINE_ITEMS


def test_invalid_carrier_when_strict(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    sim.create_shop("strict", access_token="tok-strict", strict_carriers=True)
    order = sim.make_order("strict", n_items=1)
    client = make_client(shop="strict", access_token="tok-strict", base_url=sim.shop_url("strict"))
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="X1", tracking_company="Teleport Ltd", line_items=None)
    assert info.value.is_invalid_carrier
    made = client.create_fulfillment(order["id"], tracking_number="X1", tracking_company="yunexpress", line_items=None)
    assert made.tracking_company == "yunexpress"


def test_cancelled_order_cannot_be_fulfilled(sim: ShopBaseSimulator, client: ShopBaseClient) -> None:
    order = sim.make_order(SHOP)
    sim.cancel_order(SHOP, order["id"])
    with pytest.raises(ShopBaseUnprocessable) as info:
        client.create_fulfillment(order["id"], tracking_number="T", line_items=None)
    assert info.value.kind == protocol.UnprocessableKind.ORDER_CANCELLED


def test_deleted_order_is_not_found(sim: ShopBaseSimulator, client: ShopBaseClient) -> None:
    order = sim.make_order(SHOP)
    sim.delete_order(SHOP, order["id"])
    with pytest.raises(ShopBaseNotFound) as info:
        client.list_fulfillments(order["id"])
    assert info.value.status == 404
    with pytest.raises(ShopBaseNotFound):
        client.create_fulfillment(order["id"], tracking_number="T", line_items=None)


# --- rate limit ----------------------------------------------------------------------------------


def test_429_waits_default_one_second_then_retries(
    sim: ShopBaseSimulator, client: ShopBaseClient, sleeps: SleepRecorder
) -> None:
    order = sim.make_order(SHOP)
    sim.fail_next(2, status=429, method="GET")  # no Retry-After header
    assert client.list_fulfillments(order["id"]) == []
    assert client.calls[LIST_KEY] == 3
    assert sleeps.calls[0] == protocol.DEFAULT_RETRY_AFTER
    assert sim.stats()["rate_limited"] == 2


def test_429_honours_retry_after_even_for_post(
    sim: ShopBaseSimulator, client: ShopBaseClient, sleeps: SleepRecorder
) -> None:
    order = sim.make_order(SHOP, n_items=1)
    sim.fail_next(1, status=429, retry_after=0.25, method="POST")
    client.create_fulfillment(order["id"], tracking_number="T", line_items=None)
    assert client.calls[CREATE_KEY] == 2  # a 429 was not applied: safe to resend
    assert sleeps.calls[0] == 0.25
    assert len(client.list_fulfillments(order["id"])) == 1


def test_429_after_retries_is_typed(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP)
    client = make_client(max_retries=2)
    sim.fail_next(10, status=429)
    with pytest.raises(ShopBaseRateLimited) as info:
        client.list_fulfillments(order["id"])
    assert info.value.retryable and info.value.status == 429
    assert client.calls[LIST_KEY] == 3


def test_real_bucket_429_then_recovers(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    # A client that does not know the shop's small bucket: it meets 429s and recovers with real sleeps.
    sim.create_shop("tiny", access_token="tok-tiny", burst=3, leak_rate=40.0)
    order = sim.make_order("tiny")
    client = make_client(
        shop="tiny", access_token="tok-tiny", base_url=sim.shop_url("tiny"), sleep=time.sleep,
        throttle=LeakyBucketThrottle(1000, 1000.0, headroom=0), max_retries=8,
    )  # fmt: skip
    for _ in range(12):
        assert client.list_fulfillments(order["id"]) == []
    shop_stats = sim.stats()["shops"]["tiny"]
    assert shop_stats["rate_limited"] >= 1
    assert client.calls[LIST_KEY] == 12 + shop_stats["rate_limited"]


def test_throttle_keeps_burst_of_60_under_the_bucket(sim: ShopBaseSimulator) -> None:
    # A fast bucket (20 burst, 15/s) keeps this at ~3 s; the arithmetic is the real one's.
    sim.create_shop("busy", access_token="tok-busy", burst=20, leak_rate=15.0)
    order = sim.make_order("busy")
    base_url = sim.shop_url("busy")
    throttle_for(base_url, capacity=20, leak_rate=15.0)
    clients = [ShopBaseClient("busy", access_token="tok-busy", base_url=base_url, max_retries=0) for _ in range(2)]
    assert clients[0].throttle is clients[1].throttle  # one bucket per shop per process
    errors: list[BaseException] = []

    def worker(c: ShopBaseClient) -> None:
        try:
            for _ in range(15):
                c.list_fulfillments(order["id"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(clients[i % 2],)) for i in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert errors == []
    stats = sim.stats()["shops"]["busy"]
    assert stats["calls_total"] == 60 and stats["rate_limited"] == 0
    assert elapsed >= (60 - 20) / 15 - 0.5  # it really waited for the leak


def test_call_limit_header_resyncs_throttle(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP)
    # Another process used most of the bucket: our throttle learns it from the header.
    for _ in range(25):
        sim.shops[SHOP].bucket.take()
    client = make_client()
    client.list_fulfillments(order["id"])
    assert client.throttle.level() >= 25


# --- 5xx, timeouts, connection errors ------------------------------------------------------------


def test_get_retries_on_5xx(sim: ShopBaseSimulator, client: ShopBaseClient, sleeps: SleepRecorder) -> None:
    order = sim.make_order(SHOP)
    sim.fail_next(2, status=503, method="GET")
    assert client.list_fulfillments(order["id"]) == []
    assert client.calls[LIST_KEY] == 3
    assert len(sleeps.calls) == 2 and 0.25 <= sleeps.calls[0] <= 0.5 and 0.5 <= sleeps.calls[1] <= 1.0


def test_get_5xx_exhausted_is_typed(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP)
    client = make_client(max_retries=1)
    sim.fail_next(5, status=500, method="GET")
    with pytest.raises(ShopBaseServerError) as info:
        client.list_fulfillments(order["id"])
    assert info.value.retryable and not info.value.outcome_unknown and info.value.status == 500
    assert client.calls[LIST_KEY] == 2


def test_post_fulfillment_not_retried_on_5xx(sim: ShopBaseSimulator, client: ShopBaseClient) -> None:
    order = sim.make_order(SHOP, n_items=1)
    sim.fail_next(1, status=502, method="POST", apply=True)  # applied, answer lost
    with pytest.raises(ShopBaseServerError) as info:
        client.create_fulfillment(order["id"], tracking_number="LOST1", line_items=None)
    assert info.value.outcome_unknown and info.value.retryable
    assert client.calls[CREATE_KEY] == 1
    # The documented recovery: re-read before retrying.
    assert [f.tracking_number for f in client.list_fulfillments(order["id"])] == ["LOST1"]


def test_post_fulfillment_not_retried_on_timeout(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP, n_items=1)
    client = make_client(timeout=(1.0, 0.3))
    sim.fail_next(1, stall=True, stall_seconds=3.0, method="POST", route="fulfillments")
    with pytest.raises(ShopBaseTimeout) as info:
        client.create_fulfillment(order["id"], tracking_number="SLOW1", line_items=None)
    assert info.value.outcome_unknown
    assert client.calls[CREATE_KEY] == 1
    assert [f.tracking_number for f in client.list_fulfillments(order["id"])] == ["SLOW1"]


def test_get_retried_on_timeout(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP)
    client = make_client(timeout=(1.0, 0.3))
    sim.fail_next(1, stall=True, stall_seconds=3.0, method="GET")
    assert client.list_fulfillments(order["id"]) == []
    assert client.calls[LIST_KEY] == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_retried_even_for_post(sleeps: SleepRecorder) -> None:
    # Never connected, so never applied: a POST may be resent.
    client = ShopBaseClient(
        "acme", access_token=TOKEN, base_url=f"http://127.0.0.1:{_closed_port()}/shops/acme",
        sleep=sleeps, max_retries=2, throttle=LeakyBucketThrottle(),
    )  # fmt: skip
    with pytest.raises(ShopBaseConnectionError) as info:
        client.create_fulfillment(1, tracking_number="T", line_items=None)
    assert not info.value.outcome_unknown
    assert client.calls[CREATE_KEY] == 3


def test_random_faults_are_absorbed_by_get_retries(sim: ShopBaseSimulator, make_client: MakeClient) -> None:
    order = sim.make_order(SHOP)
    client = make_client(max_retries=8)
    sim.set_rate_limit(SHOP, burst=1000)  # the recorded sleep never waits for the real bucket
    sim.set_faults(error_rate=0.3, rate_limit_rate=0.1, seed=7, methods=["GET"])
    for _ in range(20):
        client.list_fulfillments(order["id"])
    faults = sim.stats()["shops"][SHOP]["faults"]
    assert faults.get("error", 0) > 0
    assert client.calls[LIST_KEY] == 20 + sum(faults.values())


def test_logs_carry_no_secrets_or_customer_data(
    sim: ShopBaseSimulator, client: ShopBaseClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    order = sim.make_order(SHOP, n_items=1)
    sim.fail_next(1, status=500, method="GET")
    assert client.list_fulfillments(order["id"]) == []
    made = client.create_fulfillment(order["id"], tracking_number="T1", line_items=None)
    parsed = ShopBaseOrder.model_validate(order)
    assert parsed.email and parsed.shipping_address is not None and parsed.shipping_address.address1
    text = caplog.text + repr(made) + repr(parsed) + str(parsed) + repr(client)
    for secret in (TOKEN, parsed.email, parsed.shipping_address.address1, order["customer"]["last_name"]):
        assert secret not in text


def test_shared_session_pools_connections(sim: ShopBaseSimulator) -> None:
    from shared.shopbase.client import shared_session

    a = ShopBaseClient(SHOP, access_token=TOKEN, base_url=sim.shop_url(SHOP))
    b = ShopBaseClient(SHOP, access_token=TOKEN, base_url=sim.shop_url(SHOP))
    assert a._session is b._session is shared_session()
    assert isinstance(a._session.get_adapter("https://x.onshopbase.com"), requests.adapters.HTTPAdapter)


class _CannedAdapter(requests.adapters.BaseAdapter):
    """Answers every request with one canned body (for shapes the simulator never sends)."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = requests.Response()
        response.status_code = 200
        response._content = self.body
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "body",
    [
        b'{"fulfillments": [{"id": 1, "tracking_number": "jane@example.com", "line_items": [{"sku": "no-id"}]}]}',
        b'{"fulfillments": [{"tracking_number": "jane@example.com"}]}',  # no id
        b'{"orders": []}',
        b"<html>maintenance</html>",
    ],
)
def test_unusable_answers_are_typed_without_customer_data(body: bytes) -> None:
    session = requests.Session()
    session.mount("https://", _CannedAdapter(body))
    client = ShopBaseClient("acme", access_token=TOKEN, session=session, throttle=LeakyBucketThrottle())
    with pytest.raises(ShopBaseResponseError) as info:
        client.list_fulfillments(1)
    assert "jane@example.com" not in str(info.value) + repr(info.value.errors)
    assert info.value.__cause__ is None or "jane" not in str(info.value.__cause__)
