"""Issue 10, item 2: one tracking channel by default (our branded email; ShopBase's own off), and
PATCH /shops/{shop}/settings refuses to turn both on unless `both_channels: true` confirms it."""

from __future__ import annotations

from typing import Any

from shared import wiring
from shared.models.shop import ShopSettings
from tests.integration.test_seller_orders_api import call


def settings(context: Any, shop: str, token: str) -> dict[str, Any]:
    status, body = call(context, "GET", f"/shops/{shop}/settings", token)
    assert status == 200
    return body


def patch(context: Any, shop: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return call(context, "PATCH", f"/shops/{shop}/settings", token, body=body)


def test_the_default_is_one_channel_our_email() -> None:
    defaults = ShopSettings(shop="s")
    assert defaults.send_tracking_email is True and defaults.notify_customer is False
    assert defaults.both_channels is False and defaults.tracking_channel == "ours"


def test_a_shop_without_settings_reads_one_channel(shop: str, tokens: dict[str, str], lambda_context: Any) -> None:
    body = settings(lambda_context, shop, tokens[shop])
    assert (body["send_tracking_email"], body["notify_customer"], body["both_channels"]) == (True, False, False)
    assert body["tracking_channel"] == "ours"


def test_turning_the_second_channel_on_needs_both_channels(shop: str, tokens: dict[str, str],
                                                           lambda_context: Any) -> None:
    status, body = patch(lambda_context, shop, tokens[shop], {"notify_customer": True})
    assert status == 422 and body["field"] == "notify_customer" and "both_channels" in body["error"]
    assert settings(lambda_context, shop, tokens[shop])["notify_customer"] is False  # nothing changed
    # Both in one request, without the confirmation: refused too.
    status, body = patch(lambda_context, shop, tokens[shop], {"notify_customer": True, "send_tracking_email": True})
    assert status == 422 and "both_channels" in body["error"]
    # Confirmed: both.
    status, body = patch(lambda_context, shop, tokens[shop], {"notify_customer": True, "both_channels": True})
    assert status == 200 and body["notify_customer"] is True and body["send_tracking_email"] is True
    assert body["tracking_channel"] == "both"
    # Back to one channel: the confirmation goes with it, so turning the second on again asks again.
    status, body = patch(lambda_context, shop, tokens[shop], {"send_tracking_email": False})
    assert status == 200 and body["tracking_channel"] == "shopbase" and body["both_channels"] is False
    status, body = patch(lambda_context, shop, tokens[shop], {"send_tracking_email": True})
    assert status == 422 and body["field"] == "send_tracking_email"


def test_switching_channels_is_one_request(shop: str, tokens: dict[str, str], lambda_context: Any) -> None:
    status, body = patch(lambda_context, shop, tokens[shop], {"notify_customer": True, "send_tracking_email": False})
    assert status == 200 and body["tracking_channel"] == "shopbase"
    assert settings(lambda_context, shop, tokens[shop])["tracking_channel"] == "shopbase"


def test_stored_settings_with_both_on_read_as_our_email_only(shop: str, tokens: dict[str, str],
                                                            lambda_context: Any) -> None:
    # Saved when both were on by default.
    wiring.shops().update_settings(shop, notify_customer=True, send_tracking_email=True)
    body = settings(lambda_context, shop, tokens[shop])
    assert (body["notify_customer"], body["send_tracking_email"], body["tracking_channel"]) == (False, True, "ours")


def test_the_route_documents_both_channels() -> None:
    from functions.seller_api.routes_settings import SettingsPatch

    fields = SettingsPatch.model_fields
    for name in ("notify_customer", "send_tracking_email", "both_channels"):
        assert fields[name].description, name
    assert "ShopBase" in (fields["notify_customer"].description or "")
