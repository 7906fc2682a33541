"""The push's decisions over fakes: one fulfillment per package, what is already on the store, refusals that
fail the order with a reason, the retry and give-up rule. (The real client against the simulator, the stream,
the filters and the batch semantics: tests/tracking.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from shared.logic.package_attempts import RetryLater
from shared.logic.push import TRANSIENT_ATTENTION, ShopBaseClientFactory, ShopNotConnected, TrackingPusher
from shared.models.order import Customer, LineItem, Order, OrderStatus, Package, PackageLine
from shared.models.shop import ShopSecrets, ShopSettings
from shared.shopbase.errors import (
    ShopBaseAuthError,
    ShopBaseError,
    ShopBaseRateLimited,
    ShopBaseServerError,
    ShopBaseTimeout,
    ShopBaseUnprocessable,
)
from tests.unit.fakes import InMemoryOrders, InMemoryShops
from tests.unit.fakes_tracking import FakeShopBase, InMemoryLedger

SHOP = "demo-store"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class World:
    def __init__(self, max_attempts: int = 3) -> None:
        self.orders = InMemoryOrders()
        self.shops = InMemoryShops()
        self.ledger = InMemoryLedger()
        self.store = FakeShopBase(connected={SHOP})
        self.shops.put_settings(ShopSettings(shop=SHOP, notify_customer=False))
        self.pusher = TrackingPusher(self.orders, self.shops, self.ledger, self.store.client_for,
                                     max_attempts=max_attempts, clock=lambda: NOW)

    def order(self, order_id: str = "1001", *packages: Package, status: OrderStatus = OrderStatus.AWAITING_SHIPMENT,
              items: tuple[tuple[str, int], ...] = (("11", 1), ("12", 2)), **fields: Any) -> Order:
        self.store.ordered[int(order_id)] = {int(i): q for i, q in items}
        return self.orders.add(Order(
            shop=SHOP, order_id=order_id, name=f"#{order_id}", status=status, created_at=NOW,
            customer=Customer(first_name="Ana", email="ana@example.com"),
            line_items=[LineItem(id=i, title=f"Item {i}", quantity=q) for i, q in items],
            packages=list(packages), **fields))

    def push(self, order_id: str = "1001", key: str = "seq-1") -> Any:
        return self.pusher.push(SHOP, order_id, key)

    def stored(self, order_id: str = "1001") -> Order:
        found = self.orders.get(SHOP, order_id)
        assert found is not None
        return found


def package(number: str, *lines: tuple[str, int], carrier: str = "YunExpress", url: str | None = None) -> Package:
    return Package(tracking_number=number, carrier=carrier, tracking_url=url, ae_order_id="81001",
                   line_items=[PackageLine(line_item_id=i, quantity=q) for i, q in lines])


def test_one_fulfillment_per_package_then_the_order_is_fulfilled() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), url="https://track.example/YT1"),
                package("LP2", ("12", 2), carrier="China Post"))
    report = world.push()
    assert sorted(report.created) == ["LP2", "YT1"] and report.found == [] and report.refused == {}
    posts = world.store.posts()
    assert [(p["tracking_number"], p["tracking_company"], p["line_items"]) for p in posts] == [
        ("YT1", "YunExpress", [(11, 1)]), ("LP2", "China Post", [(12, 2)])]
    assert posts[0]["tracking_url"] == "https://track.example/YT1"
    assert all(p["notify_customer"] is False for p in posts)  # the shop's setting
    stored = world.stored()
    assert stored.status is OrderStatus.FULFILLED and report.status is OrderStatus.FULFILLED
    assert stored.history[-1].cause == "all_pushed"
    assert {p.fulfillment_id for p in stored.packages} == {str(f.id) for f in world.store.created(1001)}
    assert all(p.pushed_at == NOW and not p.needs_push for p in stored.packages)


def test_a_replay_creates_nothing_more() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    world.push(key="seq-1")
    calls = len(world.store.calls)
    again = world.push(key="seq-1")  # the same record delivered again: nothing pending any more
    assert again.created == again.found == [] and len(world.store.calls) == calls
    assert len(world.store.created(1001)) == 1


def test_partial_shipment_stays_in_its_tab() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1)))
    report = world.push()
    assert report.created == ["YT1"] and world.stored().status is OrderStatus.AWAITING_SHIPMENT


def test_already_on_the_store_is_recorded_not_created_again() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    world.store.fulfill_in_admin(1001, "YT1")  # by hand with our number, or an earlier attempt that landed
    report = world.push()
    assert report.found == ["YT1"] and report.created == [] and len(world.store.created(1001)) == 1
    # Created first (the package fulfils all that is left), refused as already fulfilled, then looked up once.
    assert [method for method, _ in world.store.calls] == ["POST", "GET"]
    stored = world.stored()
    assert stored.status is OrderStatus.FULFILLED
    assert stored.packages[0].fulfillment_id == str(world.store.created(1001)[0].id)


def test_lost_answer_is_found_on_the_retry() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    world.store.fail_next(ShopBaseServerError("ShopBase POST answered 502", status=502, outcome_unknown=True),
                          method="POST", applied=True)
    with pytest.raises(RetryLater):
        world.push()
    assert world.stored().attention == TRANSIENT_ATTENTION and world.stored().packages[0].needs_push
    report = world.push()  # the record delivered again
    assert report.found == ["YT1"] and len(world.store.created(1001)) == 1
    stored = world.stored()
    assert stored.status is OrderStatus.FULFILLED and stored.attention is None


def test_already_fulfilled_answer_then_found_counts_as_pushed() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    # The store applied our POST but answers "already fulfilled" (e.g. a lost answer retried by a proxy):
    # the push looks again and finds its number.
    world.store.fail_next(ShopBaseUnprocessable("ShopBase POST answered 422", status=422,
                                                errors={"base": ["Line items are already fulfilled"]}),
                          method="POST", applied=True)
    report = world.push()
    assert report.found == ["YT1"] and report.refused == {}
    assert world.stored().status is OrderStatus.FULFILLED and len(world.store.created(1001)) == 1


def test_fulfilled_by_hand_with_another_number_fails_the_order() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    world.store.fulfill_in_admin(1001, "HAND0001")
    report = world.push()
    stored = world.stored()
    assert stored.status is OrderStatus.FAILED and stored.reason_code == "push_already_fulfilled"
    assert "already fulfilled" in (stored.reason or "") and report.refused.keys() == {"YT1"}
    assert stored.packages[0].push_error == stored.reason


def test_refused_carrier_fails_the_order_with_the_reason() -> None:
    world = World()
    world.store.refused_carriers.add("Pony Express 1860")
    world.order("1001", package("YT1", ("11", 1), ("12", 2), carrier="Pony Express 1860"))
    report = world.push()  # no RetryLater: a refusal does not heal by retrying
    stored = world.stored()
    assert stored.status is OrderStatus.FAILED and stored.reason_code == "push_invalid_carrier"
    assert "Pony Express 1860" in (stored.reason or "") and stored.history[-1].cause == "push_failed"
    assert stored.packages[0].push_error is not None and not stored.packages[0].needs_push
    assert report.refused and world.ledger.calls["count_failure"] == 0


def test_fulfilled_again_after_a_refusal_clears_the_reason() -> None:
    world = World()
    world.store.refused_carriers.add("Bogus Post")
    world.order("1001", package("YT1", ("11", 1), ("12", 2), carrier="Bogus Post"))
    world.push()

    def fix(current: Order | None) -> Order | None:
        assert current is not None
        current.packages[0].push_error, current.packages[0].carrier = None, "USPS"
        return current

    world.orders.mutate(SHOP, "1001", fix)
    world.push(key="seq-2")
    stored = world.stored()
    assert stored.status is OrderStatus.FULFILLED and stored.reason is None and stored.reason_code is None


@pytest.mark.parametrize(("setup", "code", "words"), [
    (lambda w: w.store.deleted.add(1001), "push_order_deleted", "no longer exists"),
    (lambda w: w.store.connected.discard(SHOP), "push_not_connected", "not connected"),
    (lambda w: w.store.fail_next(ShopBaseAuthError("ShopBase GET answered 401", status=401)), "push_not_connected",
     "access token"),
    (lambda w: w.store.fail_next(ShopBaseError("ShopBase POST answered 400", status=400), method="POST"),
     "push_refused", "refused the fulfillment"),
])
def test_refusals_that_will_not_heal(setup: Any, code: str, words: str) -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    setup(world)
    world.push()
    stored = world.stored()
    assert stored.status is OrderStatus.FAILED and stored.reason_code == code and words in (stored.reason or "")


def test_canceled_or_fulfilled_in_store_orders_are_not_pushed() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)), status=OrderStatus.CANCELED)
    world.order("1002", package("YT2", ("11", 1), ("12", 2)), fulfilled_in_store=True)
    world.push("1001")
    world.push("1002")
    assert world.store.posts() == []
    canceled, by_hand = world.stored("1001"), world.stored("1002")
    assert canceled.status is OrderStatus.CANCELED and canceled.reason_code == "push_order_canceled"
    assert canceled.attention == canceled.reason  # the tab stays; the order is flagged
    assert by_hand.status is OrderStatus.FAILED and by_hand.reason_code == "push_already_fulfilled"


@pytest.mark.parametrize("error", [
    ShopBaseServerError("ShopBase POST answered 503", status=503),
    ShopBaseRateLimited("ShopBase POST answered 429", status=429),
    ShopBaseTimeout("ShopBase POST timed out", outcome_unknown=True),
])
def test_gives_up_after_max_attempts_with_the_reason_on_the_order(error: ShopBaseError) -> None:
    world = World(max_attempts=3)
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    world.store.fail_next(error, method="POST", times=10)
    for _ in range(2):
        with pytest.raises(RetryLater):
            world.push(key="seq-7")
        stored = world.stored()
        assert stored.status is OrderStatus.AWAITING_SHIPMENT and stored.attention == TRANSIENT_ATTENTION
    report = world.push(key="seq-7")  # the third failure of this record: recorded, the record is consumed
    assert report.gave_up and report.transient
    stored = world.stored()
    assert stored.status is OrderStatus.FAILED and stored.reason_code == "push_unavailable"
    assert "kept failing" in (stored.reason or "") and "after 3 attempts" in (stored.reason or "")
    assert world.ledger.failures[(SHOP, "push", "1001", "seq-7")] == 3
    assert world.store.created(1001) == []


def test_what_succeeded_before_a_transient_failure_is_kept() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1)), package("LP2", ("12", 2)))
    created = 0

    original = world.store._add

    def add_then_fail(*args: Any) -> Any:
        nonlocal created
        created += 1
        if created == 2:
            raise ShopBaseServerError("ShopBase POST answered 500", status=500)
        return original(*args)

    world.store._add = add_then_fail  # type: ignore[method-assign]
    with pytest.raises(RetryLater):
        world.push()
    stored = world.stored()
    assert [p.pushed_at is not None for p in stored.packages] == [True, False]
    world.store._add = original  # type: ignore[method-assign]
    world.push()
    assert world.stored().status is OrderStatus.FULFILLED and len(world.store.created(1001)) == 2


def test_missing_order_or_nothing_pending_does_nothing() -> None:
    world = World()
    assert world.push("404").created == []
    world.order("1001")
    assert world.push("1001").created == [] and world.store.calls == []


def test_client_factory_reads_the_token_and_formats_the_base_url() -> None:
    secrets = {"demo-store": ShopSecrets(webhook_secret=SecretStr("w"), shopbase_access_token=SecretStr("sbtok")),
               "no-token": ShopSecrets(webhook_secret=SecretStr("w"))}
    factory = ShopBaseClientFactory(secrets.get, "http://127.0.0.1:9/shops/{shop}", {"max_retries": 0})
    client = factory("demo-store")
    assert client.base_url == "http://127.0.0.1:9/shops/demo-store" and client.shop == "demo-store"
    assert "sbtok" not in repr(client)
    for shop in ("no-token", "unknown"):
        with pytest.raises(ShopNotConnected):
            factory(shop)


def test_one_shopbase_call_per_package_in_the_common_case() -> None:
    """Issue 11: each package fulfils what is left of its lines, so it is created without reading the store's
    fulfillments first (a repeat would be refused as already fulfilled)."""
    world = World()
    world.order("1001", package("YT1", ("11", 1)), package("LP2", ("12", 2)))
    world.order("1002", Package(tracking_number="WHOLE1", carrier="USPS"))  # no lines: the whole order
    world.push("1001")
    world.push("1002")
    assert [method for method, _ in world.store.calls] == ["POST", "POST", "POST"]
    assert world.stored("1001").status is world.stored("1002").status is OrderStatus.FULFILLED


def test_a_package_leaving_part_of_a_line_looks_first_so_a_crash_never_doubles_it() -> None:
    """Line 12 has 2; a parcel with 1 of them could be accepted twice by ShopBase (1 is still left), so the push
    reads the store's fulfillments before creating it. A crash after ShopBase created it but before our record
    (the record delivered again to a fresh push) then finds it instead of making a second."""
    world = World()
    world.order("1001", package("LP1", ("12", 1)))
    world.push("1001")
    assert [method for method, _ in world.store.calls] == ["GET", "POST"]
    # The crash: ShopBase has it, our record does not.
    stored = world.stored("1001")
    stored.packages[0].pushed_at = stored.packages[0].fulfillment_id = None
    world.orders.add(stored)
    world.store.calls.clear()
    report = world.push("1001", key="seq-2")
    assert report.found == ["LP1"] and report.created == [] and len(world.store.created(1001)) == 1
    assert [method for method, _ in world.store.calls] == ["GET"]


def test_a_crash_before_our_record_of_a_whole_line_package_is_found_after_a_refused_create() -> None:
    world = World()
    world.order("1001", package("YT1", ("11", 1), ("12", 2)))
    world.push("1001")
    stored = world.stored("1001")
    stored.packages[0].pushed_at = stored.packages[0].fulfillment_id = None
    stored.status = OrderStatus.AWAITING_SHIPMENT
    world.orders.add(stored)
    report = world.push("1001", key="seq-2")
    assert report.found == ["YT1"] and len(world.store.created(1001)) == 1

