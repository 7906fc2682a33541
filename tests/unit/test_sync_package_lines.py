"""Package-to-line matching: which store line items (and how many) a parcel holds, through the variant
links (product + SKU); one supplier or several, merged and capped quantities, parcels without item lists."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.aliexpress.models import PackageItem, TrackingNode, TrackingPackage
from shared.logic.order_sync import observed_package, package_lines
from shared.models.order import AeOrder, LineItem, Order, OrderStatus
from shared.models.shop import Link

BOTTLE, SKIRT = "1005008453688391", "1005006001234567"
SILVER, BLACK, SKIRT_SKU = "12000037020000371", "12000037020000372", "12000036000000001"
LINKS = {"v-silver": Link(shop="s", variant_id="v-silver", product_id=BOTTLE, sku_id=SILVER),
         "v-black": Link(shop="s", variant_id="v-black", product_id=BOTTLE, sku_id=BLACK),
         "v-skirt": Link(shop="s", variant_id="v-skirt", product_id=SKIRT, sku_id=SKIRT_SKU),
         "v-any-bottle": Link(shop="s", variant_id="v-any-bottle", product_id=BOTTLE)}


def order(lines: list[tuple[str, str, int]], ae_orders: list[AeOrder]) -> Order:
    return Order(shop="s", order_id="1", status=OrderStatus.AWAITING_SHIPMENT,
                 created_at=datetime(2026, 11, 1, tzinfo=UTC),
                 line_items=[LineItem(id=i, variant_id=v, quantity=q) for i, v, q in lines], ae_orders=ae_orders)


def parcel(*items: tuple[str, str | None, int | None], mail_no: str = "LP1") -> TrackingPackage:
    return TrackingPackage(mail_no=mail_no, package_item_list=[
        PackageItem(item_id=product, sku_id=sku, quantity=qty) for product, sku, qty in items])


def links() -> dict[str, Link]:
    return LINKS


def pairs(lines: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(pl.line_item_id, pl.quantity) for pl in lines]


def test_parcel_lines_map_through_links_and_cap_quantities() -> None:
    # One AliExpress order with both bottle colours; the parcel holds 5 black (3 ordered): capped at 3.
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-silver", 1), ("L2", "v-black", 3)], [ae])
    assert pairs(package_lines(o, ae, parcel((BOTTLE, BLACK, 5)), links)) == [("L2", 3)]


def test_the_sku_tells_apart_two_variants_of_one_product() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-silver", 2), ("L2", "v-black", 1)], [ae])
    assert pairs(package_lines(o, ae, parcel((BOTTLE, SILVER, 1)), links)) == [("L1", 1)]
    both = package_lines(o, ae, parcel((BOTTLE, SILVER, 2), (BOTTLE, BLACK, 1)), links)
    assert pairs(both) == [("L1", 2), ("L2", 1)]


def test_merged_items_of_one_line_add_up_to_at_most_what_was_ordered() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-silver", 3), ("L2", "v-skirt", 1)], [ae])
    # Two item rows for the same SKU (AliExpress lists them apart): merged into one line, 1 + 1.
    assert pairs(package_lines(o, ae, parcel((BOTTLE, SILVER, 1), (BOTTLE, SILVER, 1)), links)) == [("L1", 2)]
    # 2 + 2 of 3 ordered: capped.
    assert pairs(package_lines(o, ae, parcel((BOTTLE, SILVER, 2), (BOTTLE, SILVER, 2)), links)) == [("L1", 3)]
    # An item row without a quantity counts the whole line.
    assert pairs(package_lines(o, ae, parcel((SKIRT, SKIRT_SKU, None)), links)) == [("L2", 1)]


def test_a_link_without_sku_matches_any_sku_of_its_product() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-any-bottle", 2), ("L2", "v-skirt", 1)], [ae])
    assert pairs(package_lines(o, ae, parcel((BOTTLE, BLACK, 1)), links)) == [("L1", 1)]
    # A parcel item without a SKU matches the product.
    o2 = order([("L1", "v-silver", 2), ("L2", "v-skirt", 1)], [ae])
    assert pairs(package_lines(o2, ae, parcel((BOTTLE, None, 2)), links)) == [("L1", 2)]


def test_parcel_without_item_list_is_the_whole_aliexpress_order() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-silver", 2), ("L2", "v-black", 1), ("L3", "v-skirt", 1)], [ae])
    assert pairs(package_lines(o, ae, TrackingPackage(mail_no="LP1"), links)) == [("L1", 2), ("L2", 1)]


def test_unmatched_items_record_the_whole_aliexpress_order() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-silver", 2), ("L2", "v-black", 1)], [ae])
    assert pairs(package_lines(o, ae, parcel(("999", "1", 1)), links)) == [("L1", 2), ("L2", 1)]
    # No links at all (deleted since placing): the same.
    assert pairs(package_lines(o, ae, parcel((BOTTLE, SILVER, 1)), dict)) == [("L1", 2), ("L2", 1)]


def test_one_line_needs_no_links_and_is_capped() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1"])
    o = order([("L1", "v-silver", 2)], [ae])
    calls: list[int] = []

    def counted() -> dict[str, Link]:
        calls.append(1)
        return LINKS

    assert pairs(package_lines(o, ae, parcel(("anything", None, 5)), counted)) == [("L1", 2)]
    assert pairs(package_lines(o, ae, parcel(("anything", None, 1)), counted)) == [("L1", 1)]
    assert pairs(package_lines(o, ae, parcel(("anything", None, None)), counted)) == [("L1", 2)]
    assert calls == []  # the links are read only when several lines must be told apart


def test_the_only_aliexpress_order_covers_every_line() -> None:
    ae = AeOrder(ae_order_id="9")  # placement did not record its lines
    o = order([("L1", "v-silver", 1), ("L2", "v-skirt", 2)], [ae])
    assert pairs(package_lines(o, ae, TrackingPackage(mail_no="LP1"), links)) == [("L1", 1), ("L2", 2)]


def test_split_suppliers_without_recorded_lines_map_nothing() -> None:
    # Two AliExpress orders, neither knows its lines (child_line_ids fills them in during the sync).
    bottle, skirt = AeOrder(ae_order_id="9"), AeOrder(ae_order_id="8")
    o = order([("L1", "v-silver", 1), ("L2", "v-skirt", 2)], [bottle, skirt])
    assert package_lines(o, bottle, parcel((BOTTLE, SILVER, 1)), links) == []
    # Once they are known, each parcel maps to its own supplier's lines only.
    bottle.line_item_ids, skirt.line_item_ids = ["L1"], ["L2"]
    assert pairs(package_lines(o, skirt, TrackingPackage(mail_no="LP2"), links)) == [("L2", 2)]
    assert pairs(package_lines(o, bottle, parcel((SKIRT, SKIRT_SKU, 2)), links)) == [("L1", 1)]


def test_zero_quantity_lines_are_left_out() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1", "L2"])
    o = order([("L1", "v-silver", 0), ("L2", "v-black", 1)], [ae])
    assert pairs(package_lines(o, ae, TrackingPackage(mail_no="LP1"), links)) == [("L2", 1)]


def test_observed_package_carries_number_carrier_and_last_event() -> None:
    ae = AeOrder(ae_order_id="9", line_item_ids=["L1"])
    o = order([("L1", "v-silver", 1)], [ae])
    now = datetime(2026, 11, 22, tzinfo=UTC)
    raw = TrackingPackage(mail_no=" LP9 ", cp_name="Cainiao", tracking_url="https://t/LP9", detail_node_list=[
        TrackingNode(time_stamp=1_763_700_000_000), TrackingNode(time_stamp=1_763_800_000_000), TrackingNode()])
    package = observed_package(o, ae, raw, now, links)
    assert package is not None
    assert (package.tracking_number, package.carrier, package.tracking_url) == ("LP9", "Cainiao", "https://t/LP9")
    assert package.ae_order_id == "9" and package.found_at == now
    assert package.last_event_at == datetime.fromtimestamp(1_763_800_000, UTC)
    assert pairs(package.line_items) == [("L1", 1)]
    assert package.needs_push
    # Shipped but no number yet: "not yet", no package.
    assert observed_package(o, ae, TrackingPackage(mail_no="  "), now, links) is None
    quiet = observed_package(o, ae, TrackingPackage(mail_no="LP10", carrier_name="YunExpress"), now, links)
    assert quiet is not None and quiet.carrier == "YunExpress" and quiet.last_event_at is None
