"""Issue 10, item 12: the webhook's unknown shop, a header naming another shop, and a known shop's bad signature
do the same work — one HMAC over the body each — so the answer's time does not tell which shops exist."""

from __future__ import annotations

from typing import Any

import pytest

from shared.logic import webhooks
from tests.integration.test_webhook_order import deliver


@pytest.fixture
def hmacs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    real = webhooks.verify_webhook

    def counted(secret: str, body: bytes, signature: str | None) -> bool:
        sizes.append(len(body))
        return real(secret, body, signature)

    monkeypatch.setattr(webhooks, "verify_webhook", counted)
    return sizes


def test_every_refusal_computes_one_hmac_over_the_body(shop: str, hmacs: list[int], lambda_context: Any,
                                                        order_paid: dict[str, Any]) -> None:
    unknown = deliver(lambda_context, "no-such-shop", "orders/paid", order_paid, secret="guess")
    known = deliver(lambda_context, shop, "orders/paid", order_paid, secret="guess")
    assert unknown == known and unknown[0] == 401
    assert len(hmacs) == 2 and hmacs[0] == hmacs[1] > 0


def test_a_throwaway_key_never_lets_an_unknown_shop_in(shop: str, lambda_context: Any,
                                                       order_paid: dict[str, Any]) -> None:
    """Signed with the throwaway key itself, an unknown shop's delivery is still refused."""
    throwaway = webhooks._THROWAWAY_KEY
    assert deliver(lambda_context, "no-such-shop", "orders/paid", order_paid, secret=throwaway)[0] == 401
