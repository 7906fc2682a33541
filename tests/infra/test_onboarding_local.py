"""The local runtime's demo shop is onboarded with the operator's own functions (local/onboarding.py): its
webhooks are registered once on the ShopBase simulator, ShopBase's signed deliveries are accepted, the seller
token works, and running the registration again changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local.onboarding import WEBHOOK_TOPICS, register_webhooks, rotate_seller_token
from local.stack import Stack, StackConfig
from local.world import onboard
from tests.local.conftest import wait_for

SHOP = "demo-store"


@pytest.fixture
def stack() -> Iterator[Stack]:
    config = StackConfig(api_port=0, moto_port=0, aliexpress_port=0, shopbase_port=0, state_dir=None,
                         poll_interval=0.05, retry_delay=0.05)
    with Stack(config) as running:
        yield running


def test_the_demo_shop_is_onboarded_by_the_operators_functions(stack: Stack) -> None:
    handle = onboard(stack, SHOP)
    assert handle.aliexpress_connected
    registered = sorted((h["id"], h["topic"], h["address"]) for h in stack.shopbase.webhooks(SHOP))
    assert sorted(topic for _, topic, _ in registered) == sorted(WEBHOOK_TOPICS) == handle.webhook_topics
    assert all(address == f"{stack.api_url}/webhooks/shopbase/{SHOP}/{topic}" for _, topic, address in registered)

    assert {change.action for change in register_webhooks(SHOP, stack.api_url)} == {"kept"}
    assert sorted((h["id"], h["topic"], h["address"]) for h in stack.shopbase.webhooks(SHOP)) == registered

    http = requests.Session()
    http.trust_env = False

    def orders(token: str) -> requests.Response:
        return http.get(f"{stack.api_url}/shops/{SHOP}/orders", headers={"Authorization": f"Bearer {token}"},
                        timeout=30)

    # ShopBase's signed webhook (the secret onboarding stored) becomes an order the seller sees.
    order = stack.shopbase.make_order(SHOP, 2, True)
    answers: list[str] = []

    def listed() -> bool:
        answer = orders(handle.api_token)
        answers[:] = [f"{answer.status_code} {answer.text[:300]}"]  # said if it never lists the order
        return answer.ok and any(o["order_id"] == str(order["id"]) for o in answer.json()["orders"])

    try:
        wait_for(listed, timeout=30)
    except AssertionError as error:
        raise AssertionError(f"the order was never listed; last answer: {answers}") from error
    token = rotate_seller_token(SHOP)
    wait_for(lambda: orders(handle.api_token).status_code == 401, timeout=30)  # cached secrets age out
    assert orders(token).status_code == 200
