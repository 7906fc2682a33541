"""Property: whatever the delivery order and duplication, the store ends with the newest version of each order.

Every delivery goes through the webhook use case (signature, parsing, intake) over an in-memory repository;
the conditional writes themselves are tested against DynamoDB in tests/integration/test_order_repository.py.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.lifecycle import TRANSITIONS
from shared.logic.intake import Topic, body_hash
from shared.logic.webhooks import WebhookReceiver
from shared.models.order import OrderStatus
from shared.shopbase.signature import sign_webhook
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_intake import InMemorySecrets

BASE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SHOP = "demo-store"
SECRET = "whsec-demo"


def versions(order_paid: dict[str, Any], order_id: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """The webhooks one order produces over its life, oldest first: (topic, body)."""
    steps = [("orders/create", {"financial_status": "pending"}), ("orders/paid", {"financial_status": "paid"}),
             ("orders/updated", {"financial_status": "paid", "note": "address fixed"})]
    if rng.random() < 0.3:
        steps.append(("orders/cancelled", {"financial_status": "refunded", "cancelled_at": "2026-11-21T00:00:00Z"}))
    out = []
    for n, (topic, changes) in enumerate(steps):
        body = copy.deepcopy(order_paid)
        body.update(id=order_id, name=f"#{order_id}", updated_at=(BASE + timedelta(minutes=n)).isoformat(),
                    created_at=BASE.isoformat(), **changes)
        out.append((topic, body))
    return out


def expected_status(body: dict[str, Any]) -> OrderStatus:
    if body.get("cancelled_at"):
        return OrderStatus.CANCELED
    return OrderStatus.AWAITING_ORDER if body["financial_status"] == "paid" else OrderStatus.PENDING


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_order_with_duplicates_keeps_the_newest(order_paid: dict[str, Any], seed: int) -> None:
    repo, secrets = InMemoryOrders(), InMemorySecrets()
    secrets.add(SHOP, SECRET)
    receiver = WebhookReceiver(secrets, repo, lambda _: False, 1024 * 1024)
    rng = random.Random(seed)
    all_versions = {1000 + i: versions(order_paid, 1000 + i, rng) for i in range(20)}
    deliveries = [v for vs in all_versions.values() for v in vs]
    deliveries += [rng.choice(deliveries) for _ in range(len(deliveries) * 3)]  # duplicates
    rng.shuffle(deliveries)
    assert len(deliveries) >= 250
    outcomes: dict[str, int] = {}
    for topic, body in deliveries:
        raw = json.dumps(body).encode()
        result = receiver.receive(SHOP, Topic(topic), {"x-shopbase-hmac-sha256": sign_webhook(SECRET, raw)}, raw)
        outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
    assert outcomes["created"] == 20 and outcomes.get("duplicate", 0) > 0 and outcomes.get("stale", 0) > 0

    for order_id, vs in all_versions.items():
        _, newest = vs[-1]
        order = repo.get(SHOP, str(order_id))
        assert order is not None
        assert order.body_hash == body_hash(json.dumps(newest).encode())
        assert order.store_updated_at == datetime.fromisoformat(newest["updated_at"])
        assert order.status is expected_status(newest)
        # The history is a chain of allowed transitions from nothing to the current status.
        assert order.history[0].from_status is None
        for before, after in zip(order.history, order.history[1:], strict=False):
            assert after.from_status is before.to_status
        for change in order.history:
            assert (change.from_status, change.to_status) in TRANSITIONS
        assert order.history[-1].to_status is order.status
