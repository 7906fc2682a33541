"""Every pair of statuses: allowed transitions apply and are recorded; all others are refused."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from shared.lifecycle import TRANSITIONS, Event, IllegalTransition, begin, is_allowed, transition
from shared.models.order import MAX_HISTORY, Order, OrderStatus

STATUSES = list(OrderStatus)


def _order(status: OrderStatus) -> Order:
    return Order(shop="s", order_id="1", status=status, created_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_pair_of_statuses(source: OrderStatus, target: OrderStatus) -> None:
    allowed = TRANSITIONS.get((source, target), frozenset())
    for event in Event:
        order = _order(source)
        if event in allowed:
            moved = transition(order, target, event)
            assert moved.status is target
            assert moved.history[-1].from_status is source
            assert moved.history[-1].to_status is target
            assert moved.history[-1].cause == event.value
            assert order.status is source  # the input is not changed
        else:
            with pytest.raises(IllegalTransition):
                transition(order, target, event)


def test_no_status_moves_to_itself_and_canceled_is_final() -> None:
    for status in STATUSES:
        assert (status, status) not in TRANSITIONS
    assert not any(src is OrderStatus.CANCELED for src, _ in TRANSITIONS)


def test_new_orders_start_only_from_store_events() -> None:
    assert is_allowed(None, OrderStatus.AWAITING_ORDER, Event.CUSTOMER_PAID)
    assert is_allowed(None, OrderStatus.PENDING, Event.ORDER_CREATED_UNPAID)
    assert not is_allowed(None, OrderStatus.AWAITING_PAYMENT, Event.ORDER_PLACED)


@pytest.mark.parametrize("target", STATUSES)
def test_a_new_order_begins_only_as_the_table_allows(target: OrderStatus) -> None:
    allowed = TRANSITIONS.get((None, target), frozenset())
    for event in Event:
        order = _order(target)
        if event in allowed:
            started = begin(order, event)
            assert started.status is target and order.history == []  # the input is not changed
            assert [(h.from_status, h.to_status, h.cause) for h in started.history] == [(None, target, event.value)]
        else:
            with pytest.raises(IllegalTransition):
                begin(order, event)


def test_history_is_bounded_and_keeps_the_first_entry() -> None:
    order = begin(_order(OrderStatus.AWAITING_ORDER), Event.CUSTOMER_PAID)
    order = transition(order, OrderStatus.FAILED, Event.PLACEMENT_FAILED)
    first = order.history[0]
    for _ in range(MAX_HISTORY):
        order = transition(order, OrderStatus.AWAITING_ORDER, Event.SELLER_RETRY)
        order = transition(order, OrderStatus.FAILED, Event.PLACEMENT_FAILED)
    assert len(order.history) == MAX_HISTORY
    assert order.history[0] == first
    assert order.history[-1].to_status is OrderStatus.FAILED
