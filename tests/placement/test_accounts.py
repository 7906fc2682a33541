"""AliExpressAccounts: code exchange, cached tokens, proactive refresh, refresh-and-retry, loud disconnects."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from shared import wiring
from shared.aliexpress.client import AliExpressClient
from shared.aliexpress.errors import ServiceUnavailableError
from shared.logic.accounts import REFRESH_MARGIN_SECONDS, AliExpressAccounts, AliExpressDisconnected
from shared.observability import metrics
from simulators.aliexpress import AliExpressSimulator
from tests.placement.conftest import BOTTLE, FakeClock, make_accounts, shop_settings, stored_access_token


def product_title(accounts: AliExpressAccounts, shop: str) -> str:
    return accounts.call(shop, lambda client, token: client.get_product(token, BOTTLE, "US")).subject


def refreshes(ae: AliExpressSimulator) -> int:
    return int(ae.stats()["calls"].get("/auth/token/refresh", 0))


def test_connect_stores_tokens_per_shop_and_marks_connected(connected: str, ae: AliExpressSimulator) -> None:
    name = f"{wiring.settings().aliexpress_token_prefix}{connected}"
    raw = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    assert raw["access_token"].startswith("50000") and raw["refresh_token"].startswith("50001")
    assert raw["expire_time"] > raw["updated_at"]
    settings = shop_settings(connected)
    assert settings.aliexpress_connected is True and settings.aliexpress_problem is None


def test_calls_use_the_cached_token_until_near_expiry_then_refresh_once(
        connected: str, accounts: AliExpressAccounts, ae: AliExpressSimulator, clock: FakeClock) -> None:
    first = stored_access_token(connected)
    assert product_title(accounts, connected) == "Insulated bottle"
    assert product_title(accounts, connected) == "Insulated bottle"
    assert refreshes(ae) == 0
    # 24 h tokens: inside the refresh margin the pair is renewed before AliExpress refuses it.
    clock.advance(24 * 3600 - REFRESH_MARGIN_SECONDS + 60)
    ae.advance(24 * 3600 - REFRESH_MARGIN_SECONDS + 60)
    assert product_title(accounts, connected) == "Insulated bottle"
    assert refreshes(ae) == 1
    assert stored_access_token(connected) != first
    assert product_title(accounts, connected) == "Insulated bottle"
    assert refreshes(ae) == 1


def test_illegal_access_token_refreshes_once_and_retries(connected: str, accounts: AliExpressAccounts,
                                                         ae: AliExpressSimulator) -> None:
    product_title(accounts, connected)
    ae.expire_token(stored_access_token(connected))  # AliExpress says expired before our clock does
    assert product_title(accounts, connected) == "Insulated bottle"
    assert refreshes(ae) == 1
    assert ae.stats()["errors"].get("IllegalAccessToken") == 1
    assert shop_settings(connected).aliexpress_connected is True


def test_revoked_authorization_disconnects_loudly(connected: str, accounts: AliExpressAccounts,
                                                  ae: AliExpressSimulator) -> None:
    product_title(accounts, connected)
    ae.revoke_token(stored_access_token(connected))  # revokes the refresh token with it
    metrics.clear_metrics()
    with pytest.raises(AliExpressDisconnected) as raised:
        product_title(accounts, connected)
    assert raised.value.shop == connected
    assert refreshes(ae) == 1  # one refresh, then give up
    settings = shop_settings(connected)
    assert settings.aliexpress_connected is False
    assert "IllegalRefreshToken" in settings.aliexpress_problem
    assert "AliExpressDisconnected" in metrics.metric_set


def test_expired_refresh_token_disconnects_without_calling(connected: str, accounts: AliExpressAccounts,
                                                           ae: AliExpressSimulator, clock: FakeClock) -> None:
    clock.advance(3 * 24 * 3600)  # past both lifetimes (24 h / 48 h)
    with pytest.raises(AliExpressDisconnected):
        product_title(accounts, connected)
    assert refreshes(ae) == 0
    assert shop_settings(connected).aliexpress_problem == "AliExpress authorization expired"


def test_never_connected_shop_is_disconnected(shop: str, accounts: AliExpressAccounts) -> None:
    metrics.clear_metrics()
    with pytest.raises(AliExpressDisconnected):
        product_title(accounts, shop)
    assert shop_settings(shop).aliexpress_connected is False
    assert "AliExpressDisconnected" in metrics.metric_set


def test_a_pair_refreshed_by_another_container_is_picked_up(connected: str, accounts: AliExpressAccounts,
                                                            ae: AliExpressSimulator, clock: FakeClock) -> None:
    other = make_accounts(ae, clock)  # a second Lambda container
    product_title(accounts, connected)
    product_title(other, connected)
    ae.expire_token(stored_access_token(connected))
    assert product_title(accounts, connected)  # refreshes; the old refresh token is now used up (rotation)
    assert product_title(other, connected)  # IllegalAccessToken → finds the new pair, no second refresh
    assert refreshes(ae) == 1
    assert shop_settings(connected).aliexpress_connected is True


def test_proactive_refresh_failing_transiently_keeps_the_valid_token(
        connected: str, accounts: AliExpressAccounts, ae: AliExpressSimulator, clock: FakeClock) -> None:
    clock.advance(24 * 3600 - REFRESH_MARGIN_SECONDS + 60)  # inside the margin, not expired
    ae.advance(24 * 3600 - REFRESH_MARGIN_SECONDS + 60)
    ae.inject_fault(method="/auth/token/refresh", error_code="isp.service-unavailable")
    assert product_title(accounts, connected) == "Insulated bottle"
    assert shop_settings(connected).aliexpress_connected is True
    assert product_title(accounts, connected)  # the next call refreshes for real
    assert refreshes(ae) == 2


def test_transient_refresh_failure_on_a_refused_token_is_not_a_disconnect(
        connected: str, accounts: AliExpressAccounts, ae: AliExpressSimulator) -> None:
    ae.expire_token(stored_access_token(connected))
    ae.inject_fault(method="/auth/token/refresh", error_code="isp.service-unavailable")
    with pytest.raises(ServiceUnavailableError):
        product_title(accounts, connected)
    assert shop_settings(connected).aliexpress_connected is True


def test_wired_accounts_read_the_app_secret(connected: str, ae: AliExpressSimulator) -> None:
    accounts = wiring.aliexpress_accounts()
    assert wiring.aliexpress_accounts() is accounts  # one per container
    assert isinstance(accounts.client, AliExpressClient) and accounts.client.app_key == "sim-app-key"
    assert product_title(accounts, connected) == "Insulated bottle"


def test_tokens_are_never_in_the_model_repr(connected: str) -> None:
    token: Any = wiring.aliexpress_tokens().get(connected)
    assert token.access_token.get_secret_value() not in repr(token)


def test_refresh_through_the_security_refresh_api(connected: str, accounts: AliExpressAccounts,
                                                  ae: AliExpressSimulator) -> None:
    # Issue 10, item 14: a gateway that only knows AliExpress's DS-sample path (/auth/token/security/refresh).
    from shared.aliexpress.client import forget_refresh_apis

    forget_refresh_apis()
    try:
        ae.configure(refresh_api="security")
        product_title(accounts, connected)
        ae.expire_token(stored_access_token(connected))
        assert product_title(accounts, connected) == "Insulated bottle"
        calls = ae.stats()["calls"]
        assert calls.get("/auth/token/security/refresh") == 1 and calls.get("/auth/token/refresh") == 1  # refused
        assert shop_settings(connected).aliexpress_connected is True
        # Learnt: the next refresh goes straight to it.
        ae.expire_token(stored_access_token(connected))
        product_title(accounts, connected)
        assert ae.stats()["calls"].get("/auth/token/refresh") == 1
        assert ae.stats()["calls"].get("/auth/token/security/refresh") == 2
    finally:
        forget_refresh_apis()
