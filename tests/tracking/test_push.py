"""push_tracking through the stream: real writes -> moto stream -> template filter -> handler -> simulator."""

from __future__ import annotations

import time
from typing import Any

from shared import wiring
from shared.models.order import OrderStatus
from shared.shopbase.throttle import reset_throttles, throttle_for
from simulators.shopbase.server import ShopBaseSimulator
from tests.tracking.conftest import (
    SHOP,
    all_lines,
    client_options,
    our_order,
    package,
    save,
    sent_emails,
    ship,
    store_order,
    two_packages_shipped,
)
from tests.tracking.streams import Mapping, StreamTap, pump


def fulfillments(sim: ShopBaseSimulator, order_id: str) -> list[dict[str, Any]]:
    return list(sim.get_order(SHOP, int(order_id))["fulfillments"])


def test_one_fulfillment_per_package_then_fulfilled(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                    push: Mapping, notify: Mapping) -> None:
    store = store_order(sim, n_items=2)
    (a_id, a_qty), (b_id, b_qty) = all_lines(store)
    order = save(our_order(store))
    pump(tap, push, notify)
    assert fulfillments(sim, order.order_id) == []  # no package yet: the filter lets nothing through
    ship(order.order_id, package("YT000000000001", [(a_id, a_qty)], url="https://track.example/YT1"),
         package("LP000000000002", [(b_id, b_qty)], carrier="China Post"))
    pump(tap, push, notify)

    created = fulfillments(sim, order.order_id)
    assert sorted(f["tracking_number"] for f in created) == ["LP000000000002", "YT000000000001"]
    by_number = {f["tracking_number"]: f for f in created}
    assert [(li["id"], li["quantity"]) for li in by_number["YT000000000001"]["line_items"]] == [(int(a_id), a_qty)]
    assert [(li["id"], li["quantity"]) for li in by_number["LP000000000002"]["line_items"]] == [(int(b_id), b_qty)]
    assert by_number["YT000000000001"]["tracking_url"] == "https://track.example/YT1"
    assert by_number["LP000000000002"]["tracking_company"] == "China Post"
    assert all(f["notify_customer"] is False for f in created)  # the shop's setting
    stored = wiring.orders().get(SHOP, order.order_id)
    assert stored is not None and stored.status is OrderStatus.FULFILLED
    assert stored.history[-1].cause == "all_pushed"
    assert {p.fulfillment_id for p in stored.packages} == {str(f["id"]) for f in created}
    assert all(p.notified_at is not None for p in stored.packages)
    assert len(sent_emails()) == 2


def test_partial_shipment_stays_in_its_tab(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                           notify: Mapping) -> None:
    store = store_order(sim, n_items=2)
    (a_id, a_qty), _ = all_lines(store)
    order = save(our_order(store))
    ship(order.order_id, package("YT000000000011", [(a_id, a_qty)]))
    pump(tap, push, notify)
    stored = wiring.orders().get(SHOP, order.order_id)
    assert stored is not None and stored.status is OrderStatus.AWAITING_SHIPMENT
    assert len(fulfillments(sim, order.order_id)) == 1
    assert sim.get_order(SHOP, int(order.order_id))["fulfillment_status"] == "partial"


def test_duplicated_and_replayed_batches_make_no_second_fulfillment(env: None, sim: ShopBaseSimulator,
                                                                    tap: StreamTap, push: Mapping,
                                                                    notify: Mapping) -> None:
    orders = []
    for i in range(3):
        store = store_order(sim, n_items=1)
        order = save(our_order(store))
        ship(order.order_id, package(f"YT00000000010{i}", all_lines(store)))
        orders.append(order.order_id)
    seen = pump(tap, push, notify)
    # Every record twice in one batch, then the whole history replayed twice more.
    doubled = [r for record in seen for r in (record, record)]
    push.deliver(doubled)
    notify.deliver(doubled)
    for _ in range(2):
        push.deliver(seen)
        notify.deliver(seen)
    pump(tap, push, notify)
    for order_id in orders:
        assert len(fulfillments(sim, order_id)) == 1
    assert len(sent_emails()) == 3
    assert push.on_failure == [] and notify.on_failure == []


def test_timeout_after_the_store_applied_it_is_not_pushed_twice(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                                push: Mapping, notify: Mapping) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    # The POST is applied but answered after the client's 0.5 s timeout; then a lost 500 answer.
    sim.fail_next(1, stall=True, stall_seconds=1.0, method="POST", route="fulfillments")
    ship(order.order_id, package("YT000000000201", all_lines(store)))
    pump(tap, push, notify)
    created = fulfillments(sim, order.order_id)
    assert len(created) == 1
    stored = wiring.orders().get(SHOP, order.order_id)
    assert stored is not None and stored.status is OrderStatus.FULFILLED
    assert stored.packages[0].fulfillment_id == str(created[0]["id"])
    assert stored.attention is None  # the "retrying" flag is cleared once it worked
    assert push.invocations >= 2 and push.on_failure == []


def test_lost_5xx_answer_is_found_on_the_retry(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                              notify: Mapping) -> None:
    store = store_order(sim, n_items=1)
    order = save(our_order(store))
    sim.fail_next(1, status=502, apply=True, method="POST", route="fulfillments")
    ship(order.order_id, package("YT000000000301", all_lines(store)))
    pump(tap, push, notify)
    assert len(fulfillments(sim, order.order_id)) == 1
    assert len(sent_emails()) == 1


def test_unhealable_refusals_fail_the_order_with_a_reason(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                          push: Mapping, notify: Mapping) -> None:
    deleted, bad_carrier, by_hand_same, by_hand_other = (store_order(sim, n_items=1) for _ in range(4))
    for store in (deleted, bad_carrier, by_hand_same, by_hand_other):
        save(our_order(store))
    sim.delete_order(SHOP, int(deleted["id"]))
    sim.fulfill_in_admin(SHOP, int(by_hand_same["id"]), tracking_number="YT000000000403", tracking_company="UPS")
    sim.fulfill_in_admin(SHOP, int(by_hand_other["id"]), tracking_number="HAND00000001", tracking_company="UPS")
    ship(str(deleted["id"]), package("YT000000000401", all_lines(deleted)))
    ship(str(bad_carrier["id"]), package("YT000000000402", all_lines(bad_carrier), carrier="Pony Express 1860"))
    ship(str(by_hand_same["id"]), package("YT000000000403", all_lines(by_hand_same)))
    ship(str(by_hand_other["id"]), package("YT000000000404", all_lines(by_hand_other)))
    pump(tap, push, notify)
    repo = wiring.orders()

    def stored(store: dict[str, Any]) -> Any:
        found = repo.get(SHOP, str(store["id"]))
        assert found is not None
        return found

    assert stored(deleted).status is OrderStatus.FAILED and stored(deleted).reason_code == "push_order_deleted"
    assert "deleted" in (stored(deleted).reason or "")
    assert stored(bad_carrier).status is OrderStatus.FAILED
    assert stored(bad_carrier).reason_code == "push_invalid_carrier"
    assert "Pony Express 1860" in (stored(bad_carrier).reason or "")
    assert stored(bad_carrier).packages[0].push_error is not None
    assert stored(by_hand_same).status is OrderStatus.FULFILLED  # the store already shows our number
    assert stored(by_hand_other).status is OrderStatus.FAILED
    assert stored(by_hand_other).reason_code == "push_already_fulfilled"
    assert len(fulfillments(sim, str(by_hand_other["id"]))) == 1
    # Refusals are recorded, not retried: nothing for the on-failure queue, one invocation per record.
    assert push.on_failure == [] and push.function_errors == 0
    assert len(sent_emails()) == 1  # only the package that is on the store


def test_shopbase_down_gives_up_on_the_order_not_on_the_shard(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                              push: Mapping, notify: Mapping) -> None:
    down, fine = store_order(sim, n_items=1), store_order(sim, n_items=1)
    save(our_order(down))
    save(our_order(fine))
    sim.fail_next(100, status=503, method="POST", route="fulfillments", shop=SHOP)
    ship(str(down["id"]), package("YT000000000501", all_lines(down)))
    pump(tap, push, notify)
    sim.clear_faults()
    ship(str(fine["id"]), package("YT000000000502", all_lines(fine)))
    pump(tap, push, notify)
    failed = wiring.orders().get(SHOP, str(down["id"]))
    assert failed is not None and failed.status is OrderStatus.FAILED
    assert failed.reason_code == "push_unavailable" and "kept failing" in (failed.reason or "")
    # The record was retried (4 failed deliveries), then consumed with the failure on the order:
    # the shard moved on and nothing had to go to the on-failure queue.
    assert push.on_failure == []
    fulfilled = wiring.orders().get(SHOP, str(fine["id"]))
    assert fulfilled is not None and fulfilled.status is OrderStatus.FULFILLED


def test_a_poison_record_does_not_block_its_shard(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                  push: Mapping, notify: Mapping) -> None:
    stores = [store_order(sim, n_items=1) for _ in range(4)]
    for i, store in enumerate(stores):
        save(our_order(store))
        ship(str(store["id"]), package(f"YT00000000060{i}", all_lines(store)))
    records = tap.read()
    passing = [r for r in records if push.accepts(r)]
    between = str(int(passing[0]["dynamodb"]["SequenceNumber"]) + 1)
    poison = {**passing[1], "dynamodb": {**passing[1]["dynamodb"], "SequenceNumber": between,
                                         "NewImage": {**passing[1]["dynamodb"]["NewImage"],
                                                      "order_id": {"N": "12"}}}}
    push.deliver([passing[0], poison, *passing[1:]])
    assert len(push.on_failure) == 1 and push.on_failure[0]["batchSize"] >= 1
    assert push.on_failure[0]["startSequenceNumber"] == between
    for store in stores:
        assert len(fulfillments(sim, str(store["id"]))) == 1


def test_leaky_bucket_429s_are_waited_out(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                          notify: Mapping) -> None:
    # The store allows a burst of 1 and 4 requests/s; our client believes in a much larger bucket, so its
    # POST right after the GET meets a real 429 and must wait Retry-After and retry.
    sim.set_rate_limit(SHOP, burst=1, leak_rate=4.0)
    wiring.override("shopbase_client_options", client_options(sleep=time.sleep))
    reset_throttles()
    throttle_for(sim.shop_url(SHOP), capacity=1000, leak_rate=1000.0)
    stores = [store_order(sim, n_items=1) for _ in range(5)]
    for i, store in enumerate(stores):
        save(our_order(store))
        ship(str(store["id"]), package(f"YT00000000070{i:02d}", all_lines(store)))
    pump(tap, push, notify)
    assert sim.stats()["shops"][SHOP]["rate_limited"] > 0
    for store in stores:
        assert len(fulfillments(sim, str(store["id"]))) == 1


def test_client_bucket_matching_the_store_meets_no_429(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                       push: Mapping, notify: Mapping) -> None:
    sim.set_rate_limit(SHOP, burst=6, leak_rate=40.0)
    wiring.override("shopbase_client_options", client_options(sleep=time.sleep))
    reset_throttles()
    throttle_for(sim.shop_url(SHOP), capacity=6, leak_rate=40.0)
    stores = [store_order(sim, n_items=1) for _ in range(10)]
    for i, store in enumerate(stores):
        save(our_order(store))
        ship(str(store["id"]), package(f"YT00000000080{i:02d}", all_lines(store)))
    pump(tap, push, notify)
    assert sim.stats()["shops"][SHOP]["rate_limited"] == 0
    assert sum(len(fulfillments(sim, str(s["id"]))) for s in stores) == 10


class DynamoCalls:
    """DynamoDB API calls made through the wiring's table client, by operation."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)


def test_one_order_read_one_write_and_one_shopbase_call_per_package(env: None, sim: ShopBaseSimulator,
                                                                    tap: StreamTap, push: Mapping) -> None:
    """Issue 11, counted through moto and the simulator: a push of an order's two packages reads the order once,
    writes it once (the shop's settings come from the consumer's cache) and makes one ShopBase call per package."""
    order_id, records = two_packages_shipped(sim, tap, "YT000000000201", "LP000000000202")
    calls = DynamoCalls()
    client = wiring.table().meta.client
    client.meta.events.register("before-call.dynamodb", calls)
    before = sim.stats()["shops"][SHOP]["calls"]
    try:
        push.deliver(records)
    finally:
        client.meta.events.unregister("before-call.dynamodb", calls)
    after = sim.stats()["shops"][SHOP]["calls"]
    shopbase_calls = {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}
    assert calls.names == ["GetItem", "PutItem"]
    assert sum(shopbase_calls.values()) == 2 and all("POST" in route for route in shopbase_calls), shopbase_calls
    stored = wiring.orders().get(SHOP, order_id)
    assert stored is not None and stored.status is OrderStatus.FULFILLED
    assert len(fulfillments(sim, order_id)) == 2
