"""Issue 10, item 1: every item the supplier shipped is fulfilled, and an order whose AliExpress orders all
shipped while some store items have no parcel is flagged with a reason (never silently stuck).

Placement merges store line items linked to the same AliExpress product + SKU into one AliExpress line
(`product_items`); the parcel then lists that SKU once, with the summed quantity."""

from __future__ import annotations

from datetime import timedelta

from shared.logic.order_sync import OrderSyncer, apply_observations, package_lines
from shared.logic.placement import product_items
from shared.logic.sync_status_map import is_unshipped_attention, owned_attention
from shared.models.order import AeOrder, LineItem, Order, OrderStatus, Package, PackageLine
from shared.models.shop import Link
from tests.unit.fakes import InMemoryLinks, InMemoryOrders
from tests.unit.fakes_sync import T0, FakeAliExpress, placed_order

BOTTLE, BLACK = "1005008453688391", "12000037020000372"
SKIRT, SKIRT_SKU = "1005006001234567", "12000036000000001"


def links() -> InMemoryLinks:
    store = InMemoryLinks()
    # Two store variants (e.g. two listings) linked to the same AliExpress product and SKU.
    for variant in ("v-black-a", "v-black-b"):
        store.put(Link(shop="s", variant_id=variant, product_id=BOTTLE, sku_attr="14:175#Black", sku_id=BLACK))
    store.put(Link(shop="s", variant_id="v-skirt", product_id=SKIRT, sku_id=SKIRT_SKU))
    return store


def world() -> tuple[InMemoryOrders, InMemoryLinks, FakeAliExpress, OrderSyncer]:
    orders, store, ali = InMemoryOrders(), links(), FakeAliExpress()
    return orders, store, ali, OrderSyncer(orders, ali, store, clock=lambda: T0)  # type: ignore[arg-type]


def shipped_order(lines: list[LineItem], *, ae_lines: list[str] | None = None) -> Order:
    ae = AeOrder(ae_order_id="91", order_status="WAIT_SELLER_SEND_GOODS",
                 line_item_ids=ae_lines if ae_lines is not None else [li.id for li in lines])
    return placed_order("1", status=OrderStatus.AWAITING_SHIPMENT, ae_orders=[ae], lines=lines)


def pairs(lines: list[PackageLine]) -> list[tuple[str, int]]:
    return [(pl.line_item_id, pl.quantity) for pl in lines]


def test_placement_merges_two_lines_of_one_sku_into_one_aliexpress_line() -> None:
    # The premise: what AliExpress receives (and ships) is one line of quantity 2.
    order = shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1),
                           LineItem(id="L2", variant_id="v-black-b", quantity=1)])
    items = product_items(order, links().batch_get("s", ["v-black-a", "v-black-b"]), None)
    assert [(i["product_id"], i["product_count"]) for i in items] == [(BOTTLE, 2)]


def test_a_merged_parcel_fulfils_every_line_of_its_sku() -> None:
    orders, _, ali, syncer = world()
    orders.add(shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1),
                              LineItem(id="L2", variant_id="v-black-b", quantity=1),
                              LineItem(id="L3", variant_id="v-skirt", quantity=1)]))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[{
        "mail_no": "LP1", "detail_node_list": [{"time_stamp": 1}],
        "package_item_list": [{"item_id": BOTTLE, "sku_id": BLACK, "quantity": 2},
                              {"item_id": SKIRT, "sku_id": SKIRT_SKU, "quantity": 1}]}])
    result = syncer.sync("s", "1")
    assert result.order is not None
    (package,) = result.order.packages
    assert pairs(package.line_items) == [("L1", 1), ("L2", 1), ("L3", 1)]
    assert result.order.attention is None
    # Once pushed, every item is covered: the push moves the order to fulfilled.
    package.pushed_at = T0
    assert result.order.all_items_pushed()


def test_the_same_variant_twice_is_split_over_both_lines() -> None:
    # ShopBase gives one variant two line items (e.g. different custom properties).
    order = shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=2),
                           LineItem(id="L2", variant_id="v-black-a", quantity=1)])
    ae = order.ae_orders[0]
    from shared.aliexpress.models import PackageItem, TrackingPackage

    parcel = TrackingPackage(mail_no="LP1", package_item_list=[PackageItem(item_id=BOTTLE, sku_id=BLACK, quantity=3)])
    assert pairs(package_lines(order, ae, parcel, lambda: links().batch_get("s", ["v-black-a"]))) == [
        ("L1", 2), ("L2", 1)]


def test_parcels_of_one_sku_shipped_apart_go_to_the_lines_not_yet_covered() -> None:
    orders, _, ali, syncer = world()
    orders.add(shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1),
                              LineItem(id="L2", variant_id="v-black-b", quantity=1)]))
    first = {"mail_no": "LP1", "detail_node_list": [{"time_stamp": 1}],
             "package_item_list": [{"item_id": BOTTLE, "sku_id": BLACK, "quantity": 1}]}
    second = {"mail_no": "LP2", "detail_node_list": [{"time_stamp": 2}],
              "package_item_list": [{"item_id": BOTTLE, "sku_id": BLACK, "quantity": 1}]}
    ali.set("91", "SELLER_PART_SEND_GOODS", "SELLER_SEND_PART_GOODS", parcels=[first])
    syncer.sync("s", "1")
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[first, second])
    result = syncer.sync("s", "1")
    assert result.order is not None
    assert [(p.tracking_number, pairs(p.line_items)) for p in result.order.packages] == [
        ("LP1", [("L1", 1)]), ("LP2", [("L2", 1)])]
    # Both parcels reported in one sync: the same split.
    orders2, _, ali2, syncer2 = world()
    orders2.add(shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1),
                               LineItem(id="L2", variant_id="v-black-b", quantity=1)]))
    ali2.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[first, second])
    again = syncer2.sync("s", "1").order
    assert again is not None
    assert [pairs(p.line_items) for p in again.packages] == [[("L1", 1)], [("L2", 1)]]


def test_all_shipped_but_an_item_without_parcel_is_flagged_with_what_to_do() -> None:
    # L2 was added to the store order after placement: no AliExpress order holds it.
    orders, _, ali, syncer = world()
    orders.add(shipped_order([LineItem(id="L1", variant_id="v-skirt", quantity=1, title="Mini skirt"),
                              LineItem(id="L2", variant_id="v-black-a", quantity=2, title="Bottle")],
                             ae_lines=["L1"]))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[{
        "mail_no": "LP1", "detail_node_list": [{"time_stamp": 1}],
        "package_item_list": [{"item_id": SKIRT, "sku_id": SKIRT_SKU, "quantity": 1}]}])
    result = syncer.sync("s", "1")
    assert result.order is not None
    attention = result.order.attention
    assert attention is not None and is_unshipped_attention(attention) and owned_attention(attention)
    assert "2 x Bottle" in attention and "L2" in attention and "fulfill" in attention.lower()
    assert result.order.status is OrderStatus.AWAITING_SHIPMENT  # tab unchanged: the seller decides
    # Further syncs keep the flag and write nothing.
    writes = orders.calls["write"]
    assert syncer.sync("s", "1").order.attention == attention  # type: ignore[union-attr]
    assert orders.calls["write"] == writes


def test_an_order_stuck_before_the_fix_is_flagged_at_its_next_sync() -> None:
    # Stored by the old matching: the parcel went to L1 only; AliExpress is finished, so it is not asked again.
    order = shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1, title="Bottle"),
                           LineItem(id="L2", variant_id="v-black-b", quantity=1, title="Bottle")])
    order.ae_orders[0].order_status, order.ae_orders[0].logistics_status = "FINISH", "BUYER_ACCEPT_GOODS"
    order.packages = [Package(tracking_number="LP1", ae_order_id="91", pushed_at=T0,
                              line_items=[PackageLine(line_item_id="L1", quantity=1)])]
    changed = apply_observations(order, [], T0 + timedelta(hours=1))
    assert changed is not None and is_unshipped_attention(changed.attention)
    assert "L2" in (changed.attention or "") and "L1" not in (changed.attention or "")


def test_no_flag_while_a_parcel_waits_for_its_number_or_part_is_unshipped() -> None:
    orders, _, ali, syncer = world()
    orders.add(shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1),
                              LineItem(id="L2", variant_id="v-skirt", quantity=1)]))
    numbered = {"mail_no": "LP1", "detail_node_list": [{"time_stamp": 1}],
                "package_item_list": [{"item_id": BOTTLE, "sku_id": BLACK, "quantity": 1}]}
    waiting = {"mail_no": "", "package_item_list": [{"item_id": SKIRT, "sku_id": SKIRT_SKU, "quantity": 1}]}
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[numbered, waiting])
    assert syncer.sync("s", "1").order.attention is None  # type: ignore[union-attr]
    ali.set("91", "SELLER_PART_SEND_GOODS", "SELLER_SEND_PART_GOODS", parcels=[numbered])
    assert syncer.sync("s", "1").order.attention is None  # type: ignore[union-attr]


def test_the_flag_clears_once_every_item_has_a_parcel() -> None:
    order = shipped_order([LineItem(id="L1", variant_id="v-black-a", quantity=1),
                           LineItem(id="L2", variant_id="v-black-b", quantity=1)])
    order.ae_orders[0].order_status = "WAIT_BUYER_ACCEPT_GOODS"
    order.packages = [Package(tracking_number="LP1", ae_order_id="91",
                              line_items=[PackageLine(line_item_id="L1", quantity=1)])]
    flagged = apply_observations(order, [], T0)
    assert flagged is not None and is_unshipped_attention(flagged.attention)
    flagged.packages.append(Package(tracking_number="M1", source="manual",
                                    line_items=[PackageLine(line_item_id="L2", quantity=1)]))
    cleared = apply_observations(flagged, [], T0)
    assert cleared is not None and cleared.attention is None


def test_fulfilling_the_missing_items_by_hand_clears_the_flag_at_once() -> None:
    """Once fulfilled, the order leaves the sync's sight: the manual fulfillment itself updates the flag."""
    from shared.logic.manual_fulfillment import ManualFulfillment, add_manual_package

    orders, _, ali, syncer = world()
    orders.add(shipped_order([LineItem(id="L1", variant_id="v-skirt", quantity=1, title="Mini skirt"),
                              LineItem(id="L2", variant_id="v-black-a", quantity=2, title="Bottle"),
                              LineItem(id="L3", variant_id="v-black-b", quantity=1, title="Cup")],
                             ae_lines=["L1"]))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[{
        "mail_no": "LP1", "detail_node_list": [{"time_stamp": 1}],
        "package_item_list": [{"item_id": SKIRT, "sku_id": SKIRT_SKU, "quantity": 1}]}])
    assert is_unshipped_attention(syncer.sync("s", "1").order.attention)  # type: ignore[union-attr]
    first = add_manual_package(orders, "s", "1", ManualFulfillment.model_validate(
        {"tracking_number": "MANUAL1", "carrier": "USPS", "line_items": [{"id": "L2", "quantity": 2}]}))
    still = first.order.attention
    assert is_unshipped_attention(still) and "L3" in (still or "") and "L2" not in (still or "")
    second = add_manual_package(orders, "s", "1", ManualFulfillment.model_validate(
        {"tracking_number": "MANUAL2", "carrier": "USPS", "line_items": [{"id": "L3", "quantity": 1}]}))
    assert second.order.attention is None
