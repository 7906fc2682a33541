"""A demo shop wired end to end: ShopBase simulator shop + webhooks → local API, secrets and settings in moto,
AliExpress connected through the real OAuth routes when the template has them, demo products seeded.

Everything after onboarding goes over HTTP (`SellerApi`), the way an operator or the seller's UI would.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from local.stack import Stack

WEBHOOK_ROUTE = re.compile(r"^/webhooks/shopbase/\{shop\}/(?P<topic>[a-z_]+/[a-z_]+)$")
DEMO_SENDER = "orders@demo-store.example.com"


@dataclass
class ShopHandle:
    shop: str
    api_token: str  # the seller API bearer token (local, throwaway)
    webhook_secret: str
    access_token: str
    webhook_topics: list[str]
    aliexpress_connected: bool


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy from the environment
    return session


def webhook_topics(stack: Stack) -> list[str]:
    """ShopBase topics the template has a webhook route for (its path names the topic)."""
    topics = []
    for route in stack.wiring.routes.routes:
        if match := WEBHOOK_ROUTE.match(route.path):
            topics.append(match.group("topic"))
    return sorted(set(topics))


def onboard(stack: Stack, shop: str = "demo-store", *, auto_place: bool = False,
            sender_email: str = DEMO_SENDER, connect: bool = True) -> ShopHandle:
    from shared import wiring
    from shared.logic.auth import new_api_token
    from shared.models.shop import ShopSettings

    assert stack.shopbase is not None, "onboarding needs the simulators"
    api_token, token_hash = new_api_token()
    webhook_secret = secrets.token_hex(24)
    access_token = "shpat_" + secrets.token_hex(16)
    stack.shopbase.create_shop(shop, access_token=access_token, webhook_secret=webhook_secret)
    wiring.shop_secrets().put(shop, {"webhook_secret": webhook_secret, "shopbase_access_token": access_token,
                                     "api_token_sha256": token_hash})
    wiring.shops().put_settings(ShopSettings(shop=shop, auto_place=auto_place, sender_email=sender_email))
    stack.client("ses").verify_email_identity(EmailAddress=sender_email)
    session = _session()
    topics = webhook_topics(stack)
    for topic in topics:
        # Registered through the simulator's Admin API, like the app does on install.
        response = session.post(f"{stack.shopbase.shop_url(shop)}/admin/webhooks.json",
                                headers={"X-ShopBase-Access-Token": access_token},
                                json={"webhook": {"topic": topic, "format": "json",
                                                  "address": f"{stack.api_url}/webhooks/shopbase/{shop}/{topic}"}},
                                timeout=5)
        response.raise_for_status()
    connected = connect_aliexpress(stack, shop, api_token) if connect else False
    return ShopHandle(shop, api_token, webhook_secret, access_token, topics, connected)


def has_route(stack: Stack, method: str, path: str) -> bool:
    return stack.wiring.routes.match(method, path) is not None


def connect_aliexpress(stack: Stack, shop: str, api_token: str) -> bool:
    """The seller's OAuth dance over HTTP: our start route → simulator's authorize page → our callback."""
    if not has_route(stack, "GET", "/connect/aliexpress"):
        return False
    session = _session()
    start = session.get(f"{stack.api_url}/connect/aliexpress", params={"shop": shop},
                        headers={"Authorization": f"Bearer {api_token}"}, allow_redirects=False, timeout=10)
    if start.status_code != 302:
        raise RuntimeError(f"connect start answered {start.status_code}: {start.text[:200]}")
    authorize = session.get(start.headers["Location"], allow_redirects=False, timeout=10)
    if authorize.status_code != 302:
        raise RuntimeError(f"AliExpress authorize answered {authorize.status_code}: {authorize.text[:200]}")
    callback = authorize.headers["Location"]
    if urlsplit(callback).netloc != urlsplit(stack.api_url).netloc:
        raise RuntimeError(f"OAuth callback goes to {callback}, not the local API: check ALIEXPRESS_REDIRECT_URI")
    done = session.get(callback, allow_redirects=False, timeout=10)
    if done.status_code >= 400:
        raise RuntimeError(f"connect callback answered {done.status_code}: {done.text[:200]}")
    return True


class SellerApi:
    """The seller API over HTTP with the shop's bearer token."""

    def __init__(self, api_url: str, shop: str, token: str) -> None:
        self.base = api_url.rstrip("/")
        self.shop = shop
        self._session = _session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self._session.request(method, f"{self.base}{path}", **kwargs)

    def orders(self, tab: str = "all", limit: int = 100) -> dict[str, Any]:
        """Every order of a tab (following cursors) and the tab counts."""
        collected: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"tab": tab, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
            response = self.request("GET", f"/shops/{self.shop}/orders", params=params)
            response.raise_for_status()
            page = response.json()
            collected.extend(page["orders"])
            cursor = page.get("next_cursor")
            if not cursor:
                return {"tab": tab, "orders": collected, "counts": page["counts"]}

    def counts(self) -> dict[str, int]:
        response = self.request("GET", f"/shops/{self.shop}/orders", params={"limit": "1"})
        response.raise_for_status()
        return dict(response.json()["counts"])

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/shops/{self.shop}/orders/{order_id}")
        response.raise_for_status()
        return dict(response.json())
