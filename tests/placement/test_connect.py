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
    assert get(lambda_context, "/connect/aliexpress", "", "tok-demo")["statusCode"] == 400


def test_an_unknown_shop_gets_the_answer_of_a_known_shop_without_its_token(tokens: dict[str, str],
                                                                          lambda_context: Any) -> None:
    # Issue 10, item 12: 404 vs 401 told which shops exist.
    known = get(lambda_context, "/connect/aliexpress", "shop=demo-store", "tok-wrong")
    for shop, token in (("no-such-shop", "tok-demo"), ("no-such-shop", None), ("not a shop!", "tok-demo")):
        unknown = get(lambda_context, "/connect/aliexpress", f"shop={shop}", token)
        assert (unknown["statusCode"], body(unknown)) == (known["statusCode"], body(known)) == (
            401, body(known))
    assert known["statusCode"] == 401


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


# ---------------------------------------------------------------- issue 10, items 10 and 11: the state


def approve(location: str) -> str:
    """The seller approves on the simulator's authorize page; the callback's query string."""
    approved = requests.get(location, allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    return urlsplit(approved.headers["Location"]).query


def test_a_used_state_is_refused_and_the_shop_stays_bound(tokens: dict[str, str], ae: AliExpressSimulator,
                                                          lambda_context: Any) -> None:
    import io

    from shared.observability import logger

    start = get(lambda_context, "/connect/aliexpress", "shop=demo-store", tokens["demo-store"])
    callback = approve(start["headers"]["Location"])
    assert get(lambda_context, "/connect/aliexpress/callback", callback)["statusCode"] == 200
    bound = wiring.aliexpress_tokens().get("demo-store")
    assert bound is not None and bound.user_id == "2200000000001"
    # Someone holding the completed callback's state (history, logs, referrer) brings their own code.
    state = parse_qs(callback)["state"][0]
    attacker_code = ae.issue_code({"user_id": "2200000000666", "account": "attacker@example.com"})
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[union-attr]
    try:
        replay = get(lambda_context, "/connect/aliexpress/callback", f"code={attacker_code}&state={state}")
    finally:
        logger.registered_handler.setStream(previous)  # type: ignore[union-attr]
    assert replay["statusCode"] == 400 and "already used" in body(replay)["error"]
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(e["message"] == "aliexpress connect state replayed" and e.get("shop") == "demo-store" for e in logged)
    after = wiring.aliexpress_tokens().get("demo-store")
    assert after is not None and after.user_id == "2200000000001"  # still the seller's own account
    assert ae.stats()["calls"]["/auth/token/create"] == 1  # the attacker's code was never exchanged


def test_a_state_is_recorded_once_with_a_ttl(tokens: dict[str, str], ae: AliExpressSimulator,
                                             lambda_context: Any) -> None:
    state = sign_state("demo-store", STATE_KEY, time.time())
    assert get(lambda_context, "/connect/aliexpress/callback", f"code={ae.issue_code()}&state={state}")["statusCode"] \
        == 200
    table = wiring.table()
    items = [i for i in table.scan()["Items"] if str(i["sk"]).startswith("OAUTHSTATE#")]
    assert len(items) == 1 and items[0]["pk"] == "SHOP#demo-store"
    expiry = int(state.split(".")[1])
    assert int(items[0]["expires_at"]) >= expiry  # DynamoDB's TTL removes it after the state has expired


def test_two_callbacks_racing_with_one_state_bind_once(tokens: dict[str, str], ae: AliExpressSimulator,
                                                       lambda_context: Any) -> None:
    import threading

    state = sign_state("demo-store", STATE_KEY, time.time())
    codes = [ae.issue_code({"user_id": f"22000000000{n}"}) for n in range(4)]
    answers: list[int] = []
    gate = threading.Barrier(len(codes))

    def callback(code: str) -> None:
        gate.wait()
        answers.append(get(lambda_context, "/connect/aliexpress/callback", f"code={code}&state={state}")["statusCode"])

    threads = [threading.Thread(target=callback, args=(c,)) for c in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 400, 400, 400]
    assert ae.stats()["calls"]["/auth/token/create"] == 1


def test_a_declined_authorization_does_not_use_the_state(tokens: dict[str, str], ae: AliExpressSimulator,
                                                         lambda_context: Any) -> None:
    state = sign_state("demo-store", STATE_KEY, time.time())
    assert get(lambda_context, "/connect/aliexpress/callback", f"state={state}")["statusCode"] == 400  # no code
    # The seller goes back and approves: the same state still works, once.
    assert get(lambda_context, "/connect/aliexpress/callback", f"code={ae.issue_code()}&state={state}")["statusCode"] \
        == 200


def test_a_state_with_non_ascii_or_odd_characters_is_a_400(tokens: dict[str, str], ae: AliExpressSimulator,
                                                            lambda_context: Any) -> None:
    from urllib.parse import quote

    valid = sign_state("demo-store", STATE_KEY, time.time())
    shop, expiry, nonce, mac = valid.split(".")
    odd = [
        f"{shop}.{expiry}.{nonce}.{mac[:-1]}é",  # a non-ASCII signature: compare_digest used to raise (500)
        f"{shop}.{expiry}.{nonce}.ü" + "x" * 63,
        f"{shop}.{expiry}.{nonce}.{'💥' * 64}",
        f"{shop}.²³.{nonce}.{mac}",  # digits to str.isdigit, not to int()
        f"{shop}.{''.join(chr(0x0660 + int(d)) for d in expiry)}.{nonce}.{mac}",  # Arabic-Indic digits
        f"démo.{expiry}.{nonce}.{mac}",
        f"{shop}.{expiry}.{nonce}.{mac}\x00",
        "." * 3,
        "x" * 5000,
    ]
    for state in odd:
        response = get(lambda_context, "/connect/aliexpress/callback", f"code={ae.issue_code()}&state={quote(state)}")
        assert response["statusCode"] == 400, (state, response)
        assert "state" in body(response)["error"]
    assert wiring.aliexpress_tokens().get("demo-store") is None
