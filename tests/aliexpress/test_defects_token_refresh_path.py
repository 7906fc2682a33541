"""Issue 10, item 14: the token refresh works whichever refresh API the gateway knows — `/auth/token/refresh`
(the notes) or `/auth/token/security/refresh` (AliExpress's own DS sample code). One refused as an unknown
API, the client uses the other and remembers it for the process (one wasted call, once). The simulator can
be set to either (`configure(refresh_api=…)`, also POST /_sim/configure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from shared.aliexpress import AliExpressClient
from shared.aliexpress.client import forget_refresh_apis
from shared.aliexpress.errors import AliExpressError, IllegalRefreshTokenError
from simulators.aliexpress import AliExpressSimulator
from tests.aliexpress.aliexpress_data import SKIRT

PLAIN, SECURITY = "/auth/token/refresh", "/auth/token/security/refresh"


def pair(sim: AliExpressSimulator) -> str:
    refresh: str = sim.issue_token()["refresh_token"]
    return refresh


def test_the_simulator_can_be_set_to_either_refresh_api(sim: AliExpressSimulator) -> None:
    assert sim.get_config()["refresh_api"] == "both"
    response = requests.post(f"{sim.url}/_sim/configure", json={"refresh_api": "security"}, timeout=5)
    assert response.status_code == 200 and response.json()["refresh_api"] == "security"
    bad = requests.post(f"{sim.url}/_sim/configure", json={"refresh_api": "other"}, timeout=5)
    assert bad.status_code == 400 and "refresh_api" in bad.json()["error"]


@pytest.mark.parametrize(("gateway_knows", "other"), [("security", PLAIN), ("plain", SECURITY)])
def test_an_unknown_refresh_api_is_refused_like_the_gateway_does(sim: AliExpressSimulator,
                                                                 make_client: Callable[..., AliExpressClient],
                                                                 gateway_knows: str, other: str) -> None:
    sim.configure(refresh_api=gateway_knows)
    client = make_client()
    with pytest.raises(AliExpressError) as caught:
        client.call(other, {"refresh_token": pair(sim)})
    assert caught.value.code == "InvalidApiPath"


@pytest.mark.parametrize(("gateway_knows", "used"), [("security", SECURITY), ("plain", PLAIN), ("both", PLAIN)])
def test_refresh_uses_the_api_the_gateway_knows_and_remembers_it(sim: AliExpressSimulator,
                                                                 make_client: Callable[..., AliExpressClient],
                                                                 gateway_knows: str, used: str) -> None:
    sim.configure(refresh_api=gateway_knows)
    client = make_client()
    first = client.refresh_token(pair(sim))
    assert client.get_product(first.access_token, SKIRT, "US").product_id == SKIRT
    wasted = 1 if used == SECURITY else 0  # the plain path is tried first, once
    assert sim.stats()["calls"].get(used) == 1
    assert sum(sim.stats()["calls"].get(p, 0) for p in (PLAIN, SECURITY)) == 1 + wasted
    # Remembered for the process: a new client (another container's clients are new processes) goes
    # straight to it, and so does the next refresh.
    again = make_client()
    again.refresh_token(first.refresh_token)
    client.refresh_token(pair(sim))
    assert sim.stats()["calls"].get(used) == 3
    assert sum(sim.stats()["calls"].get(p, 0) for p in (PLAIN, SECURITY)) == 3 + wasted


def test_a_refused_refresh_token_is_not_taken_for_an_unknown_api(sim: AliExpressSimulator,
                                                                 make_client: Callable[..., AliExpressClient]) -> None:
    sim.configure(refresh_api="plain")
    client = make_client()
    with pytest.raises(IllegalRefreshTokenError):
        client.refresh_token("not-a-refresh-token")
    assert sim.stats()["calls"].get(SECURITY) is None  # no fallback for a real refusal


@pytest.fixture(autouse=True)
def _fresh_process_memory() -> Iterator[None]:
    # What the client learnt about a gateway lives for the process: each test starts (and leaves) blank.
    forget_refresh_apis()
    yield
    forget_refresh_apis()
