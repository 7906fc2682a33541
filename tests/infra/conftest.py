"""Onboarding fixtures: moto (the `table` fixture) plus a ShopBase simulator the wiring's clients point at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared import wiring
from shared.shopbase.throttle import reset_throttles
from simulators.shopbase import ShopBaseSimulator

SHOP = "acme"
SHOPBASE_TOKEN = "shpat_acme_token"
APP_SECRET = "the-app-client-secret"  # what ShopBase signs webhooks with
API_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"


@pytest.fixture
def shopbase(table: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopBaseSimulator]:
    """A ShopBase simulator with shop `acme`; the wiring's ShopBase base URL points at it."""
    reset_throttles()
    with ShopBaseSimulator(seed=7) as simulator:
        simulator.create_shop(SHOP, access_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
        monkeypatch.setenv("SHOPBASE_BASE_URL", f"{simulator.url}/shops/{{shop}}")
        wiring.reset()
        wiring.override("shopbase_client_options", {"timeout": (1.0, 3.0), "max_retries": 0})
        yield simulator
    reset_throttles()
