"""The per-package attempt/give-up rule both tracking consumers use (shared.logic.package_attempts)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.logic.package_attempts import PackageAttempts
from shared.models.order import Order, OrderStatus, Package
from tests.unit.fakes import InMemoryOrders
from tests.unit.fakes_tracking import InMemoryLedger


def attempts(max_attempts: int) -> tuple[PackageAttempts, InMemoryOrders, InMemoryLedger]:
    orders, ledger = InMemoryOrders(), InMemoryLedger()
    return PackageAttempts(orders, ledger, "push", max_attempts=max_attempts,
                           needs=lambda p: p.needs_push), orders, ledger


def test_pending_reads_the_stored_order_and_keeps_what_still_needs_work() -> None:
    rule, orders, _ = attempts(3)
    assert rule.pending("s", "1") is None
    orders.add(Order(shop="s", order_id="1", status=OrderStatus.AWAITING_SHIPMENT,
                     created_at=datetime(2026, 1, 1, tzinfo=UTC),
                     packages=[Package(tracking_number="A"), Package(tracking_number="B", push_error="refused")]))
    found = rule.pending("s", "1")
    assert found is not None and [p.tracking_number for p in found[1]] == ["A"]


def test_gives_up_at_the_max_th_failure_of_one_record_only() -> None:
    rule, _, ledger = attempts(2)
    pending = [Package(tracking_number="A"), Package(tracking_number="B")]
    outcomes: dict[str, str] = {"A": "pushed"}

    def give_up(package: Package, failures: int) -> str:
        return f"gave up on {package.tracking_number} after {failures}"

    assert rule.gave_up("s", "1", "seq-1", None, pending, outcomes, give_up) is False  # no failure: not counted
    assert ledger.calls["count_failure"] == 0
    assert rule.gave_up("s", "1", "seq-1", "503", pending, outcomes, give_up) is False
    assert rule.gave_up("s", "1", "seq-2", "503", pending, outcomes, give_up) is False  # another record
    assert rule.gave_up("s", "1", "seq-1", "503", pending, outcomes, give_up) is True
    assert outcomes == {"A": "pushed", "B": "gave up on B after 2"}  # what succeeded is kept
    assert ledger.failures[("s", "push", "1", "seq-1")] == 2


def test_at_least_one_attempt() -> None:
    rule, _, _ = attempts(0)
    outcomes: dict[str, str] = {}
    assert rule.gave_up("s", "1", "k", "timeout", [Package(tracking_number="A")], outcomes, lambda p, n: "x")
    assert outcomes == {"A": "x"}
