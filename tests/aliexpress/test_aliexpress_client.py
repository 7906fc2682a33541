"""The AliExpress client over real HTTP against the simulator: calls, shapes, errors, retries, tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shared.aliexpress import (
    AliExpressClient,
    AliExpressError,
    ApiCallLimitError,
    BusinessError,
    IllegalAccessTokenError,
    IllegalRefreshTokenError,
    InsufficientPermissionError,
    InvalidAuthorizationError,
    InvalidCodeError,
    RepeatedOrderError,
    ServiceUnavailableError,
    SignatureError,
    TransportError,
)
from simulators.aliexpress import AliExpressSimulator
from tests.aliexpress.aliexpress_data import (
    ADDRESS,
    APP_KEY,
    BOTTLE,
    BOTTLE_BLACK,
    BOTTLE_SILVER,
    SKIRT,
    SKIRT_SKU,
    SleepRecorder,
)

ORDER_GET = "aliexpress.trade.ds.order.get"
ORDER_CREATE = "aliexpress.ds.order.create"
TRACKING_GET = "aliexpress.ds.order.tracking.get"

Place = Callable[..., list[str]]
MakeClient = Callable[..., AliExpressClient]

# ---------------------------------------------------------------- placing orders


def test_create_order_returns_exact_big_ids(sim: AliExpressSimulator, place: Place) -> None:
    ids = place()
    [order] = sim.orders()
    assert ids == [order["order_id"]]
    assert int(ids[0]) > 2**53
    assert float(int(ids[0])) != int(ids[0])  # would be corrupted by any float round-trip


def test_one_order_per_supplier_store(sim: AliExpressSimulator, place: Place) -> None:
    ids = place(
        [
            {"product_id": BOTTLE, "product_count": 2, "sku_attr": "14:193#Silver"},
            {"product_id": SKIRT, "product_count": 1, "sku_attr": ""},
            {"product_id": BOTTLE, "product_count": 1, "sku_attr": "14:175"},
        ]
    )
    assert len(ids) == 2
    by_store = {o["store_id"]: o for o in sim.orders()}
    assert sorted(by_store) == ["1102000777", "1103800006"]
    assert [(ln["sku_id"], ln["quantity"]) for ln in by_store["1103800006"]["lines"]] == [
        (BOTTLE_SILVER, 2),
        (BOTTLE_BLACK, 1),
    ]


def test_get_order_fills_in_the_order_id(client: AliExpressClient, token: str, place: Place) -> None:
    [oid] = place()
    order = client.get_order(token, oid)
    assert order.order_id == oid
    assert order.order_status == "PLACE_ORDER_SUCCESS"
    [child] = order.child_order_list
    assert (child.product_id, child.sku_id, child.product_count) == (BOTTLE, BOTTLE_BLACK, 1)
    assert order.store_info is not None and order.store_info.store_name == "Kedi Bottles Store"


@pytest.mark.parametrize(
    ("address_patch", "message"),
    [
        ({"city": ""}, "Please enter a city"),
        ({"address": " "}, "Please enter a street address"),
        ({"full_name": None}, "Please enter a contact name"),
        ({"province": ""}, "Please enter a state/province/region"),
        ({"country": ""}, "Please select a country/region"),
    ],
)
def test_address_validation_is_a_business_error(
    sim: AliExpressSimulator, place: Place, address_patch: dict[str, Any], message: str
) -> None:
    with pytest.raises(BusinessError) as caught:
        place(address={**ADDRESS, **address_patch})
    err = caught.value
    assert (err.error_code, err.error_msg) == ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", message)
    assert err.request_id and err.result["is_success"] is False
    assert sim.orders() == []


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"product_id": "1", "product_count": 1, "sku_attr": ""}, "ERROR_WHEN_BUILD_FOR_PLACE_ORDER"),
        ({"product_id": BOTTLE, "product_count": 1, "sku_attr": "14:999"}, "ERROR_WHEN_BUILD_FOR_PLACE_ORDER"),
        ({"product_id": BOTTLE, "product_count": 1, "sku_attr": ""}, "ERROR_WHEN_BUILD_FOR_PLACE_ORDER"),
        ({"product_id": BOTTLE, "product_count": 4, "sku_attr": "14:175"}, "INVENTORY_HOLD_ERROR"),
        (
            {"product_id": SKIRT, "product_count": 1, "sku_attr": "", "logistics_service_name": "TELEPORT"},
            "DELIVERY_METHOD_NOT_EXIST",
        ),
    ],
)
def test_item_validation_is_a_business_error(
    sim: AliExpressSimulator, place: Place, item: dict[str, Any], code: str
) -> None:
    with pytest.raises(BusinessError) as caught:
        place([item])
    assert caught.value.error_code == code
    assert sim.orders() == []


def test_stock_is_held_by_orders(place: Place) -> None:
    place([{"product_id": BOTTLE, "product_count": 3, "sku_attr": "14:175"}])  # all 3 black bottles
    with pytest.raises(BusinessError, match="INVENTORY_HOLD_ERROR"):
        place([{"product_id": BOTTLE, "product_count": 1, "sku_attr": "14:175"}])


def test_create_order_requires_out_order_id(client: AliExpressClient, token: str) -> None:
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="out_order_id"):
            client.create_order(token, out_order_id=empty, logistics_address=ADDRESS, product_items=[{}])
    assert sum(client.calls.values()) == 0


def test_same_out_order_id_gives_the_same_ids(sim: AliExpressSimulator, place: Place) -> None:
    first = place(out_order_id="sb-1001")
    again = place(out_order_id="sb-1001")
    assert first == again
    assert len(sim.orders()) == 1


def test_repeated_order_error_is_typed(sim: AliExpressSimulator, place: Place) -> None:
    sim.configure(repeat_mode="repeated_error")
    place(out_order_id="sb-1002")
    with pytest.raises(RepeatedOrderError) as caught:
        place(out_order_id="sb-1002")
    assert caught.value.error_code == "REPEATED_ORDER_ERROR"
    assert len(sim.orders()) == 1


# ---------------------------------------------------------------- retries


def test_retries_5xx_through_the_before_call_hook(
    sim: AliExpressSimulator, make_client: MakeClient, sleeps: SleepRecorder, token: str, place: Place
) -> None:
    [oid] = place()
    hooked: list[str] = []
    client = make_client(before_call=hooked.append)
    sim.inject_fault(2, method=ORDER_GET, http_status=502)
    assert client.get_order(token, oid).order_id == oid
    assert hooked == [ORDER_GET] * 3
    assert client.calls[ORDER_GET] == 3
    assert len(sleeps.calls) == 2
    assert sim.stats()["calls"][ORDER_GET] == 3


def test_retries_service_unavailable(
    sim: AliExpressSimulator, client: AliExpressClient, sleeps: SleepRecorder, token: str, place: Place
) -> None:
    [oid] = place()
    sim.inject_fault(1, method=TRACKING_GET, error_code="isp.service-unavailable")
    assert client.get_tracking(token, oid) == []
    assert client.calls[TRACKING_GET] == 2 and len(sleeps.calls) == 1


def test_api_call_limit_waits_at_least_a_second(
    sim: AliExpressSimulator, client: AliExpressClient, sleeps: SleepRecorder, token: str, place: Place
) -> None:
    [oid] = place()
    sim.inject_fault(2, method=ORDER_GET, error_code="ApiCallLimit")
    client.get_order(token, oid)
    assert len(sleeps.calls) == 2 and all(s >= 1.0 for s in sleeps.calls)


def test_gives_up_after_max_retries(
    sim: AliExpressSimulator, make_client: MakeClient, sleeps: SleepRecorder, token: str, place: Place
) -> None:
    [oid] = place()
    client = make_client(max_retries=2)
    sim.inject_fault(10, method=ORDER_GET, http_status=503)
    with pytest.raises(ServiceUnavailableError) as caught:
        client.get_order(token, oid)
    assert caught.value.http_status == 503 and caught.value.code == "HTTP_503"
    assert client.calls[ORDER_GET] == 3 and len(sleeps.calls) == 2


def test_backoff_grows_with_full_jitter(
    sim: AliExpressSimulator, make_client: MakeClient, sleeps: SleepRecorder, token: str, place: Place
) -> None:
    [oid] = place()
    client = make_client(max_retries=4, backoff_base=1.0, backoff_max=100.0)
    sim.inject_fault(4, method=ORDER_GET, http_status=500)
    client.get_order(token, oid)
    assert [s <= 2**n for n, s in enumerate(sleeps.calls)] == [True] * 4


def test_client_errors_are_not_retried(
    sim: AliExpressSimulator, make_client: MakeClient, sleeps: SleepRecorder, token: str
) -> None:
    client = make_client(app_secret="wrong-secret")
    with pytest.raises(SignatureError):
        client.get_order(token, "9007199254740993")
    assert client.calls[ORDER_GET] == 1 and sleeps.calls == []


def test_create_order_retry_after_lost_response_creates_one_order(
    sim: AliExpressSimulator, client: AliExpressClient, sleeps: SleepRecorder, place: Place
) -> None:
    # The order is created, then the response is lost (502): the retry must get the same ids back.
    sim.inject_fault(1, method=ORDER_CREATE, http_status=502, when="after")
    ids = place(out_order_id="sb-2001")
    assert client.calls[ORDER_CREATE] == 2
    assert [o["order_id"] for o in sim.orders()] == ids


def test_create_order_retry_after_timeout_creates_one_order(
    sim: AliExpressSimulator, make_client: MakeClient, token: str
) -> None:
    client = make_client(timeout=(2.0, 0.25))
    sim.inject_fault(1, method=ORDER_CREATE, stall=0.5)  # stalls past the read timeout, then processes
    ids = client.create_order(
        token,
        out_order_id="sb-2002",
        logistics_address=ADDRESS,
        product_items=[{"product_id": SKIRT, "product_count": 1, "sku_attr": ""}],
    )
    time.sleep(0.4)  # let the stalled request finish on the server
    assert client.calls[ORDER_CREATE] == 2
    assert [o["order_id"] for o in sim.orders()] == ids


def test_order_create_without_out_order_id_is_not_blindly_retried(
    sim: AliExpressSimulator, client: AliExpressClient, sleeps: SleepRecorder, token: str
) -> None:
    param = {"logistics_address": ADDRESS, "product_items": [{"product_id": SKIRT, "product_count": 1}]}
    sim.inject_fault(1, method=ORDER_CREATE, http_status=502, when="after")
    with pytest.raises(ServiceUnavailableError):
        client.call(ORDER_CREATE, {"param_place_order_request4_open_api_d_t_o": param}, token)
    assert client.calls[ORDER_CREATE] == 1 and sleeps.calls == []
    assert len(sim.orders()) == 1  # the unprotected order exists once; a retry would have made two


def test_unprotected_order_create_still_retries_call_limit(
    sim: AliExpressSimulator, client: AliExpressClient, token: str
) -> None:
    # ApiCallLimit rejects at the gateway, before the order service sees the request.
    param = {"logistics_address": ADDRESS, "product_items": [{"product_id": SKIRT, "product_count": 1}]}
    sim.inject_fault(1, method=ORDER_CREATE, error_code="ApiCallLimit")
    client.call(ORDER_CREATE, {"param_place_order_request4_open_api_d_t_o": param}, token)
    assert client.calls[ORDER_CREATE] == 2 and len(sim.orders()) == 1


def test_read_timeout_becomes_transport_error(
    sim: AliExpressSimulator, make_client: MakeClient, sleeps: SleepRecorder, token: str, place: Place
) -> None:
    [oid] = place()
    client = make_client(timeout=(2.0, 0.1), max_retries=1)
    sim.inject_fault(2, method=ORDER_GET, stall=0.3)
    with pytest.raises(TransportError) as caught:
        client.get_order(token, oid)
    assert caught.value.request_sent is True and client.calls[ORDER_GET] == 2


def test_connection_refused_is_a_transport_error_not_sent(sleeps: SleepRecorder) -> None:
    with AliExpressSimulator() as dead:
        url = dead.url
    client = AliExpressClient(url, "k", "s", session=requests.Session(), sleep=sleeps, max_retries=1)
    with pytest.raises(TransportError) as caught:
        client.get_order("t", "1")
    assert caught.value.request_sent is False and client.calls[ORDER_GET] == 2


# ---------------------------------------------------------------- gateway errors


@pytest.mark.parametrize("envelope", ["wrapped", "flat"])
def test_both_envelopes_map_to_typed_errors(
    sim: AliExpressSimulator, client: AliExpressClient, envelope: str
) -> None:
    sim.configure(error_envelope=envelope)
    with pytest.raises(IllegalAccessTokenError) as caught:
        client.get_order("not-a-token", "9007199254740993")
    err = caught.value
    assert err.code == "IllegalAccessToken"
    assert err.message == "The specified access token is invalid or expired"
    assert err.request_id and len(err.request_id) >= 20
    assert err.error_type == "ISV"


@pytest.mark.parametrize("envelope", ["wrapped", "flat"])
def test_sub_code_errors_in_both_envelopes(
    sim: AliExpressSimulator, client: AliExpressClient, token: str, envelope: str
) -> None:
    sim.inject_fault(1, error_code="isv.insufficient-permission", message="Insufficient permission.", envelope=envelope)
    with pytest.raises(InsufficientPermissionError) as caught:
        client.get_order(token, "9007199254740993")
    assert caught.value.message == "Insufficient permission." and caught.value.request_id


def test_signature_rejected(make_client: MakeClient, token: str) -> None:
    with pytest.raises(SignatureError) as caught:
        make_client(app_secret="not-the-secret").get_order(token, "1")
    assert caught.value.code == "IncompleteSignature"


def test_timestamp_window(make_client: MakeClient, token: str, place: Place) -> None:
    [oid] = place()
    assert make_client(clock=lambda: time.time() - 7000).get_order(token, oid).order_id == oid
    with pytest.raises(AliExpressError) as caught:
        make_client(clock=lambda: time.time() - 7300).get_order(token, oid)
    assert caught.value.code == "InvalidTimestamp"
    with pytest.raises(AliExpressError):
        make_client(clock=lambda: time.time() + 7300).get_order(token, oid)


def test_unknown_app_key(sim: AliExpressSimulator, sleeps: SleepRecorder) -> None:
    client = AliExpressClient(sim.url, "other-app", "x", session=requests.Session(), sleep=sleeps)
    with pytest.raises(AliExpressError) as caught:
        client.get_order("t", "1")
    assert caught.value.code == "InvalidAppKey"


def test_order_of_another_account(
    sim: AliExpressSimulator, client: AliExpressClient, place: Place
) -> None:
    [oid] = place()
    stranger = sim.issue_token(account={"user_id": "999"})["access_token"]
    with pytest.raises(InvalidAuthorizationError):
        client.get_order(stranger, oid)


def test_revoked_and_expired_tokens_are_loud(sim: AliExpressSimulator, client: AliExpressClient) -> None:
    revoked = sim.issue_token()["access_token"]
    expired = sim.issue_token(expires_in=60)["access_token"]
    sim.revoke_token(revoked)
    sim.advance(61)
    for dead in (revoked, expired):
        with pytest.raises(IllegalAccessTokenError):
            client.get_tracking(dead, "1")


# ---------------------------------------------------------------- reads: product, tracking


def test_get_product(client: AliExpressClient, token: str) -> None:
    product = client.get_product(token, BOTTLE, "US")
    assert (product.product_id, product.status) == (BOTTLE, "onSelling")
    assert product.subject == "500ML Insulated Water Bottle"
    assert product.store_id == "1103800006"
    assert {s.sku_id: (s.sku_attr, s.stock) for s in product.skus} == {
        BOTTLE_SILVER: ("14:193#Silver", 50),
        BOTTLE_BLACK: ("14:175#Black", 3),
    }
    [single] = client.get_product(token, SKIRT, "FR").skus
    assert (single.sku_id, single.sku_attr) == (SKIRT_SKU, "")


def test_unknown_product_is_605(client: AliExpressClient, token: str) -> None:
    with pytest.raises(BusinessError) as caught:
        client.get_product(token, "1005000000000000", "US")
    assert (caught.value.error_code, caught.value.error_msg) == ("605", "ITEM_ID_NOT_FOUND")


def test_product_not_sold_to_country_is_602(sim: AliExpressSimulator, client: AliExpressClient, token: str) -> None:
    sim.seed_product("1005000000000001", ship_to=["US"])
    with pytest.raises(BusinessError) as caught:
        client.get_product(token, "1005000000000001", "BR")
    assert caught.value.error_code == "602"


def test_no_tracking_yet_is_an_empty_list(client: AliExpressClient, token: str, place: Place) -> None:
    [oid] = place()
    assert client.get_tracking(token, oid) == []


# ---------------------------------------------------------------- every response shape end to end


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bare_single": True},
        {"numbers_as_strings": True},
        {"wrapper_prefix": "ae_"},
        {"bare_single": True, "numbers_as_strings": True, "wrapper_prefix": "ae_"},
    ],
    ids=["default", "bare", "strings", "ae_prefix", "all"],
)
@pytest.mark.parametrize("simplify", [False, True], ids=["simplify_off", "simplify_on"])
def test_every_shape_parses_the_same(
    sim: AliExpressSimulator,
    make_client: MakeClient,
    token: str,
    options: dict[str, Any],
    simplify: bool,
) -> None:
    sim.configure(**options)
    client = make_client(simplify=simplify)
    [oid] = client.create_order(
        token,
        out_order_id="sb-shape",
        logistics_address=ADDRESS,
        product_items=[{"product_id": BOTTLE, "product_count": 2, "sku_attr": "14:193"}],
    )
    assert oid == sim.orders()[0]["order_id"]
    sim.ship(oid, mail_no="LP00123456789012")
    order = client.get_order(token, oid)
    assert order.order_status == "WAIT_BUYER_ACCEPT_GOODS"
    assert [(c.product_id, c.sku_id, c.product_count) for c in order.child_order_list] == [(BOTTLE, BOTTLE_SILVER, 2)]
    assert [li.logistics_no for li in order.logistics_info_list] == ["LP00123456789012"]
    [package] = client.get_tracking(token, oid)
    assert package.mail_no == "LP00123456789012"
    assert [(i.item_id, i.sku_id, i.quantity) for i in package.package_item_list] == [(BOTTLE, BOTTLE_SILVER, 2)]
    assert package.detail_node_list and package.detail_node_list[0].time_stamp
    product = client.get_product(token, BOTTLE, "US")
    assert len(product.skus) == 2 and product.product_id == BOTTLE


def test_randomized_shapes_parse(sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place) -> None:
    sim.configure(randomize_shapes=True)
    ids = [place()[0] for _ in range(3)]
    for oid in ids:
        sim.ship(oid)
    for _ in range(3):
        for oid in ids:
            assert client.get_order(token, oid).child_order_list[0].sku_id == BOTTLE_BLACK
            assert client.get_tracking(token, oid)[0].package_item_list[0].quantity == 1


# ---------------------------------------------------------------- OAuth and tokens


def test_authorize_url_targets_the_gateway_host(client: AliExpressClient, sim: AliExpressSimulator) -> None:
    url = urlsplit(client.authorize_url("https://app.example/cb?x=1", "st-1"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{sim.url}/oauth/authorize"
    query = parse_qs(url.query)
    assert query == {
        "response_type": ["code"],
        "force_auth": ["true"],
        "redirect_uri": ["https://app.example/cb?x=1"],
        "client_id": [APP_KEY],
        "state": ["st-1"],
    }


def _authorize(client: AliExpressClient, state: str = "st-1") -> str:
    response = requests.get(client.authorize_url("https://app.example/cb", state), allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example/cb"
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def test_oauth_code_flow_and_refresh(sim: AliExpressSimulator, client: AliExpressClient) -> None:
    sim.set_oauth_account(user_id="2200000000777", account="seller@example.com")
    sim.configure(access_token_ttl=3600, refresh_token_ttl=7200)
    code = _authorize(client)
    before_ms = int(time.time() * 1000)
    token = client.create_token(code)
    assert token.user_id == "2200000000777" and token.account == "seller@example.com"
    assert token.account_platform == "buyerApp"
    assert (token.expires_in, token.refresh_expires_in) == (3600, 7200)  # sent as strings
    assert token.expire_time is not None and before_ms + 3_590_000 <= token.expire_time <= before_ms + 3_610_000
    assert client.calls["/auth/token/create"] == 1

    # The code is single use.
    with pytest.raises(InvalidCodeError):
        client.create_token(code)

    refreshed = client.refresh_token(token.refresh_token)
    assert refreshed.access_token != token.access_token and refreshed.user_id == "2200000000777"
    assert client.get_product(refreshed.access_token, SKIRT, "US").product_id == SKIRT


def test_refresh_token_rotation_and_expiry(sim: AliExpressSimulator, client: AliExpressClient) -> None:
    sim.configure(refresh_token_ttl=100)
    first = client.create_token(_authorize(client))
    second = client.refresh_token(first.refresh_token)
    with pytest.raises(IllegalRefreshTokenError) as caught:
        client.refresh_token(first.refresh_token)  # rotated: single use
    assert caught.value.code == "IllegalRefreshToken" and caught.value.request_id
    sim.advance(101)
    with pytest.raises(IllegalRefreshTokenError):
        client.refresh_token(second.refresh_token)


def test_expired_code_is_invalid(sim: AliExpressSimulator, client: AliExpressClient) -> None:
    code = _authorize(client)
    sim.advance(601)
    with pytest.raises(InvalidCodeError):
        client.create_token(code)


def test_token_endpoint_wrong_client(sim: AliExpressSimulator) -> None:
    response = requests.get(
        f"{sim.url}/oauth/authorize",
        params={"client_id": "nope", "redirect_uri": "https://x/cb", "state": "s"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 400


def test_call_limit_error_type(sim: AliExpressSimulator, make_client: MakeClient, token: str) -> None:
    client = make_client(max_retries=0)
    sim.inject_fault(1, error_code="ApiCallLimit")
    with pytest.raises(ApiCallLimitError) as caught:
        client.get_tracking(token, "1")
    assert "this ban will last 1 seconds" in caught.value.message
