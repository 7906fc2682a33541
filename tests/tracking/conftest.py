"""Fixtures for the tracking consumers: the ShopBase simulator, SES under moto, the stream and its mappings."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from functions.notify_customer import app as notify_app
from functions.push_tracking import app as push_app
from shared import wiring
from shared.models.order import Customer, LineItem, Order, OrderStatus, Package, PackageLine
from shared.models.shop import ShopSettings
from shared.shopbase.throttle import reset_throttles, throttle_for
from simulators.shopbase.server import ShopBaseSimulator
from tests.tracking.streams import Mapping, StreamTap

SHOP = "demo-store"
SENDER = "orders@mail.demo-store.com"
SENDER_DOMAIN = "mail.demo-store.com"


def fast_sleep(seconds: float) -> None:
    # Retry-After and backoff waits, shortened: the simulator's bucket is configured to leak fast.
    time.sleep(min(seconds, 0.02))


@pytest.fixture
def sim() -> Iterator[ShopBaseSimulator]:
    simulator = ShopBaseSimulator(strict_carriers=True, burst=30, leak_rate=1000.0, seed=7)
    simulator.start()
    simulator.create_shop(SHOP, access_token="sbtok")
    yield simulator
    simulator.stop()


def client_options(sleep: Any = fast_sleep, **options: Any) -> dict[str, Any]:
    """ShopBase client options for the tests: short timeouts and backoff."""
    return {"timeout": (0.5, 0.5), "backoff_base": 0.01, "sleep": sleep, **options}


@pytest.fixture
def env(shop: str, sim: ShopBaseSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings point at the simulator; the client's bucket mirrors the simulator's; SES sender verified."""
    monkeypatch.setenv("SHOPBASE_BASE_URL", f"{sim.url}/shops/{{shop}}")
    monkeypatch.setenv("PUSH_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "4")
    wiring.reset()
    wiring.override("shopbase_client_options", client_options())
    throttle_for(sim.shop_url(SHOP), capacity=30, leak_rate=1000.0)
    boto3.client("ses").verify_domain_identity(Domain=SENDER_DOMAIN)
    wiring.shops().put_settings(ShopSettings(shop=SHOP, sender_email=SENDER, notify_customer=False))
    yield
    wiring.reset()
    reset_throttles()


@pytest.fixture
def tap(table: Any) -> StreamTap:
    return StreamTap(table.name)


@pytest.fixture
def push(lambda_context: Any) -> Mapping:
    return Mapping.from_template("PushTrackingFunction", push_app.lambda_handler, lambda_context)


@pytest.fixture
def notify(lambda_context: Any) -> Mapping:
    return Mapping.from_template("NotifyCustomerFunction", notify_app.lambda_handler, lambda_context)


def sent_emails() -> list[Any]:
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


def store_order(sim: ShopBaseSimulator, n_items: int = 2) -> dict[str, Any]:
    return sim.make_order(SHOP, n_items=n_items, paid=True, emit=False)


def our_order(store: dict[str, Any], status: OrderStatus = OrderStatus.AWAITING_SHIPMENT) -> Order:
    """The order as the webhook intake would have recorded it."""
    return Order(
        shop=SHOP, order_id=str(store["id"]), name=store.get("name") or "", status=status,
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
        customer=Customer(first_name="Ana", email=store.get("email") or "customer@example.com"),
        line_items=[LineItem(id=str(li["id"]), title=li.get("title") or "", variant_title=li.get("variant_title"),
                             quantity=int(li["quantity"])) for li in store["line_items"]],
    )


def package(tracking: str, lines: list[tuple[str, int]], carrier: str = "YunExpress",
            url: str | None = None) -> Package:
    return Package(tracking_number=tracking, carrier=carrier, tracking_url=url, ae_order_id="8100" + tracking[-4:],
                   line_items=[PackageLine(line_item_id=i, quantity=q) for i, q in lines])


def save(order: Order) -> Order:
    """Insert the order (as the webhook would), as a separate write from its packages."""
    stored = wiring.orders().mutate(order.shop, order.order_id, lambda current: order.model_copy(deep=True),
                         assume_absent=True).order
    assert stored is not None
    return stored


def ship(order_id: str, *packages: Package) -> Order:
    """The status sync records packages found on AliExpress (one conditional write)."""
    def change(current: Order | None) -> Order | None:
        assert current is not None
        current.packages.extend(p.model_copy(deep=True) for p in packages)
        return current

    stored = wiring.orders().mutate(SHOP, order_id, change).order
    assert stored is not None
    return stored


def all_lines(store: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(li["id"]), int(li["quantity"])) for li in store["line_items"]]


def two_packages_shipped(sim: ShopBaseSimulator, tap: StreamTap, first: str, second: str) -> tuple[str, list[Any]]:
    """A store order of two lines, saved, then shipped as two packages (tracking numbers `first`, `second`),
    the shop's settings warm in the consumer's cache (as for any record after a container's first): the
    stream records a push of the two would get."""
    store = store_order(sim, n_items=2)
    (a_id, a_qty), (b_id, b_qty) = all_lines(store)
    order = save(our_order(store))
    ship(order.order_id, package(first, [(a_id, a_qty)]), package(second, [(b_id, b_qty)]))
    wiring.cached_shop_settings().get_settings(SHOP)
    return order.order_id, tap.read()
