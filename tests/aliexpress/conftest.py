"""Fixtures for the AliExpress client and simulator tests: a simulator on 127.0.0.1 (port 0), a seeded
catalog, a long-lived token, and clients whose backoff sleep is recorded instead of slept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from shared.aliexpress import AliExpressClient
from simulators.aliexpress import AliExpressSimulator
from tests.aliexpress.aliexpress_data import (
    ADDRESS,
    APP_KEY,
    APP_SECRET,
    BOTTLE,
    BOTTLE_BLACK,
    BOTTLE_SILVER,
    SKIRT,
    SKIRT_SKU,
    SleepRecorder,
)


@pytest.fixture
def sim() -> Iterator[AliExpressSimulator]:
    with AliExpressSimulator(app_key=APP_KEY, app_secret=APP_SECRET, seed=1234) as simulator:
        simulator.seed_product(
            BOTTLE,
            store_id="1103800006",
            store_name="Kedi Bottles Store",
            subject="500ML Insulated Water Bottle",
            skus=[
                {"sku_id": BOTTLE_SILVER, "sku_attr": "14:193#Silver", "price": "8.12", "stock": 50},
                {"sku_id": BOTTLE_BLACK, "sku_attr": "14:175#Black", "price": "8.12", "stock": 3},
            ],
        )
        simulator.seed_product(
            SKIRT,
            store_id="1102000777",
            store_name="Sunny Apparel Store",
            subject="Elegant Flounce Mini Skirt",
            skus=[{"sku_id": SKIRT_SKU, "sku_attr": "", "price": "12.50", "stock": 20}],
        )
        yield simulator


@pytest.fixture
def token(sim: AliExpressSimulator) -> str:
    """An access token that outlives any clock advance in these tests."""
    issued = sim.issue_token(expires_in=365 * 86400, refresh_expires_in=400 * 86400)
    access: str = issued["access_token"]
    return access


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(sim: AliExpressSimulator, sleeps: SleepRecorder) -> Iterator[Callable[..., AliExpressClient]]:
    sessions: list[requests.Session] = []

    def make(**kwargs: Any) -> AliExpressClient:
        session = requests.Session()
        sessions.append(session)
        options: dict[str, Any] = {"session": session, "sleep": sleeps, "timeout": (2.0, 5.0)}
        options.update(kwargs)
        secret = options.pop("app_secret", APP_SECRET)
        return AliExpressClient(sim.url, APP_KEY, secret, **options)

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def client(make_client: Callable[..., AliExpressClient]) -> AliExpressClient:
    return make_client()


@pytest.fixture
def place(client: AliExpressClient, token: str) -> Callable[..., list[str]]:
    """Places a default order (one black bottle) unless told otherwise."""

    counter = iter(range(1, 10_000))

    def place_order(
        items: list[dict[str, Any]] | None = None, *, out_order_id: str | None = None, **kwargs: Any
    ) -> list[str]:
        return client.create_order(
            token,
            out_order_id=out_order_id or f"sb-order-{next(counter)}",
            logistics_address=kwargs.pop("address", ADDRESS),
            product_items=items or [{"product_id": BOTTLE, "product_count": 1, "sku_attr": "14:175#Black"}],
            **kwargs,
        )

    return place_order
