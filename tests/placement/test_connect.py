"""GET /connect/aliexpress and its callback, through the real handler and the simulator's authorize page."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from functions.connect_aliexpress import app as connect
from local.apigw import http_event
from shared import wiring
from shared.logic.accounts import sign_state, verify_state
from simulators.aliexpress import AliExpressSimulator
from tests.placement.conftest import REDIRECT_URI, STATE_KEY, shop_settings


def get(context: Any, path: str, query: str = "", token: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return connect.lambda_handler(http_event("GET", path, query=query, headers=headers), context)


def body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])  # type: ignore[no-any-return]


def test_connect_redirect_then_callback_stores_tokens(tokens: dict[str, str], ae: AliExpressSimulator,
                                                      lambda_context: Any) -> None:
    shop = "demo-store"
    start = get(lambda_context, "/connect/aliexpress", f"shop={shop}", tokens[shop])
    assert start["statusCode"] == 302
    location = start["headers"]["Location"]
    assert location.startswith(f"{ae.url}/oauth/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["redirect_uri"] == [REDIRECT_URI] and query["client_id"] == ["sim-app-key"]
    assert verify_state(query["state"][0], STATE_KEY, time.time()) == shop
    # The seller approves on AliExpress, which redirects back with a code and our state.
    approved = requests.get(location, allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["Location"])
    assert f"https://{back.netloc}{back.path}" == REDIRECT_URI
    done = get(lambda_context, "/connect/aliexpress/callback", back.query)
    assert (done["statusCode"], body(done)) == (200, {"shop": shop, "aliexpress_connected": True})
    assert wiring.aliexpress_tokens().get(shop) is not None
    assert shop_settings(shop).aliexpress_connected is True


def test_start_needs_the_shops_token_and_a_known_shop(tokens: dict[str, str], lambda_context: Any) -> None:
    assert get(lambda_context, "/connect/aliexpress", "shop=demo-store")["statusCode"] == 401
    assert get(lambda_context, "/connect/aliexpress", "shop=demo-store", tokens["other-store"])["statusCode"] == 401
    assert get(lambda_context, "/connect/aliexpress", "shop=no-such-shop", "tok-demo")["statusCode"] == 404
    assert get(lambda_context, "/connect/aliexpress", "", "tok-demo")["statusCode"] == 400


def test_forged_state_is_refused_and_nothing_stored(tokens: dict[str, str], ae: AliExpressSimulator,
                                                    lambda_context: Any) -> None:
    code = ae.issue_code()
    forged = sign_state("demo-store", "not-the-key", time.time())
    response = get(lambda_context, "/connect/aliexpress/callback", f"code={code}&state={forged}")
    assert response["statusCode"] == 400 and "state" in body(response)["error"]
    # Someone else's shop name pasted into a valid state: the signature no longer matches.
    _, expiry, nonce, mac = sign_state("other-store", STATE_KEY, time.time()).split(".")
    tampered = ".".join(["demo-store", expiry, nonce, mac])
    assert get(lambda_context, "/connect/aliexpress/callback", f"code={code}&state={tampered}")["statusCode"] == 400
    assert get(lambda_context, "/connect/aliexpress/callback", f"code={code}&state=garbage")["statusCode"] == 400
    assert wiring.aliexpress_tokens().get("demo-store") is None
    assert ae.stats()["calls"].get("/auth/token/create") is None  # the code was never even exchanged


def test_expired_state_is_refused(tokens: dict[str, str], ae: AliExpressSimulator, lambda_context: Any) -> None:
    stale = sign_state("demo-store", STATE_KEY, time.time() - 11 * 60)  # 10-minute states
    response = get(lambda_context, "/connect/aliexpress/callback", f"code={ae.issue_code()}&state={stale}")
    assert response["statusCode"] == 400 and "expired" in body(response)["error"]
    assert wiring.aliexpress_tokens().get("demo-store") is None


def test_used_or_unknown_code_is_a_clear_400(tokens: dict[str, str], lambda_context: Any) -> None:
    state = sign_state("demo-store", STATE_KEY, time.time())
    response = get(lambda_context, "/connect/aliexpress/callback", f"code=3_nope&state={state}")
    assert response["statusCode"] == 400 and "code" in body(response)["error"]
    denied = get(lambda_context, "/connect/aliexpress/callback", f"state={state}")
    assert denied["statusCode"] == 400 and "not approved" in body(denied)["error"]
    assert wiring.aliexpress_tokens().get("demo-store") is None
    assert shop_settings("demo-store") is None


def test_redirect_uri_defaults_to_this_apis_callback(tokens: dict[str, str], lambda_context: Any,
                                                     monkeypatch: Any) -> None:
    monkeypatch.delenv("ALIEXPRESS_REDIRECT_URI")
    wiring.reset()  # settings are read again without it
    event = http_event("GET", "/prod/connect/aliexpress", query="shop=demo-store", stage="prod",
                       headers={"authorization": "Bearer tok-demo", "host": "abc.execute-api.example.com"})
    response = connect.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 302, response
    query = parse_qs(urlsplit(response["headers"]["Location"]).query)
    assert query["redirect_uri"] == ["https://abc.execute-api.example.com/prod/connect/aliexpress/callback"]
