"""Issue 10, item 1, against the simulators: two store line items linked to the same AliExpress product +
SKU, merged by placement into one AliExpress line, shipped by the AliExpress simulator (in one parcel or
over two), synced, pushed to the ShopBase simulator: every item is fulfilled. An order AliExpress shipped
completely while a store item has no parcel is flagged with what to do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import wiring
from shared.logic.placement import product_items
from shared.logic.sync_status_map import is_unshipped_attention
from shared.models.order import AeOrder, LineItem, Order, OrderStatus
from shared.models.shop import Link
from simulators.shopbase.server import ShopBaseSimulator
from tests.sync.conftest import ADDRESS, BOTTLE, BOTTLE_BLACK, SKIRT, SKIRT_SKU, SKU_ATTR, World

DAY = 86400.0


@pytest.fixture
def shopbase(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShopBaseSimulator]:
    simulator = ShopBaseSimulator(seed=11)
    simulator.start()
    simulator.create_shop(world.shop, access_token="sbtok")  # the token the `shop` fixture stored
    monkeypatch.setenv("SHOPBASE_BASE_URL", f"{simulator.url}/shops/{{shop}}")
    wiring.reset()
    wiring.override("shopbase_client_options", {"timeout": (2.0, 5.0), "backoff_base": 0.01})
    yield simulator
    simulator.stop()
    wiring.reset()


def link_both_to_black(world: World) -> None:
    for variant in ("v-black-a", "v-black-b"):
        world.links.put(Link(shop=world.shop, variant_id=variant, product_id=BOTTLE,
                             sku_attr=SKU_ATTR[BOTTLE_BLACK], sku_id=BOTTLE_BLACK))
    world.links.put(Link(shop=world.shop, variant_id="v-skirt", product_id=SKIRT, sku_attr="", sku_id=SKIRT_SKU))


def place_as_placement_does(world: World, order_id: str, lines: list[LineItem]) -> Order:
    """The order placed with placement's own product items (lines of one SKU merged), stored as placement
    records it: one AliExpress order covering every line."""
    order = Order(shop=world.shop, order_id=order_id, name=f"#{order_id}", status=OrderStatus.AWAITING_PAYMENT,
                  created_at=world.now(), line_items=lines)
    links = world.links.batch_get(world.shop, [li.variant_id for li in lines if li.variant_id])
    items = product_items(order, links, None)
    ae_ids = world.client.create_order(world.token, out_order_id=f"sb-{order_id}", logistics_address=ADDRESS,
                                       product_items=items)
    assert len(ae_ids) == 1
    order.ae_orders = [AeOrder(ae_order_id=ae_ids[0], line_item_ids=[li.id for li in lines])]
    stored = world.orders.mutate(world.shop, order_id, lambda _: order, assume_absent=True).order
    assert stored is not None
    return stored


def covered(order: Order) -> dict[str, int]:
    done: dict[str, int] = {}
    for package in order.packages:
        for line in package.line_items:
            done[line.line_item_id] = done.get(line.line_item_id, 0) + line.quantity
    return done


def test_one_parcel_of_a_merged_sku_fulfils_both_store_items(world: World, shopbase: ShopBaseSimulator) -> None:
    link_both_to_black(world)
    store: dict[str, Any] = shopbase.make_order(world.shop, n_items=2, paid=True, emit=False)
    lines = [LineItem(id=str(li["id"]), variant_id=variant, title=li["title"], quantity=int(li["quantity"]))
             for li, variant in zip(store["line_items"], ("v-black-a", "v-black-b"), strict=True)]
    order = place_as_placement_does(world, str(store["id"]), lines)
    ae_id = order.ae_orders[0].ae_order_id
    (ae_line,) = world.sim.order(ae_id)["lines"]  # AliExpress holds ONE line: the two items merged
    assert ae_line["quantity"] == sum(li.quantity for li in lines)
    world.sim.pay([ae_id])
    world.sim.ship(ae_id, mail_no="LP00MERGED01")

    world.syncer.sync(world.shop, order.order_id)
    synced = world.get(order.order_id)
    assert covered(synced) == {li.id: li.quantity for li in lines}
    assert synced.attention is None

    report = wiring.tracking_pusher().push(world.shop, order.order_id, "test-1")
    assert report.created == ["LP00MERGED01"] and not report.refused
    assert world.get(order.order_id).status is OrderStatus.FULFILLED
    assert shopbase.get_order(world.shop, int(store["id"]))["fulfillment_status"] == "fulfilled"


def test_a_merged_sku_shipped_in_two_parcels_covers_each_item_once(world: World) -> None:
    link_both_to_black(world)
    world.sim.configure(packages_per_order=2)  # the supplier splits the line over two parcels
    lines = [LineItem(id="L1", variant_id="v-black-a", quantity=1),
             LineItem(id="L2", variant_id="v-black-b", quantity=1)]
    order = place_as_placement_does(world, "7001", lines)
    ae_id = order.ae_orders[0].ae_order_id
    world.sim.pay([ae_id])
    world.sim.advance(DAY + 1)  # the first parcel ships
    world.syncer.sync(world.shop, "7001")
    assert covered(world.get("7001")) == {"L1": 1}
    world.sim.advance(DAY)  # the second one
    world.syncer.sync(world.shop, "7001")
    synced = world.get("7001")
    assert [[(pl.line_item_id, pl.quantity) for pl in p.line_items] for p in synced.packages] == [[("L1", 1)],
                                                                                              [("L2", 1)]]
    assert synced.attention is None


def test_everything_shipped_but_an_item_no_aliexpress_order_holds_is_flagged(world: World) -> None:
    link_both_to_black(world)
    order = place_as_placement_does(world, "7002", [LineItem(id="L1", variant_id="v-skirt", quantity=1)])
    ae_id = order.ae_orders[0].ae_order_id

    def add_a_line(current: Order | None) -> Order | None:
        # The store order gained an item after placement (edited in ShopBase): no AliExpress order holds it.
        assert current is not None
        current.line_items.append(LineItem(id="L2", variant_id="v-black-a", quantity=1, title="Black bottle"))
        return current

    world.orders.mutate(world.shop, "7002", add_a_line)
    world.sim.pay([ae_id])
    world.sim.ship(ae_id, mail_no="LP00ONLYSKIRT")
    world.syncer.sync(world.shop, "7002")
    synced = world.get("7002")
    assert covered(synced) == {"L1": 1}
    assert is_unshipped_attention(synced.attention) and "1 x Black bottle" in (synced.attention or "")
    # The seller's Manage Orders row shows it.
    row = next(o for o in wiring.orders().list_orders(world.shop).orders if o.order_id == "7002")
    assert row.attention == synced.attention
    # Further syncs (delivered on AliExpress) keep it, with no new write.
    world.sim.deliver(ae_id)
    world.syncer.sync(world.shop, "7002")
    world.writes.order_writes = 0
    world.syncer.sync(world.shop, "7002")
    assert world.writes.order_writes == 0 and world.get("7002").attention == synced.attention
