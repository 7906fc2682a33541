"""Auto-place decisions: which orders are sent to PlaceOrdersQueue, the cached per-shop switch, no silent drop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.logic.auto_place import CLOSED, SETTINGS_TTL_SECONDS, AutoPlacer
from shared.models.order import Order, OrderStatus, Placement
from shared.models.shop import ShopSettings
from shared.observability import metrics
from tests.unit.fakes import InMemoryShops
from tests.unit.fakes_intake import RecordingQueue

SHOP = "demo-store"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def order(status: OrderStatus = OrderStatus.AWAITING_ORDER, **fields: object) -> Order:
    return Order.model_validate({"shop": SHOP, "order_id": "1", "status": status,
                                 "created_at": datetime(2026, 11, 20, tzinfo=UTC), **fields})


def claimed(request_id: str | None) -> Placement:
    return Placement(out_order_id=f"{SHOP}-1-1", claimed_at=datetime(2026, 11, 20, tzinfo=UTC), request_id=request_id)


@pytest.fixture
def shops() -> InMemoryShops:
    shops = InMemoryShops()
    shops.put_settings(ShopSettings(shop=SHOP, auto_place=True))
    shops.put_settings(ShopSettings(shop="manual-store", auto_place=False))
    shops.calls.clear()
    return shops


def test_a_paid_unplaced_order_of_an_auto_place_shop_is_queued(shops: InMemoryShops) -> None:
    queue = RecordingQueue()
    assert AutoPlacer(shops, queue.send)(order()) is True
    assert queue.sent == [(SHOP, ["1"], 0)]
    # A seller's retry closed the earlier reference: it may be placed again.
    assert AutoPlacer(shops, queue.send)(order(placement=claimed(CLOSED))) is True


@pytest.mark.parametrize("case", [
    None,
    order(OrderStatus.PENDING),
    order(OrderStatus.AWAITING_PAYMENT),
    order(OrderStatus.CANCELED),
])
def test_orders_not_awaiting_order_cost_no_read(shops: InMemoryShops, case: Order | None) -> None:
    queue = RecordingQueue()
    assert AutoPlacer(shops, queue.send)(case) is False
    assert queue.sent == [] and shops.calls["get_settings"] == 0


@pytest.mark.parametrize("request_id", [None, "held:1700000000.000", "released"])
def test_an_order_with_a_placement_under_way_or_in_doubt_is_the_placers(shops: InMemoryShops,
                                                                        request_id: str | None) -> None:
    queue = RecordingQueue()
    assert AutoPlacer(shops, queue.send)(order(placement=claimed(request_id))) is False
    assert queue.sent == []


def test_fulfilled_by_hand_and_manual_shops_are_not_queued(shops: InMemoryShops) -> None:
    queue = RecordingQueue()
    placer = AutoPlacer(shops, queue.send)
    assert placer(order(fulfilled_in_store=True)) is False
    assert placer(order(shop="manual-store")) is False
    assert placer(order(shop="unknown-store")) is False
    assert queue.sent == []


def test_the_switch_is_read_once_per_ttl(shops: InMemoryShops) -> None:
    clock, queue = Clock(), RecordingQueue()
    placer = AutoPlacer(shops, queue.send, clock=clock)
    for _ in range(3):
        placer(order())
    assert shops.calls["get_settings"] == 1 and len(queue.sent) == 3
    shops.update_settings(SHOP, auto_place=False)
    clock.now += SETTINGS_TTL_SECONDS - 1
    assert placer(order()) is True  # still the cached switch
    clock.now += 2
    assert placer(order()) is False and shops.calls["get_settings"] == 2


def test_without_a_queue_it_is_loud_not_silent(shops: InMemoryShops) -> None:
    metrics.clear_metrics()
    assert AutoPlacer(shops, None)(order()) is False
    assert "AutoPlaceNotConfigured" in metrics.metric_set
    metrics.clear_metrics()


def test_a_failed_send_raises(shops: InMemoryShops) -> None:
    with pytest.raises(RuntimeError, match="SQS down"):
        AutoPlacer(shops, RecordingQueue(fail=RuntimeError("SQS down")).send)(order())
