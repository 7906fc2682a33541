"""Fixtures for AliExpress connection, links and placement: the AliExpress simulator over HTTP on 127.0.0.1
(port 0), moto for DynamoDB / Secrets Manager / SQS, the app secret, a connected shop, seller API tokens."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

from shared import wiring
from shared.aliexpress.client import AliExpressClient
from shared.lifecycle import Event, begin
from shared.logic.accounts import AliExpressAccounts
from shared.logic.auth import hash_token
from shared.models.order import Address, Customer, LineItem, Order, OrderStatus, utcnow
from shared.models.shop import Link
from shared.observability import metrics
from simulators.aliexpress import AliExpressSimulator

APP_KEY = "sim-app-key"
APP_SECRET = "sim-app-secret"
STATE_KEY = "state-signing-key-for-tests"
REDIRECT_URI = "https://app.example.com/connect/aliexpress/callback"
BOTTLE = "1005001"  # two SKUs, store A
SKIRT = "1005002"  # one SKU, store A
LAMP = "1005003"  # one SKU, store B
BOTTLE_SILVER = "14:193#Silver;5:100014064"
BOTTLE_BLACK = "14:29#Black;5:100014064"


class FakeClock:
    """Wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def ae() -> Iterator[AliExpressSimulator]:
    with AliExpressSimulator(app_key=APP_KEY, app_secret=APP_SECRET, seed=7) as sim:
        sim.seed_product(BOTTLE, subject="Insulated bottle", store_id="1100", skus=[
            {"sku_id": "120001", "sku_attr": BOTTLE_SILVER, "price": "5.10", "stock": 50},
            {"sku_id": "120002", "sku_attr": BOTTLE_BLACK, "price": "5.20", "stock": 50}])
        sim.seed_product(SKIRT, subject="Mini skirt", store_id="1100",
                         skus=[{"sku_id": "120003", "sku_attr": "", "price": "7", "stock": 20}])
        sim.seed_product(LAMP, subject="Desk lamp", store_id="2200",
                         skus=[{"sku_id": "120004", "sku_attr": "", "price": "9", "stock": 20}])
        yield sim


@pytest.fixture
def env(aws: None, ae: AliExpressSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings pointing at the simulator, and the app secret in (moto) Secrets Manager."""
    monkeypatch.setenv("ALIEXPRESS_GATEWAY_URL", ae.url)
    monkeypatch.setenv("ALIEXPRESS_REDIRECT_URI", REDIRECT_URI)
    monkeypatch.delenv("PLACE_ORDERS_QUEUE_URL", raising=False)
    wiring.reset()  # settings are read again with these variables
    boto3.client("secretsmanager").create_secret(Name=wiring.settings().app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": APP_KEY, "aliexpress_app_secret": APP_SECRET, "state_signing_key": STATE_KEY}))
    metrics.clear_metrics()
    yield
    wiring.reset()


@pytest.fixture
def tokens(shop: str, env: None) -> dict[str, str]:
    secrets = wiring.shop_secrets()
    secrets.put(shop, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token("tok-demo")})
    secrets.put("other-store", {"webhook_secret": "whsec-other", "api_token_sha256": hash_token("tok-other")})
    return {shop: "tok-demo", "other-store": "tok-other"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(ae: AliExpressSimulator, **kwargs: Any) -> AliExpressClient:
    options: dict[str, Any] = {"session": requests.Session(), "max_retries": 0, "sleep": lambda _: None}
    options.update(kwargs)
    return AliExpressClient(ae.url, APP_KEY, APP_SECRET, **options)


def make_accounts(ae: AliExpressSimulator, clock: FakeClock, **client_options: Any) -> AliExpressAccounts:
    """Accounts over the wired token store and shops, with a test client (no retries, no sleeps)."""
    return AliExpressAccounts(make_client(ae, **client_options), wiring.aliexpress_tokens(), wiring.shops(),
                              clock=clock)


@pytest.fixture
def accounts(env: None, ae: AliExpressSimulator, clock: FakeClock) -> AliExpressAccounts:
    return make_accounts(ae, clock)


@pytest.fixture
def connected(shop: str, accounts: AliExpressAccounts, ae: AliExpressSimulator) -> str:
    """The shop connected through the real code exchange."""
    accounts.connect(shop, ae.issue_code())
    return shop


def stored_access_token(shop: str) -> str:
    token = wiring.aliexpress_tokens().get(shop)
    assert token is not None
    return token.access_token.get_secret_value()


def link(shop: str, variant_id: str, product_id: str, sku_attr: str = "", service: str | None = None) -> None:
    wiring.links().put(Link(shop=shop, variant_id=variant_id, product_id=product_id, sku_attr=sku_attr,
                              shipping_service=service))


def new_order(shop: str, order_id: str, *, lines: list[tuple[str, int]] | None = None,
              address: dict[str, Any] | None = None, status: OrderStatus = OrderStatus.AWAITING_ORDER) -> Order:
    """An order stored directly (the webhook path has its own tests); `lines` = [(variant id, quantity)]."""
    lines = lines if lines is not None else [("1000221", 2), ("1000387", 1)]
    fields = {"first_name": "Jane", "last_name": "Doe", "name": "Jane Doe", "address1": "12 Example Street",
              "address2": "Apt 3", "city": "Springfield", "province": "Illinois", "province_code": "IL",
              "country": "United States", "country_code": "US", "zip": "62701", "phone": "+1 217 555 0100"}
    fields.update(address or {})
    order = Order(shop=shop, order_id=order_id, name=f"#{order_id}", status=status, created_at=utcnow(),
                  customer=Customer(first_name="Jane", last_name="Doe", email="jane@example.com"),
                  shipping_address=Address(**fields),
                  line_items=[LineItem(id=f"{order_id}{n}", variant_id=v, quantity=q, title=f"item {v}")
                              for n, (v, q) in enumerate(lines)])
    arrived = begin(order, Event.ORDER_CREATED_UNPAID if status is OrderStatus.PENDING else Event.CUSTOMER_PAID)
    mutation = wiring.orders().mutate(shop, order_id, lambda _: arrived, assume_absent=True)
    assert mutation.order is not None
    return mutation.order


def run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run `target(i)` in n threads released together; returns results (or exceptions) in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as error:  # reported to the test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def shop_settings(shop: str) -> Any:
    return wiring.shops().get_settings(shop)
