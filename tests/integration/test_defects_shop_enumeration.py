"""Issue 10, item 12: an unknown shop must cost what a known one costs, so neither the answer nor its time
tells which shops exist. The webhook's unknown-shop answer used to make a Secrets Manager call every time
(Powertools caches only found secrets) while a known shop's bad signature was answered from the cache:
13 ms vs 4 ms. Now a "no such secret" is cached like a found one (same SECRET_MAX_AGE_SECONDS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

from shared import wiring
from tests.integration.test_webhook_order import deliver


class SecretCalls:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.names.append(str(params.get("SecretId")))


@pytest.fixture
def secret_calls(shop: str) -> Iterator[SecretCalls]:
    wiring.shop_secrets().get(shop)  # builds Powertools' provider (its boto3 client) once
    calls = SecretCalls()
    client = DEFAULT_PROVIDERS["secrets"].client
    client.meta.events.register("provide-client-params.secrets-manager.GetSecretValue", calls)
    yield calls
    client.meta.events.unregister("provide-client-params.secrets-manager.GetSecretValue", calls)


def test_an_unknown_shop_is_looked_up_once_then_cached(shop: str, secret_calls: SecretCalls) -> None:
    store = wiring.shop_secrets()
    for _ in range(5):
        assert store.get("no-such-shop") is None
        assert store.get(shop) is not None
    assert secret_calls.names == [store.name("no-such-shop")]  # the known shop was already cached


def test_a_shop_onboarded_after_a_miss_is_found_at_once(shop: str, secret_calls: SecretCalls) -> None:
    store = wiring.shop_secrets()
    assert store.get("new-shop") is None
    store.put("new-shop", {"webhook_secret": "whsec-new"})
    found = store.get("new-shop")
    assert found is not None and found.webhook_secret.get_secret_value() == "whsec-new"


def test_the_webhook_answers_unknown_and_known_shops_with_the_same_work(shop: str, secret_calls: SecretCalls,
                                                                        lambda_context: Any,
                                                                        order_paid: dict[str, Any]) -> None:
    answers = []
    for _ in range(20):
        unknown = deliver(lambda_context, "no-such-shop", "orders/paid", order_paid, secret="guess")
        known = deliver(lambda_context, shop, "orders/paid", order_paid, secret="guess")
        answers.append((unknown, known))
    assert all(unknown == known and unknown[0] == 401 for unknown, known in answers)
    # One Secrets Manager call for the unknown shop in 20 deliveries (the known one is cached): neither
    # path waits for Secrets Manager after the first.
    assert secret_calls.names == [wiring.shop_secrets().name("no-such-shop")]


def test_a_passing_secrets_manager_failure_is_not_remembered_as_unknown(shop: str) -> None:
    from botocore.exceptions import ClientError

    store = wiring.shop_secrets()
    store.put("late-shop", {"webhook_secret": "whsec-late"})  # exists, but the first read of it fails
    assert store.get(shop) is not None  # Powertools' provider (and its client) built again after put()
    client = DEFAULT_PROVIDERS["secrets"].client
    failures = {"left": 1}

    def throttle(**_: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetSecretValue")

    client.meta.events.register("before-call.secrets-manager.GetSecretValue", throttle)
    try:
        assert store.get("late-shop") is None
        assert failures["left"] == 0
        assert store.get("late-shop") is not None  # asked again, found
    finally:
        client.meta.events.unregister("before-call.secrets-manager.GetSecretValue", throttle)
