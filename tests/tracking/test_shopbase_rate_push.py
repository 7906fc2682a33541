"""push_tracking with ShopBase's per-shop limit shared by every container (issue 11): the wiring gives the
push's clients the shared limiter, a push costs one limiter write per ShopBase call besides its one order read
and write, its records never reach the stream consumers, and a throttled limiter table never fails a push."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared import wiring
from shared.data.shopbase_rate import SORT_KEY, ShopBaseRateStore
from shared.models.order import OrderStatus
from shared.shopbase.throttle import LeakyBucketThrottle, SharedShopThrottle, throttle_for
from simulators.shopbase.server import ShopBaseSimulator
from tests.tracking.conftest import SHOP, all_lines, our_order, package, save, ship, store_order, two_packages_shipped
from tests.tracking.streams import Mapping, StreamTap, pump


class Calls:
    """DynamoDB requests on one client by operation (retries included, as test_push.py counts them), and API
    calls by operation and the kind of item (its sort key's prefix: ORDER, SBRATE)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.items: Counter[tuple[str, str]] = Counter()

    def request(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def call(self, params: Any, model: Any, **_: Any) -> None:
        key = params.get("Key") or params.get("Item") or {}
        self.items[(model.name, str(key.get("sk", "")).split("#")[0])] += 1

    def hook(self, client: Any, register: bool = True) -> None:
        events = client.meta.events
        for event, handler in (("before-call.dynamodb", self.request), ("provide-client-params.dynamodb", self.call)):
            (events.register if register else events.unregister)(event, handler)


def limiter_client() -> Any:
    store = wiring.shopbase_rate_limits().store  # type: ignore[union-attr]
    assert isinstance(store, ShopBaseRateStore)
    return store.table.meta.client


def test_the_wiring_gives_production_clients_the_shared_limit(env: None, sim: ShopBaseSimulator) -> None:
    throttle = wiring.shopbase_clients()(SHOP).throttle
    assert isinstance(throttle, SharedShopThrottle) and throttle.shop == SHOP
    assert throttle.local is throttle_for(sim.shop_url(SHOP))  # its parameters and fallback: the process bucket
    assert (throttle.capacity, throttle.leak_rate) == (30, 1000.0)
    assert wiring.shopbase_clients()(SHOP).throttle is throttle  # one per shop per container
    assert limiter_client() is not wiring.table().meta.client  # its own client: short timeouts, one retry
    wiring.override("shopbase_rate_limits", None)
    assert isinstance(wiring.shopbase_clients()(SHOP).throttle, LeakyBucketThrottle)


def test_one_limiter_write_per_shopbase_call_beside_one_order_read_and_write(
        env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping) -> None:
    """test_push.py::test_one_order_read_one_write_and_one_shopbase_call_per_package, with both clients counted:
    the data path's (the order: GetItem + PutItem, as there) and the limiter's (one UpdateItem per call)."""
    order_id, records = two_packages_shipped(sim, tap, "YT000000000301", "LP000000000302")
    data, limiter = Calls(), Calls()
    clients = ((wiring.table().meta.client, data), (limiter_client(), limiter))
    for client, calls in clients:
        calls.hook(client)
    before = sim.stats()["shops"][SHOP]["calls"]
    try:
        push.deliver(records)
    finally:
        for client, calls in clients:
            calls.hook(client, register=False)
    after = sim.stats()["shops"][SHOP]["calls"]
    shopbase_calls = {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}
    assert sum(shopbase_calls.values()) == 2 and all("POST" in route for route in shopbase_calls), shopbase_calls
    assert data.names == ["GetItem", "PutItem"] and data.items == {("GetItem", "ORDER"): 1, ("PutItem", "ORDER"): 1}
    assert limiter.names == ["UpdateItem", "UpdateItem"] and limiter.items == {("UpdateItem", SORT_KEY): 2}
    assert ShopBaseRateStore(wiring.table()).tat(SHOP) is not None
    stored = wiring.orders().get(SHOP, order_id)
    assert stored is not None and stored.status is OrderStatus.FULFILLED
    # The limiter's item changed twice on the table's stream; the consumers' filters (entity = order) drop it.
    rate_records = [r for r in tap.read() if r["dynamodb"]["Keys"]["sk"]["S"] == SORT_KEY]
    assert rate_records and not any(push.accepts(r) for r in rate_records)


def test_a_throttled_limiter_table_never_fails_a_push(env: None, sim: ShopBaseSimulator, tap: StreamTap,
                                                      push: Mapping) -> None:
    class Throttled:
        status_code = 400
        headers: dict[str, str] = {}

    error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"},
             "ResponseMetadata": {"HTTPStatusCode": 400}}
    limiter_client().meta.events.register("before-call.dynamodb.UpdateItem", lambda **_: (Throttled(), error))
    stores = [store_order(sim, n_items=1) for _ in range(3)]
    for i, store in enumerate(stores):
        save(our_order(store))
        ship(str(store["id"]), package(f"YT00000000031{i}", all_lines(store)))
    pump(tap, push)
    for store in stores:
        assert len(sim.get_order(SHOP, int(store["id"]))["fulfillments"]) == 1
        stored = wiring.orders().get(SHOP, str(store["id"]))
        assert stored is not None and stored.status is OrderStatus.FULFILLED
    assert ShopBaseRateStore(wiring.table()).tat(SHOP) is None  # nothing was written: the process bucket paced
