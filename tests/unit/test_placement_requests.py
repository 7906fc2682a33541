"""A seller's "place these orders" within API Gateway's 30 s: the inline bound, the time budget, in-doubt and
deferred orders queued (or answered as they are without a queue), the answer in the order asked; retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.data.placement_queue import QueueSendFailed
from shared.logic.place_request import IN_DOUBT, MAX_ORDERS_PER_CALL, TOO_MANY, PlaceReport, PlaceRequests
from shared.logic.placement import PlacementOutcome, PlacementResult
from shared.models.order import Order, OrderStatus
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_intake import RecordingQueue

SHOP = "demo-store"


class ScriptedPlacer:
    """Fake of `Placer`: answers per order id (placed unless told otherwise), remembers the calls."""

    def __init__(self, **answers: PlacementResult) -> None:
        self.answers = answers
        self.placed: list[str] = []
        self.retried: list[str] = []

    def place(self, shop: str, order_id: str) -> PlacementResult:
        self.placed.append(order_id)
        return self.answers.get(order_id) or PlacementResult(order_id, PlacementOutcome.PLACED, ae_order_ids=["81"])

    def retry(self, shop: str, order_id: str) -> Order:
        self.retried.append(order_id)
        return Order(shop=shop, order_id=order_id, status=OrderStatus.AWAITING_ORDER, created_at=datetime.now(UTC))


def requests(placer: ScriptedPlacer, queue: RecordingQueue | None = None, orders: InMemoryOrders | None = None,
             auto_place: Any = None, **limits: int) -> PlaceRequests:
    return PlaceRequests(placer, orders or InMemoryOrders(), queue, auto_place or (lambda _: False),  # type: ignore[arg-type]
                         **limits)


def outcomes(report: PlaceReport) -> list[tuple[str, str, str | None]]:
    return [(r.order_id, r.outcome.value, r.reason_code) for r in report.results]


def test_beyond_the_inline_bound_orders_are_queued_in_the_order_asked() -> None:
    placer, queue = ScriptedPlacer(), RecordingQueue()
    report = requests(placer, queue, max_inline=2).place(SHOP, ["5", "3", "3", "9", "1"])
    assert placer.placed == ["5", "3"]  # duplicates asked once
    assert outcomes(report) == [("5", "placed", None), ("3", "placed", None), ("9", "queued", "queued"),
                                ("1", "queued", "queued")]
    assert queue.sent == [(SHOP, ["9", "1"], 0)]
    assert report.results[2].reason == TOO_MANY
    assert report.as_dict()["summary"] == {"placed": 2, "failed": 0, "skipped": 0, "queued": 2}


def test_without_a_queue_the_rest_is_answered_deferred() -> None:
    report = requests(ScriptedPlacer(), None, max_inline=1).place(SHOP, ["1", "2"])
    assert outcomes(report) == [("1", "placed", None), ("2", "skipped", "deferred")]


def test_a_queue_refusing_the_messages_answers_them_as_they_are() -> None:
    queue = RecordingQueue(fail=QueueSendFailed("SQS refused 1 placement message(s)"))
    report = requests(ScriptedPlacer(), queue, max_inline=1).place(SHOP, ["1", "2"])
    assert outcomes(report) == [("1", "placed", None), ("2", "skipped", "deferred")]


def test_the_next_order_starts_only_while_its_budget_is_left() -> None:
    placer, queue = ScriptedPlacer(), RecordingQueue()
    left = iter([40_000, 17_999])  # asked before the 2nd and 3rd order (never before the 1st)
    report = requests(placer, queue, per_order_budget_ms=18_000).place(SHOP, ["1", "2", "3"],
                                                                      lambda: next(left))
    assert placer.placed == ["1", "2"] and [r.outcome.value for r in report.results] == ["placed", "placed", "queued"]


def test_the_first_order_is_always_tried() -> None:
    placer = ScriptedPlacer()
    requests(placer, RecordingQueue()).place(SHOP, ["1", "2"], lambda: 0)
    assert placer.placed == ["1"]


def test_in_doubt_orders_are_queued_for_later_and_in_progress_ones_are_answered() -> None:
    in_doubt = PlacementResult("1", PlacementOutcome.SKIPPED, "AliExpress did not answer", "TIMEOUT", retryable=True)
    busy = PlacementResult("2", PlacementOutcome.SKIPPED, "being placed by another request", "in_progress",
                           retryable=True)
    failed = PlacementResult("3", PlacementOutcome.FAILED, "Link variant 7, then retry.", "UNLINKED_ITEM")
    queue = RecordingQueue()
    report = requests(ScriptedPlacer(**{"1": in_doubt, "2": busy, "3": failed}), queue,
                      retry_delay=60).place(SHOP, ["1", "2", "3"])
    assert outcomes(report) == [("1", "queued", "queued"), ("2", "skipped", "in_progress"),
                                ("3", "failed", "UNLINKED_ITEM")]
    assert report.results[0].reason == IN_DOUBT and queue.sent == [(SHOP, ["1"], 60)]
    assert report.as_dict()["results"][2] == {"order_id": "3", "outcome": "failed", "reason": failed.reason,
                                              "reason_code": "UNLINKED_ITEM", "ae_order_ids": []}


def test_all_takes_awaiting_orders_oldest_first_up_to_the_bound() -> None:
    orders = InMemoryOrders()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(MAX_ORDERS_PER_CALL + 20):
        orders.add(Order(shop=SHOP, order_id=str(1000 + n), status=OrderStatus.AWAITING_ORDER,
                         created_at=start + timedelta(minutes=n)))
    orders.add(Order(shop=SHOP, order_id="1", status=OrderStatus.PENDING, created_at=start))
    orders.add(Order(shop="other-store", order_id="2", status=OrderStatus.AWAITING_ORDER, created_at=start))
    placer, queue = ScriptedPlacer(), RecordingQueue()
    report = requests(placer, queue, orders, max_inline=3).place(SHOP, None)
    assert len(report.results) == MAX_ORDERS_PER_CALL
    # The newest MAX_ORDERS_PER_CALL, the oldest of them first.
    assert placer.placed == ["1020", "1021", "1022"]
    assert report.results[-1].order_id == str(1000 + MAX_ORDERS_PER_CALL + 19)
    assert {r.order_id for r in report.results} == {str(1020 + n) for n in range(MAX_ORDERS_PER_CALL)}


def test_retry_hands_the_order_to_auto_place() -> None:
    seen: list[Order | None] = []
    placer = ScriptedPlacer()
    order = requests(placer, auto_place=lambda o: seen.append(o) or True).retry(SHOP, "7401")
    assert placer.retried == ["7401"] and seen == [order]


@pytest.mark.parametrize("order_ids", [[], ["1"]])
def test_nothing_is_queued_when_nothing_is_left(order_ids: list[str]) -> None:
    queue = RecordingQueue()
    requests(ScriptedPlacer(), queue).place(SHOP, order_ids)
    assert queue.sent == []
