"""`OrderSyncer` over in-memory fakes: which calls one order costs, zero writes without news, skipped orders,
failures and disconnects, split suppliers learning their lines, and what the result says."""

from __future__ import annotations

from datetime import timedelta

from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.order_sync import OrderSyncer, SyncOutcome
from shared.models.order import AeOrder, LineItem, OrderStatus, Package
from shared.models.shop import Link
from tests.unit.fakes import InMemoryLinks, InMemoryOrders
from tests.unit.fakes_sync import T0, FakeAliExpress, placed_order, transient

BOTTLE, SKIRT = "1005008453688391", "1005006001234567"


def world(**syncer_options: object) -> tuple[InMemoryOrders, InMemoryLinks, FakeAliExpress, OrderSyncer]:
    orders, links, ali = InMemoryOrders(), InMemoryLinks(), FakeAliExpress()
    syncer = OrderSyncer(orders, ali, links, clock=lambda: T0, **syncer_options)  # type: ignore[arg-type]
    return orders, links, ali, syncer


def test_unpaid_order_costs_one_call_and_zero_writes() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1", ae_orders=[AeOrder(ae_order_id="91", logistics_status="DEFAULT")]))
    ali.set("91", "PLACE_ORDER_SUCCESS", "DEFAULT")
    for _ in range(3):
        result = syncer.sync("s", "1")
        assert result.outcome is SyncOutcome.UNCHANGED and not result.failed and result.calls == 1
    assert ali.calls == {"get_order": 3}
    assert orders.calls["write"] == 0 and orders.calls["mutate"] == 0


def test_news_is_one_write_and_the_result_holds_the_stored_order() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1", ae_orders=[AeOrder(ae_order_id="91")]))
    ali.set("91", "WAIT_SELLER_SEND_GOODS", "DEFAULT")
    result = syncer.sync("s", "1")
    assert result.outcome is SyncOutcome.CHANGED and orders.calls["write"] == 1
    assert result.order is not None and result.order.status is OrderStatus.AWAITING_SHIPMENT
    assert result.order.version == 2 and result.order.last_synced_at == T0
    assert syncer.sync("s", "1").outcome is SyncOutcome.UNCHANGED and orders.calls["write"] == 1


def test_shipped_costs_a_tracking_call_and_records_the_parcel() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1", status=OrderStatus.AWAITING_SHIPMENT,
                            ae_orders=[AeOrder(ae_order_id="91", order_status="WAIT_SELLER_SEND_GOODS")]))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS",
            parcels=[{"mail_no": "LP1", "carrier_name": "Cainiao", "detail_node_list": [{"time_stamp": 1}]}])
    result = syncer.sync("s", "1")
    assert result.calls == 2 and ali.calls == {"get_order": 1, "get_tracking": 1}
    assert result.order is not None
    (package,) = result.order.packages
    assert package.tracking_number == "LP1" and package.ae_order_id == "91" and package.needs_push
    assert [(pl.line_item_id, pl.quantity) for pl in package.line_items] == [("1-1", 1)]


def test_shipped_without_a_number_is_not_yet() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1", status=OrderStatus.AWAITING_SHIPMENT))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[{"mail_no": ""}])
    result = syncer.sync("s", "1")
    assert not result.failed and result.order is not None
    assert result.order.packages == [] and result.order.ae_orders[0].shipped_at == T0


def test_orders_not_waiting_are_skipped_without_a_call() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1", status=OrderStatus.FULFILLED))
    orders.add(placed_order("2").model_copy(update={"fulfilled_in_store": True}))
    orders.add(placed_order("3", ae_orders=[]))
    for order_id in ("1", "2", "3"):
        result = syncer.sync("s", order_id)
        assert result.outcome is SyncOutcome.SKIPPED and result.order is not None
    gone = syncer.sync("s", "404")
    assert gone.outcome is SyncOutcome.SKIPPED and gone.order is None
    assert sum(ali.calls.values()) == 0


def test_aliexpress_orders_that_are_done_are_not_asked_again() -> None:
    orders, _, ali, syncer = world()
    finished = AeOrder(ae_order_id="91", order_status="FINISH", logistics_status="BUYER_ACCEPT_GOODS")
    open_one = AeOrder(ae_order_id="92", order_status="WAIT_SELLER_SEND_GOODS")
    orders.add(placed_order("1", status=OrderStatus.AWAITING_SHIPMENT, ae_orders=[finished, open_one],
                            lines=[LineItem(id="a", quantity=1), LineItem(id="b", quantity=1)]).model_copy(
        update={"packages": [Package(tracking_number="LP1", ae_order_id="91", found_at=T0)]}))
    ali.set("92", "WAIT_SELLER_SEND_GOODS")
    syncer.sync("s", "1")
    assert ali.calls == {"get_order": 1}  # only 92: 91 finished with its parcel recorded


def test_transient_failure_counts_failed_without_writing() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1"))
    ali.fail["91"] = transient()
    result = syncer.sync("s", "1")
    assert result.failed and result.outcome is SyncOutcome.FAILED and result.error == "isp.service-unavailable"
    assert orders.calls["write"] == 0


def test_one_failure_does_not_lose_the_other_aliexpress_orders_news() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1", ae_orders=[AeOrder(ae_order_id="91", line_item_ids=["a"]),
                                            AeOrder(ae_order_id="92", line_item_ids=["b"])],
                            lines=[LineItem(id="a", quantity=1), LineItem(id="b", quantity=1)]))
    ali.fail["91"] = transient()
    ali.set("92", "WAIT_SELLER_SEND_GOODS")
    result = syncer.sync("s", "1")
    assert result.outcome is SyncOutcome.FAILED and orders.calls["write"] == 1
    assert result.order is not None and result.order.ae_orders[1].order_status == "WAIT_SELLER_SEND_GOODS"
    assert result.order.status is OrderStatus.AWAITING_PAYMENT  # 91 is not known to be paid


def test_disconnected_flags_reconnect_once() -> None:
    orders, _, ali, syncer = world()
    orders.add(placed_order("1"))
    ali.disconnected = True
    result = syncer.sync("s", "1")
    assert result.failed and result.outcome is SyncOutcome.FAILED and result.error == "disconnected"
    assert result.order is not None and result.order.attention == RECONNECT_ATTENTION
    assert result.order.status is OrderStatus.AWAITING_PAYMENT
    assert syncer.sync("s", "1").failed and orders.calls["write"] == 1


def test_split_suppliers_learn_their_lines_from_child_orders() -> None:
    orders, links, ali, syncer = world()
    links.put(Link(shop="s", variant_id="v-bottle", product_id=BOTTLE, sku_id="1"))
    links.put(Link(shop="s", variant_id="v-skirt", product_id=SKIRT))
    lines = [LineItem(id="a", variant_id="v-bottle", quantity=2), LineItem(id="b", variant_id="v-skirt", quantity=1)]
    orders.add(placed_order("1", status=OrderStatus.AWAITING_SHIPMENT, lines=lines,
                            ae_orders=[AeOrder(ae_order_id="91", order_status="WAIT_SELLER_SEND_GOODS"),
                                       AeOrder(ae_order_id="92", order_status="WAIT_SELLER_SEND_GOODS")]))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS",
            children=[{"product_id": BOTTLE, "sku_id": "1", "product_count": 2}],
            parcels=[{"mail_no": "LP1", "package_item_list": [{"item_id": BOTTLE, "sku_id": "1", "quantity": 2}]}])
    ali.set("92", "WAIT_SELLER_SEND_GOODS", children=[{"product_id": SKIRT, "product_count": 1}])
    result = syncer.sync("s", "1")
    assert result.order is not None
    assert [a.line_item_ids for a in result.order.ae_orders] == [["a"], ["b"]]
    (package,) = result.order.packages
    assert [(pl.line_item_id, pl.quantity) for pl in package.line_items] == [("a", 2)]
    assert links.calls["batch_get"] == 1  # read once for the whole order


def test_links_are_not_read_when_placement_recorded_the_lines() -> None:
    orders, links, ali, syncer = world()
    orders.add(placed_order("1", status=OrderStatus.AWAITING_SHIPMENT))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", parcels=[{"mail_no": "LP1"}])
    syncer.sync("s", "1")
    assert links.calls["batch_get"] == 0


def test_stalled_is_reported_and_counted_every_time_but_written_once() -> None:
    orders, _, ali, _ = world()
    now = [T0]
    syncer = OrderSyncer(orders, ali, None, clock=lambda: now[0], stall_after=timedelta(hours=1))
    orders.add(placed_order("1", status=OrderStatus.AWAITING_SHIPMENT))
    ali.set("91", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS")
    assert not syncer.sync("s", "1").stalled
    now[0] = T0 + timedelta(hours=2)
    first = syncer.sync("s", "1")
    assert first.stalled and first.outcome is SyncOutcome.CHANGED
    again = syncer.sync("s", "1")
    assert again.stalled and again.outcome is SyncOutcome.UNCHANGED
    assert orders.calls["write"] == 2  # shipped_at, then the flag
