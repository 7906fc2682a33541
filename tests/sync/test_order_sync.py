"""One order's sync against the AliExpress simulator: every status, partial shipments, cancellation,
stalled tracking, disconnects, and zero writes when nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.aliexpress.models import ORDER_STATUSES, PackageItem, TrackingNode, TrackingPackage
from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.sync import (
    STATUS_TABLE,
    AeState,
    Observation,
    Outcome,
    apply_observations,
    classify,
)
from shared.models.order import AeOrder, LineItem, Order, OrderStatus, Package
from tests.sync.conftest import BOTTLE_BLACK, BOTTLE_SILVER, SKIRT_SKU, World

DAY = 86400.0

# Every order_status value AliExpress documents, with what it must mean for us.
EXPECTED = {
    "PLACE_ORDER_SUCCESS": AeState.UNPAID,
    "PAYMENT_PROCESSING": AeState.UNPAID,
    "WAIT_SELLER_EXAMINE_MONEY": AeState.PAID,
    "RISK_CONTROL": AeState.PAID,
    "RISK_CONTROL_HOLD": AeState.PAID,
    "WAIT_GROUP": AeState.PAID,
    "FUND_PROCESSING": AeState.PAID,
    "WAIT_SELLER_SEND_GOODS": AeState.PAID,
    "SELLER_PART_SEND_GOODS": AeState.PART_SHIPPED,
    "WAIT_BUYER_ACCEPT_GOODS": AeState.SHIPPED,
    "FINISH": AeState.FINISHED,
    "ARCHIVE": AeState.FINISHED,
    "IN_CANCEL": AeState.CANCELLED,
    "IN_ISSUE": AeState.ATTENTION,
    "IN_FROZEN": AeState.ATTENTION,
    "WAIT_COMPLETE_ADDRESS": AeState.ATTENTION,
}


def test_the_table_covers_every_documented_status() -> None:
    assert set(EXPECTED) == ORDER_STATUSES
    for raw, state in EXPECTED.items():
        assert classify(raw, None) is state, raw
        assert STATUS_TABLE[("order_status", raw)] is state


@pytest.mark.parametrize(("order_status", "logistics", "reasons", "expected"), [
    ("WAIT_SELLER_SEND_GOODS", "SELLER_SEND_PART_GOODS", [], AeState.PART_SHIPPED),
    ("WAIT_SELLER_SEND_GOODS", "SELLER_SEND_GOODS", [], AeState.SHIPPED),
    ("RISK_CONTROL", "DEFAULT", [], AeState.PAID),
    ("PLACE_ORDER_SUCCESS", "NO_LOGISTICS", [], AeState.UNPAID),
    ("FINISH", "BUYER_ACCEPT_GOODS", [], AeState.FINISHED),
    ("FINISH", "DEFAULT", ["buyer_pay_timeout"], AeState.CANCELLED),
    ("FINISH", "WAIT_SELLER_SEND_GOODS", [None, "seller_send_goods_timeout"], AeState.CANCELLED),
    ("FINISH", "BUYER_ACCEPT_GOODS", ["buyer_accept_goods"], AeState.FINISHED),
    ("SOMETHING_NEW", None, [], AeState.ATTENTION),
    ("", None, [], AeState.ATTENTION),
    ("IN_FROZEN", "SELLER_SEND_GOODS", [], AeState.ATTENTION),  # logistics never hides a dispute/freeze
])
def test_classify_combines_fields(order_status: str, logistics: str | None, reasons: list[str | None],
                                  expected: AeState) -> None:
    assert classify(order_status, logistics, reasons) is expected


def test_unpaid_order_costs_one_call_and_zero_writes(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 1)])
    world.syncer.sync(world.shop, order.order_id)  # the first sync records the raw statuses once
    order = world.get(order.order_id)
    assert order.ae_orders[0].order_status == "PLACE_ORDER_SUCCESS" and order.ae_orders[0].logistics_status
    world.writes.order_writes = 0
    calls_before = sum(world.client.calls.values())
    for _ in range(3):
        result = world.syncer.sync(world.shop, order.order_id)
        assert result.outcome is Outcome.UNCHANGED and not result.failed
    assert sum(world.client.calls.values()) - calls_before == 3  # one order.get per AliExpress order per sync
    assert world.writes.order_writes == 0
    assert world.get(order.order_id).version == order.version


def test_paid_and_risk_control_move_to_awaiting_shipment(world: World) -> None:
    world.sim.configure(risk_control_seconds=3600)
    order = world.place([(BOTTLE_BLACK, 1)], pay=True)
    assert world.sim.order(order.ae_orders[0].ae_order_id)["order_status"] == "RISK_CONTROL"
    result = world.syncer.sync(world.shop, order.order_id)
    assert result.outcome is Outcome.CHANGED
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.AWAITING_SHIPMENT
    assert stored.history[-1].cause == "seller_paid"
    assert stored.ae_orders[0].order_status == "RISK_CONTROL"
    # Risk control over, waiting for the supplier: raw status recorded, tab unchanged, one write.
    world.sim.advance(3601)
    world.writes.order_writes = 0
    assert world.syncer.sync(world.shop, order.order_id).outcome is Outcome.CHANGED
    assert world.get(order.order_id).ae_orders[0].order_status == "WAIT_SELLER_SEND_GOODS"
    assert world.writes.order_writes == 1
    # Nothing new: zero writes.
    assert world.syncer.sync(world.shop, order.order_id).outcome is Outcome.UNCHANGED
    assert world.writes.order_writes == 1


def test_shipped_with_tracking_records_a_package(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 2)], pay=True)
    ae_id = order.ae_orders[0].ae_order_id
    world.sim.ship(ae_id, mail_no="LP00123456789")
    calls_before = sum(world.client.calls.values())
    result = world.syncer.sync(world.shop, order.order_id)
    assert sum(world.client.calls.values()) - calls_before == 2  # order.get + tracking.get
    assert result.outcome is Outcome.CHANGED
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.AWAITING_SHIPMENT  # fulfilled comes from the tracking push
    (package,) = stored.packages
    assert package.tracking_number == "LP00123456789"
    assert package.ae_order_id == ae_id and package.needs_push
    assert package.carrier and package.tracking_url and package.last_event_at is not None
    assert [(pl.line_item_id, pl.quantity) for pl in package.line_items] == [(order.line_items[0].id, 2)]
    # The push will act on it: the stored item says so.
    item = world.orders._table.get_item(Key={"pk": f"SHOP#{world.shop}", "sk": f"ORDER#{order.order_id.zfill(20)}"})
    assert item["Item"]["push_pending"] == 1
    world.writes.order_writes = 0
    assert world.syncer.sync(world.shop, order.order_id).outcome is Outcome.UNCHANGED
    assert world.writes.order_writes == 0


def test_shipped_without_tracking_number_is_not_yet(world: World) -> None:
    order = world.place([(SKIRT_SKU, 1)], pay=True)
    ae_id = order.ae_orders[0].ae_order_id
    world.sim.ship(ae_id, mail_no_delay=2 * DAY)
    result = world.syncer.sync(world.shop, order.order_id)
    assert not result.failed
    stored = world.get(order.order_id)
    assert stored.packages == [] and stored.ae_orders[0].shipped_at is not None
    assert stored.attention is None
    world.sim.advance(2 * DAY + 1)
    world.syncer.sync(world.shop, order.order_id)
    assert len(world.get(order.order_id).packages) == 1


def test_tracking_not_found_is_not_an_error(world: World) -> None:
    order = world.place([(SKIRT_SKU, 1)], pay=True)
    # AliExpress says shipped, but has no tracking data yet ("TRACKING DATA NOT FOUND").
    world.sim.set_status(order.ae_orders[0].ae_order_id, "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS")
    result = world.syncer.sync(world.shop, order.order_id)
    assert not result.failed and result.outcome is Outcome.CHANGED
    stored = world.get(order.order_id)
    assert stored.packages == [] and stored.status is OrderStatus.AWAITING_SHIPMENT


def test_split_order_shows_partial_progress_and_each_parcel_at_once(world: World) -> None:
    # Two suppliers → two AliExpress orders; the bottle ships in two parcels.
    order = world.place([(BOTTLE_SILVER, 2), (BOTTLE_BLACK, 1), (SKIRT_SKU, 1)])
    assert len(order.ae_orders) == 2
    bottle_ae = next(a for a in order.ae_orders if len(a.line_item_ids) == 2)
    skirt_ae = next(a for a in order.ae_orders if len(a.line_item_ids) == 1)
    world.sim.pay(bottle_ae.ae_order_id)
    world.syncer.sync(world.shop, order.order_id)
    stored = world.get(order.order_id)
    # One paid, one not: still awaiting payment, each AliExpress order keeps its own raw status.
    assert stored.status is OrderStatus.AWAITING_PAYMENT
    raw = {a.ae_order_id: a.order_status for a in stored.ae_orders}
    assert raw == {bottle_ae.ae_order_id: "WAIT_SELLER_SEND_GOODS", skirt_ae.ae_order_id: "PLACE_ORDER_SUCCESS"}

    world.sim.ship(bottle_ae.ae_order_id, items=[{"sku_id": BOTTLE_SILVER, "quantity": 1}], mail_no="LPFIRST")
    world.syncer.sync(world.shop, order.order_id)
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.AWAITING_PAYMENT  # the skirt is still unpaid
    (first,) = stored.packages
    silver_line = order.line_items[0].id
    assert [(pl.line_item_id, pl.quantity) for pl in first.line_items] == [(silver_line, 1)]
    assert next(a for a in stored.ae_orders if a.ae_order_id == bottle_ae.ae_order_id).order_status \
        == "SELLER_PART_SEND_GOODS"

    world.sim.pay(skirt_ae.ae_order_id)
    world.sim.ship(bottle_ae.ae_order_id, mail_no="LPSECOND")  # the rest of the bottles
    world.syncer.sync(world.shop, order.order_id)
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.AWAITING_SHIPMENT
    second = stored.package("LPSECOND")
    assert second is not None
    assert sorted((pl.line_item_id, pl.quantity) for pl in second.line_items) == sorted(
        [(silver_line, 1), (order.line_items[1].id, 1)])
    assert [p.tracking_number for p in stored.packages] == ["LPFIRST", "LPSECOND"]


@pytest.mark.parametrize("pending", [True, False])
def test_cancelled_on_aliexpress_fails_the_order(world: World, pending: bool) -> None:
    order = world.place([(BOTTLE_BLACK, 1)], pay=True)
    world.syncer.sync(world.shop, order.order_id)
    world.sim.cancel(order.ae_orders[0].ae_order_id, pending=pending)
    assert world.syncer.sync(world.shop, order.order_id).outcome is Outcome.CHANGED
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.FAILED
    assert stored.reason is not None and stored.reason.startswith("Cancelled on AliExpress — order again")
    assert stored.reason_code == "aliexpress_cancelled"
    assert stored.history[-1].cause == "aliexpress_cancelled"
    # Failed orders leave the sync index: a later sync does not touch it.
    assert world.syncer.sync(world.shop, order.order_id).outcome is Outcome.SKIPPED


def test_unpaid_order_closed_by_pay_timeout_fails(world: World) -> None:
    world.sim.configure(pay_timeout=3600)
    order = world.place([(SKIRT_SKU, 1)])
    world.sim.advance(3601)
    world.syncer.sync(world.shop, order.order_id)
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.FAILED and "buyer_pay_timeout" in (stored.reason or "")


@pytest.mark.parametrize(("action", "raw"), [("open_issue", "IN_ISSUE"), ("freeze", "IN_FROZEN"),
                                             ("unknown", "BRAND_NEW_STATUS")])
def test_dispute_frozen_and_unknown_flag_attention_without_changing_tab(world: World, action: str,
                                                                          raw: str) -> None:
    order = world.place([(BOTTLE_BLACK, 1)], pay=True)
    world.syncer.sync(world.shop, order.order_id)
    ae_id = order.ae_orders[0].ae_order_id
    if action == "unknown":
        world.sim.set_status(ae_id, raw)
    else:
        getattr(world.sim, action)(ae_id)
    world.syncer.sync(world.shop, order.order_id)
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.AWAITING_SHIPMENT
    assert stored.attention is not None and raw in stored.attention and ae_id in stored.attention
    world.writes.order_writes = 0
    world.syncer.sync(world.shop, order.order_id)
    assert world.writes.order_writes == 0  # flagged once
    world.sim.resume(ae_id)
    world.syncer.sync(world.shop, order.order_id)
    assert world.get(order.order_id).attention is None  # our own flag clears when resolved


def test_stalled_tracking_after_72_hours(world: World) -> None:
    order = world.place([(SKIRT_SKU, 1)], pay=True)
    world.sim.ship(order.ae_orders[0].ae_order_id, mail_no_delay=10 * DAY)
    world.syncer.sync(world.shop, order.order_id)
    world.sim.advance(71 * 3600)
    result = world.syncer.sync(world.shop, order.order_id)
    assert not result.stalled and world.get(order.order_id).attention is None
    world.sim.advance(2 * 3600)
    result = world.syncer.sync(world.shop, order.order_id)
    assert result.stalled
    attention = world.get(order.order_id).attention
    assert attention is not None and attention.startswith("Stalled tracking") and "no tracking number" in attention
    # Still stalled on the next run: counted, not rewritten.
    world.writes.order_writes = 0
    assert world.syncer.sync(world.shop, order.order_id).stalled
    assert world.writes.order_writes == 0
    world.sim.advance(7 * DAY)  # the number arrives (10 days after shipping)
    world.syncer.sync(world.shop, order.order_id)
    stored = world.get(order.order_id)
    assert stored.attention is None and len(stored.packages) == 1


def _order_with(ae: AeOrder, packages: list[Package] | None = None) -> Order:
    return Order(shop="s", order_id="1", status=OrderStatus.AWAITING_SHIPMENT,
                 created_at=datetime(2026, 11, 1, tzinfo=UTC),
                 line_items=[LineItem(id="L1", quantity=1)], ae_orders=[ae], packages=packages or [])


def test_stalled_when_a_parcel_has_no_tracking_event() -> None:
    shipped = datetime(2026, 11, 20, tzinfo=UTC)
    ae = AeOrder(ae_order_id="9", order_status="WAIT_BUYER_ACCEPT_GOODS", logistics_status="SELLER_SEND_GOODS",
                 line_item_ids=["L1"], shipped_at=shipped)
    quiet = Package(tracking_number="LP1", ae_order_id="9", found_at=shipped)
    order = _order_with(ae, [quiet])
    ob = Observation(ae_order_id="9", order_status=ae.order_status, logistics_status=ae.logistics_status,
                     end_reason=None, state=AeState.SHIPPED, packages=[quiet])
    assert apply_observations(order, [ob], shipped + timedelta(hours=71)) is None
    flagged = apply_observations(order, [ob], shipped + timedelta(hours=73))
    assert flagged is not None and flagged.attention is not None and "no tracking event" in flagged.attention
    heard = quiet.model_copy(update={"last_event_at": shipped + timedelta(hours=80)})
    ob.packages = [heard]
    cleared = apply_observations(flagged, [ob], shipped + timedelta(hours=81))
    assert cleared is not None and cleared.attention is None


def test_parcel_lines_map_through_links_and_cap_quantities(world: World) -> None:
    from shared.logic.sync import package_lines

    order = world.place([(BOTTLE_SILVER, 1), (BOTTLE_BLACK, 3)])
    ae = order.ae_orders[0]
    parcel = TrackingPackage(mail_no="LPX", package_item_list=[
        PackageItem(item_id="1005008453688391", sku_id=BOTTLE_BLACK, quantity=5)],
        detail_node_list=[TrackingNode(time_stamp=1)])
    lines = package_lines(order, ae, parcel, lambda: world.links.batch_get(world.shop, [
        li.variant_id or "" for li in order.line_items]))
    assert [(pl.line_item_id, pl.quantity) for pl in lines] == [(order.line_items[1].id, 3)]


def test_disconnected_shop_flags_reconnect_and_counts_failed(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 1)])
    world.sim.revoke_token(world.token)
    world.accounts.forget()
    result = world.syncer.sync(world.shop, order.order_id)
    assert result.failed and result.outcome is Outcome.FAILED and result.error == "disconnected"
    stored = world.get(order.order_id)
    assert stored.attention == RECONNECT_ATTENTION and stored.status is OrderStatus.AWAITING_PAYMENT
    world.writes.order_writes = 0
    assert world.syncer.sync(world.shop, order.order_id).failed
    assert world.writes.order_writes == 0


def test_transient_failure_counts_failed_without_writing(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 1)])
    world.sim.inject_fault(10, error_code="isp.service-unavailable")
    world.writes.order_writes = 0
    result = world.syncer.sync(world.shop, order.order_id)
    assert result.failed and result.outcome is Outcome.FAILED
    assert world.writes.order_writes == 0
