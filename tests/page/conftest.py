"""Fixtures of the Manage Orders page's tests: the app secret (cursor key), two shops' seller tokens, orders made by
the webhook handler, and the seller API called in-process with API Gateway v2 events."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.seller_api import app as seller_api
from local.apigw import http_event
from shared import wiring
from shared.lifecycle import Event, transition
from shared.logic.auth import hash_token
from shared.models.order import AeOrder, Order, OrderStatus, Placement
from tests.integration.test_webhook_order import deliver

STATE_KEY = "state-signing-key-for-page-tests"
SHOP = "demo-store"
OTHER = "other-store"


@pytest.fixture
def tokens(shop: str) -> dict[str, str]:
    boto3.client("secretsmanager").create_secret(Name=wiring.settings().app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": "set-me", "aliexpress_app_secret": "set-me", "state_signing_key": STATE_KEY}))
    secrets = wiring.shop_secrets()
    secrets.put(shop, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token("tok-demo")})
    secrets.put(OTHER, {"webhook_secret": "whsec-other", "api_token_sha256": hash_token("tok-other")})
    return {shop: "tok-demo", OTHER: "tok-other"}


Api = Callable[..., tuple[int, Any, dict[str, str]]]


@pytest.fixture
def api(lambda_context: Any, tokens: dict[str, str]) -> Api:
    """call(method, path, query="", body=None, token=<the shop's>) -> (status, JSON or text, headers)."""

    def call(method: str, path: str, query: str = "", body: Any = None, token: str | None = "tok-demo",
             headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        sent = dict(headers or {})
        if token:
            sent["authorization"] = f"Bearer {token}"
        event = http_event(method, path, headers=sent, query=query,
                           body=json.dumps(body) if body is not None else None)
        response = seller_api.lambda_handler(event, lambda_context)
        answer = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        raw = response.get("body") or ""
        is_json = answer.get("content-type", "").startswith("application/json")
        return response["statusCode"], json.loads(raw) if is_json and raw else raw, answer

    return call


MakeOrder = Callable[..., str]


@pytest.fixture
def make_order(lambda_context: Any, order_paid: dict[str, Any], tokens: dict[str, str]) -> MakeOrder:
    """An order delivered by the webhook handler (the production path); its id."""

    def make(order_id: int, *, shop: str = SHOP, created: datetime | None = None, paid: bool = True,
             first: str = "Jane", last: str = "Doe", email: str = "jane.doe@example.com", name: str | None = None,
             secret: str | None = None, updated: datetime | None = None) -> str:
        payload = copy.deepcopy(order_paid)
        when = created or datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=order_id % 1000)
        payload.update(id=order_id, name=name or f"#{order_id}", created_at=when.isoformat(), email=email,
                       updated_at=(updated or when).isoformat(), financial_status="paid" if paid else "pending")
        payload["customer"] = dict(payload["customer"], first_name=first, last_name=last, email=email)
        payload["shipping_address"] = dict(payload["shipping_address"], first_name=first, last_name=last,
                                           name=f"{first} {last}")
        status, body = deliver(lambda_context, shop, "orders/create", payload,
                               secret=secret or ("whsec-demo" if shop == SHOP else "whsec-other"))
        assert status == 200, body
        return str(order_id)

    return make


def placed(shop: str, order_id: str, ae_order_id: str, at: datetime) -> Order:
    """The order as placement leaves it: Awaiting Payment with its AliExpress order (what Placer writes)."""

    def change(order: Order | None) -> Order | None:
        assert order is not None and order.status is OrderStatus.AWAITING_ORDER
        moved = transition(order, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED, at)
        moved.placement = Placement(out_order_id=f"{shop}-{order_id}", claimed_at=at)
        moved.ae_orders = [AeOrder(ae_order_id=ae_order_id, line_item_ids=[li.id for li in order.line_items])]
        return moved

    result = wiring.orders().mutate(shop, order_id, change).order
    assert result is not None
    return result


# ---------------------------------------------------------------- the browser test (tests/page/test_browser.py)

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the page in headless Chromium against `dropship run`")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import FIXTURES
    from tests.page import browser

    order = json.loads((FIXTURES / "shopbase" / "order_paid.json").read_text())
    running = browser.start_stack(tmp_path_factory.mktemp("page-stack"))
    try:
        browser.seed(running, order)
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


@pytest.fixture(scope="module")
def browser_context(stack: Any) -> Any:
    from tests.page import browser

    yield from browser.browser_context(stack)


@pytest.fixture
def page(stack: Any, browser_context: Any) -> Any:
    from tests.page import browser

    tab = browser.watch(stack, browser_context.new_page())
    yield tab
    tab.close()
