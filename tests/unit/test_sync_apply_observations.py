"""`apply_observations`: AliExpress's news applied to a store order, pure. Nothing new → None (no write);
tabs move only through the lifecycle; stalled tracking after 72 h; attention flags set and cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.logic.accounts import RECONNECT_ATTENTION
from shared.logic.order_sync import STALL_AFTER, Observation, apply_observations, stalled
from shared.logic.sync_status_map import AeState, classify
from shared.models.order import AeOrder, LineItem, Order, OrderStatus, Package, PackageLine

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def order_with(*ae_orders: AeOrder, status: OrderStatus = OrderStatus.AWAITING_SHIPMENT,
               packages: list[Package] | None = None, attention: str | None = None) -> Order:
    return Order(shop="s", order_id="1", status=status, created_at=datetime(2026, 11, 1, tzinfo=UTC),
                 line_items=[LineItem(id="L1", quantity=1), LineItem(id="L2", quantity=2)],
                 ae_orders=list(ae_orders), packages=packages or [], attention=attention, version=3)


def seen(ae_order_id: str, order_status: str, logistics: str | None = None, end_reason: str | None = None,
         packages: list[Package] | None = None, line_item_ids: list[str] | None = None) -> Observation:
    return Observation(ae_order_id=ae_order_id, order_status=order_status, logistics_status=logistics,
                       end_reason=end_reason, state=classify(order_status, logistics, [end_reason]),
                       packages=packages or [], line_item_ids=line_item_ids or [])


def parcel(number: str, ae_order_id: str = "9", **fields: object) -> Package:
    return Package(tracking_number=number, ae_order_id=ae_order_id, found_at=NOW,
                   line_items=[PackageLine(line_item_id="L1", quantity=1)], **fields)  # type: ignore[arg-type]


def test_unchanged_order_is_zero_changes() -> None:
    ae = AeOrder(ae_order_id="9", order_status="WAIT_SELLER_SEND_GOODS", logistics_status="DEFAULT")
    order = order_with(ae)
    assert apply_observations(order, [seen("9", "WAIT_SELLER_SEND_GOODS", "DEFAULT")], NOW) is None
    assert apply_observations(order, [], NOW) is None
    # A package already known, told again with nothing new: still nothing.
    known = parcel("LP1", last_event_at=NOW - timedelta(hours=1), carrier="Cainiao")
    shipped = AeOrder(ae_order_id="9", order_status="WAIT_BUYER_ACCEPT_GOODS", logistics_status="SELLER_SEND_GOODS",
                      shipped_at=NOW - timedelta(days=1), line_item_ids=["L1"])
    with_parcel = order_with(shipped, packages=[known])
    with_parcel.line_items = with_parcel.line_items[:1]
    again = seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", packages=[known.model_copy()])
    assert apply_observations(with_parcel, [again], NOW) is None


def test_news_is_recorded_once_and_stamped() -> None:
    order = order_with(AeOrder(ae_order_id="9", order_status="RISK_CONTROL"))
    new = apply_observations(order, [seen("9", "WAIT_SELLER_SEND_GOODS", "DEFAULT")], NOW)
    assert new is not None and new is not order
    ae = new.ae_orders[0]
    assert (ae.order_status, ae.logistics_status, ae.checked_at) == ("WAIT_SELLER_SEND_GOODS", "DEFAULT", NOW)
    assert new.last_synced_at == NOW and new.status is OrderStatus.AWAITING_SHIPMENT
    assert order.ae_orders[0].order_status == "RISK_CONTROL"  # the input is not touched
    assert apply_observations(new, [seen("9", "WAIT_SELLER_SEND_GOODS", "DEFAULT")], NOW + timedelta(hours=12)) \
        is None


def test_paid_moves_to_awaiting_shipment_only_when_every_aliexpress_order_is_paid() -> None:
    order = order_with(AeOrder(ae_order_id="9"), AeOrder(ae_order_id="8"), status=OrderStatus.AWAITING_PAYMENT)
    half = apply_observations(order, [seen("9", "WAIT_SELLER_SEND_GOODS")], NOW)
    assert half is not None and half.status is OrderStatus.AWAITING_PAYMENT
    both = apply_observations(half, [seen("8", "RISK_CONTROL")], NOW)
    assert both is not None and both.status is OrderStatus.AWAITING_SHIPMENT
    assert both.history[-1].cause == "seller_paid" and both.history[-1].at == NOW


def test_shipped_starts_the_stall_clock_once_and_adds_parcels() -> None:
    order = order_with(AeOrder(ae_order_id="9", order_status="WAIT_SELLER_SEND_GOODS", line_item_ids=["L1"]))
    shipped = apply_observations(order, [seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS")], NOW)
    assert shipped is not None and shipped.ae_orders[0].shipped_at == NOW and shipped.packages == []
    later = NOW + timedelta(hours=5)
    first = parcel("LP1")
    with_parcel = apply_observations(shipped, [seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS",
                                                    packages=[first])], later)
    assert with_parcel is not None
    assert with_parcel.ae_orders[0].shipped_at == NOW  # not moved
    assert [p.tracking_number for p in with_parcel.packages] == ["LP1"]
    assert with_parcel.status is OrderStatus.AWAITING_SHIPMENT  # fulfilled comes from the tracking push


def test_known_parcel_only_gains_what_it_lacked() -> None:
    ae = AeOrder(ae_order_id="9", order_status="WAIT_BUYER_ACCEPT_GOODS", logistics_status="SELLER_SEND_GOODS",
                 shipped_at=NOW - timedelta(days=1), line_item_ids=["L1"])
    known = Package(tracking_number="LP1", ae_order_id="9", found_at=NOW - timedelta(days=1), carrier="Cainiao",
                    last_event_at=NOW - timedelta(hours=3))
    order = order_with(ae, packages=[known])
    news = parcel("LP1", carrier="Other", tracking_url="https://t/LP1", last_event_at=NOW - timedelta(hours=1))
    new = apply_observations(order, [seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", packages=[news])],
                             NOW)
    assert new is not None
    (p,) = new.packages
    assert p.carrier == "Cainiao" and p.tracking_url == "https://t/LP1"  # kept / filled in
    assert p.last_event_at == NOW - timedelta(hours=1) and p.found_at == NOW - timedelta(days=1)
    assert [(pl.line_item_id, pl.quantity) for pl in p.line_items] == [("L1", 1)]
    older = parcel("LP1", last_event_at=NOW - timedelta(hours=9))
    assert apply_observations(new, [seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS", packages=[older])],
                              NOW) is None  # an older event never moves it back


def test_lines_learned_from_child_orders_are_kept() -> None:
    order = order_with(AeOrder(ae_order_id="9"), AeOrder(ae_order_id="8"), status=OrderStatus.AWAITING_PAYMENT)
    new = apply_observations(order, [seen("9", "PLACE_ORDER_SUCCESS", line_item_ids=["L2"])], NOW)
    assert new is not None and new.ae_orders[0].line_item_ids == ["L2"] and new.ae_orders[1].line_item_ids == []
    # Never overwritten once known.
    assert apply_observations(new, [seen("9", "PLACE_ORDER_SUCCESS", line_item_ids=["L1"])], NOW) is None


@pytest.mark.parametrize(("raw", "end_reason"), [("IN_CANCEL", None), ("FINISH", "buyer_pay_timeout")])
def test_cancelled_on_aliexpress_fails_the_order(raw: str, end_reason: str | None) -> None:
    order = order_with(AeOrder(ae_order_id="9", order_status="WAIT_SELLER_SEND_GOODS"), AeOrder(ae_order_id="8"))
    new = apply_observations(order, [seen("9", raw, end_reason=end_reason)], NOW)
    assert new is not None and new.status is OrderStatus.FAILED
    assert new.reason == f"Cancelled on AliExpress — order again. (AliExpress order 9: {end_reason or raw})"
    assert new.reason_code == "aliexpress_cancelled"
    assert new.history[-1].cause == "aliexpress_cancelled"
    # Failed: out of the sync; later news changes nothing.
    assert apply_observations(new, [seen("8", "WAIT_SELLER_SEND_GOODS")], NOW) is None


@pytest.mark.parametrize("status", [OrderStatus.FULFILLED, OrderStatus.FAILED, OrderStatus.AWAITING_ORDER,
                                    OrderStatus.CANCELED, OrderStatus.PENDING])
def test_orders_not_waiting_for_aliexpress_are_left_alone(status: OrderStatus) -> None:
    order = order_with(AeOrder(ae_order_id="9"), status=status)
    assert apply_observations(order, [seen("9", "WAIT_SELLER_SEND_GOODS")], NOW) is None


def test_fulfilled_in_store_is_left_alone() -> None:
    order = order_with(AeOrder(ae_order_id="9")).model_copy(update={"fulfilled_in_store": True})
    assert apply_observations(order, [seen("9", "IN_CANCEL")], NOW) is None


@pytest.mark.parametrize(("raw", "words"), [("IN_ISSUE", "a dispute is open"), ("IN_FROZEN", "it is frozen"),
                                            ("WAIT_COMPLETE_ADDRESS", "complete address"),
                                            ("BRAND_NEW_STATUS", "unknown to us")])
def test_attention_is_flagged_without_changing_the_tab_and_cleared_when_resolved(raw: str, words: str) -> None:
    order = order_with(AeOrder(ae_order_id="9", order_status="WAIT_SELLER_SEND_GOODS"))
    flagged = apply_observations(order, [seen("9", raw)], NOW)
    assert flagged is not None and flagged.status is OrderStatus.AWAITING_SHIPMENT
    assert flagged.attention is not None and words in flagged.attention and raw in flagged.attention
    assert "9" in flagged.attention
    assert apply_observations(flagged, [seen("9", raw)], NOW) is None  # flagged once
    resolved = apply_observations(flagged, [seen("9", "WAIT_SELLER_SEND_GOODS")], NOW)
    assert resolved is not None and resolved.attention is None


def test_another_writers_attention_is_kept() -> None:
    order = order_with(AeOrder(ae_order_id="9", order_status="RISK_CONTROL"), attention="Customer asked to wait.")
    new = apply_observations(order, [seen("9", "WAIT_SELLER_SEND_GOODS")], NOW)
    assert new is not None and new.attention == "Customer asked to wait."


def test_disconnected_flags_reconnect_once_and_clears_after() -> None:
    order = order_with(AeOrder(ae_order_id="9"), status=OrderStatus.AWAITING_PAYMENT)
    flagged = apply_observations(order, [], NOW, disconnected=True)
    assert flagged is not None and flagged.attention == RECONNECT_ATTENTION
    assert flagged.status is OrderStatus.AWAITING_PAYMENT
    assert apply_observations(flagged, [], NOW, disconnected=True) is None
    back = apply_observations(flagged, [seen("9", "PLACE_ORDER_SUCCESS")], NOW)
    assert back is not None and back.attention is None


def test_stalled_after_72_hours_without_a_tracking_number() -> None:
    shipped_at = NOW
    ae = AeOrder(ae_order_id="9", order_status="WAIT_BUYER_ACCEPT_GOODS", logistics_status="SELLER_SEND_GOODS",
                 line_item_ids=["L1"], shipped_at=shipped_at)
    order = order_with(ae)
    order.line_items = order.line_items[:1]  # the AliExpress order holds every item: only the stall is news
    ob = seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS")
    assert timedelta(hours=72) == STALL_AFTER
    assert apply_observations(order, [ob], shipped_at + timedelta(hours=71)) is None
    assert apply_observations(order, [ob], shipped_at + timedelta(hours=72)) is None  # after, not at
    flagged = apply_observations(order, [ob], shipped_at + timedelta(hours=73))
    assert flagged is not None and flagged.attention is not None
    assert flagged.attention.startswith("Stalled tracking") and "no tracking number" in flagged.attention
    # Still stalled on the next run: no change to write.
    assert apply_observations(flagged, [ob], shipped_at + timedelta(hours=85)) is None
    # The number arrives, with an event: cleared.
    arrived = seen("9", "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS",
                   packages=[parcel("LP1", last_event_at=shipped_at + timedelta(hours=90))])
    cleared = apply_observations(flagged, [arrived], shipped_at + timedelta(hours=91))
    assert cleared is not None and cleared.attention is None and len(cleared.packages) == 1


def test_stalled_when_a_parcel_has_no_tracking_event() -> None:
    shipped = datetime(2026, 11, 20, tzinfo=UTC)
    ae = AeOrder(ae_order_id="9", order_status="WAIT_BUYER_ACCEPT_GOODS", logistics_status="SELLER_SEND_GOODS",
                 line_item_ids=["L1"], shipped_at=shipped)
    quiet = Package(tracking_number="LP1", ae_order_id="9", found_at=shipped)
    order = order_with(ae, packages=[quiet])
    ob = Observation(ae_order_id="9", order_status=ae.order_status, logistics_status=ae.logistics_status,
                     end_reason=None, state=AeState.SHIPPED, packages=[quiet])
    assert apply_observations(order, [ob], shipped + timedelta(hours=71)) is None
    flagged = apply_observations(order, [ob], shipped + timedelta(hours=73))
    assert flagged is not None and flagged.attention is not None and "no tracking event" in flagged.attention
    heard = quiet.model_copy(update={"last_event_at": shipped + timedelta(hours=80)})
    ob.packages = [heard]
    cleared = apply_observations(flagged, [ob], shipped + timedelta(hours=81))
    assert cleared is not None and cleared.attention is None


def test_stall_detection_looks_only_at_shipped_aliexpress_orders() -> None:
    long_ago = NOW - timedelta(days=10)
    unpaid = AeOrder(ae_order_id="9", shipped_at=long_ago)  # stored state says unpaid: not shipped
    assert stalled(order_with(unpaid), NOW) is None
    heard = Package(tracking_number="LP1", ae_order_id="8", found_at=long_ago, last_event_at=long_ago)
    fine = AeOrder(ae_order_id="8", order_status="WAIT_BUYER_ACCEPT_GOODS", shipped_at=long_ago)
    assert stalled(order_with(fine, packages=[heard]), NOW) is None
    quiet = AeOrder(ae_order_id="7", order_status="SELLER_PART_SEND_GOODS", shipped_at=long_ago)
    text = stalled(order_with(fine, quiet, packages=[heard]), NOW)
    assert text is not None and "AliExpress order 7" in text
    # A shorter stall time, as the syncer may be given.
    recent = AeOrder(ae_order_id="6", order_status="WAIT_BUYER_ACCEPT_GOODS", shipped_at=NOW - timedelta(hours=2))
    assert stalled(order_with(recent), NOW) is None
    assert stalled(order_with(recent), NOW, timedelta(hours=1)) is not None


def test_an_attention_status_wins_over_stalled_tracking() -> None:
    shipped_at = NOW - timedelta(days=5)
    order = order_with(AeOrder(ae_order_id="9", order_status="WAIT_BUYER_ACCEPT_GOODS", shipped_at=shipped_at),
                       AeOrder(ae_order_id="8", order_status="WAIT_SELLER_SEND_GOODS"))
    new = apply_observations(order, [seen("8", "IN_ISSUE")], NOW)
    assert new is not None and new.attention is not None and "needs you" in new.attention
