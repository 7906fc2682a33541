"""A demo shop wired end to end: ShopBase simulator shop + webhooks → local API, secrets and settings in moto,
AliExpress connected through the real OAuth routes when the template has them, demo products seeded.

Onboarding is the operator's own (`local/onboarding.py`: the same calls `dropship shop …` makes against a
deployed stack); everything after it goes over HTTP (`local.stack_client.SellerApi`), the way the seller's UI would.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from local import onboarding
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
    """The operator's onboarding (local/onboarding.py) of a shop that exists on the ShopBase simulator."""
    assert stack.shopbase is not None, "onboarding needs the simulators"
    # ShopBase owns the signing secret (the app's client secret) and issues the access token at install.
    webhook_secret = secrets.token_hex(24)
    access_token = "shpat_" + secrets.token_hex(16)
    stack.shopbase.create_shop(shop, access_token=access_token, webhook_secret=webhook_secret)
    added = onboarding.add_shop(shop, shopbase_token=access_token, webhook_secret=webhook_secret,
                                sender_email=sender_email, auto_place=auto_place)
    stack.client("ses").verify_email_identity(EmailAddress=sender_email)  # SES's sandbox: a verified sender
    changes = onboarding.register_webhooks(added.shop, stack.api_url)
    connected = connect_aliexpress(stack, added.shop, added.seller_token) if connect else False
    return ShopHandle(added.shop, added.seller_token, added.webhook_secret, access_token,
                      sorted(change.topic for change in changes), connected)


def has_route(stack: Stack, method: str, path: str) -> bool:
    return stack.wiring.routes.match(method, path) is not None


def connect_aliexpress(stack: Stack, shop: str, api_token: str) -> bool:
    """The seller's OAuth dance over HTTP: our start route → simulator's authorize page → our callback."""
    if not has_route(stack, "GET", "/connect/aliexpress"):
        return False
    session = _session()
    start = session.get(onboarding.connect_link(shop, stack.api_url),
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


