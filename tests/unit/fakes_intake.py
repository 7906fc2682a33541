"""Fakes for the intake and placement room's interfaces: the shop secret reader, PlaceOrdersQueue, AliExpress."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from shared.models.shop import ShopSecrets


class InMemorySecrets:
    """Fake of `shared.data.secrets.ShopSecretStore` (reads only)."""

    def __init__(self, **by_shop: ShopSecrets) -> None:
        self._secrets = dict(by_shop)
        self.calls: Counter[str] = Counter()

    def add(self, shop: str, webhook_secret: str = "whsec", api_token_sha256: str | None = None) -> None:
        self._secrets[shop] = ShopSecrets(webhook_secret=SecretStr(webhook_secret), api_token_sha256=api_token_sha256)

    def get(self, shop: str) -> ShopSecrets | None:
        self.calls["get"] += 1
        return self._secrets.get(shop)


class RecordingQueue:
    """Fake of `shared.data.placement_queue.PlacementQueue`: remembers what was sent; `fail` makes send raise."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[tuple[str, list[str], int]] = []
        self.fail = fail

    def send(self, shop: str, order_ids: list[str], delay_seconds: int = 0) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((shop, list(order_ids), delay_seconds))


class ScriptedAliExpress:
    """Fake of `AliExpressAccounts` for placement: `call(shop, fn)` runs fn on a client whose create_order
    answers from `answers` (a list of order ids, or an exception to raise), one per call."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def call(self, shop: str, fn: Callable[[Any, str], Any]) -> Any:
        return fn(self, "token")

    def create_order(self, token: str, **request: Any) -> list[str]:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
