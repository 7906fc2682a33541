"""One order's sync against the AliExpress simulator and the table: every status, partial shipments,
cancellation, stalled tracking, disconnects, and zero DynamoDB writes when nothing changed.

The rules themselves (the status table, package-to-line matching, `apply_observations`) have fast unit
tests over fakes in tests/unit/test_sync_*.py; these show them against the real simulator's answers."""

from __future__ import annotations

import pytest

from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.order_sync import SyncOutcome
from shared.models.order import OrderStatus
from tests.sync.conftest import BOTTLE_BLACK, BOTTLE_SILVER, SKIRT_SKU, World

DAY = 86400.0


def test_unpaid_order_costs_one_call_and_zero_writes(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 1)])
    world.syncer.sync(world.shop, order.order_id)  # the first sync records the raw statuses once
    order = world.get(order.order_id)
    assert order.ae_orders[0].order_status == "PLACE_ORDER_SUCCESS" and order.ae_orders[0].logistics_status
    world.writes.order_writes = 0
    calls_before = sum(world.client.calls.values())
    for _ in range(3):
        result = world.syncer.sync(world.shop, order.order_id)
        assert result.outcome is SyncOutcome.UNCHANGED and not result.failed
    assert sum(world.client.calls.values()) - calls_before == 3  # one order.get per AliExpress order per sync
    assert world.writes.order_writes == 0
    assert world.get(order.order_id).version == order.version


def test_paid_and_risk_control_move_to_awaiting_shipment(world: World) -> None:
    world.sim.configure(risk_control_seconds=3600)
    order = world.place([(BOTTLE_BLACK, 1)], pay=True)
    assert world.sim.order(order.ae_orders[0].ae_order_id)["order_status"] == "RISK_CONTROL"
    result = world.syncer.sync(world.shop, order.order_id)
    assert result.outcome is SyncOutcome.CHANGED
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.AWAITING_SHIPMENT
    assert stored.history[-1].cause == "seller_paid"
    assert stored.ae_orders[0].order_status == "RISK_CONTROL"
    # Risk control over, waiting for the supplier: raw status recorded, tab unchanged, one write.
    world.sim.advance(3601)
    world.writes.order_writes = 0
    assert world.syncer.sync(world.shop, order.order_id).outcome is SyncOutcome.CHANGED
    assert world.get(order.order_id).ae_orders[0].order_status == "WAIT_SELLER_SEND_GOODS"
    assert world.writes.order_writes == 1
    # Nothing new: zero writes.
    assert world.syncer.sync(world.shop, order.order_id).outcome is SyncOutcome.UNCHANGED
    assert world.writes.order_writes == 1


def test_shipped_with_tracking_records_a_package(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 2)], pay=True)
    ae_id = order.ae_orders[0].ae_order_id
    world.sim.ship(ae_id, mail_no="LP00123456789")
    calls_before = sum(world.client.calls.values())
    result = world.syncer.sync(world.shop, order.order_id)
    assert sum(world.client.calls.values()) - calls_before == 2  # order.get + tracking.get
    assert result.outcome is SyncOutcome.CHANGED
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
    assert world.syncer.sync(world.shop, order.order_id).outcome is SyncOutcome.UNCHANGED
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
    assert not result.failed and result.outcome is SyncOutcome.CHANGED
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
    assert world.syncer.sync(world.shop, order.order_id).outcome is SyncOutcome.CHANGED
    stored = world.get(order.order_id)
    assert stored.status is OrderStatus.FAILED
    assert stored.reason is not None and stored.reason.startswith("Cancelled on AliExpress — order again")
    assert stored.reason_code == "aliexpress_cancelled"
    assert stored.history[-1].cause == "aliexpress_cancelled"
    # Failed orders leave the sync index: a later sync does not touch it.
    assert world.syncer.sync(world.shop, order.order_id).outcome is SyncOutcome.SKIPPED


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


def test_disconnected_shop_flags_reconnect_and_counts_failed(world: World) -> None:
    order = world.place([(BOTTLE_BLACK, 1)])
    world.sim.revoke_token(world.token)
    world.accounts.forget()
    result = world.syncer.sync(world.shop, order.order_id)
    assert result.failed and result.outcome is SyncOutcome.FAILED and result.error == "disconnected"
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
    assert result.failed and result.outcome is SyncOutcome.FAILED
    assert world.writes.order_writes == 0
