"""The customer email's decisions over fakes: one email per package, the at-most-once ledger, what is recorded
on the package when nothing is sent, the retry and give-up rule. (SES under moto, the stream: tests/tracking.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.data.mail import MailNotSent, MailOutcomeUnknown, MailRejected
from shared.data.notifications import EmailStatus
from shared.logic.notify import TrackingNotifier
from shared.logic.package_attempts import RetryLater
from shared.models.order import Customer, LineItem, Order, OrderStatus, Package, PackageLine
from shared.models.shop import ShopSettings
from tests.unit.fakes import InMemoryOrders, InMemoryShops
from tests.unit.fakes_tracking import FakeMailer, InMemoryLedger

SHOP = "demo-store"
SENDER = "orders@mail.demo-store.com"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class World:
    def __init__(self, max_attempts: int = 3, **settings: object) -> None:
        self.orders = InMemoryOrders()
        self.shops = InMemoryShops()
        self.ledger = InMemoryLedger()
        self.mailer = FakeMailer()
        self.shops.put_settings(ShopSettings.model_validate({"shop": SHOP, "sender_email": SENDER, **settings}))
        self.ticks = 0
        self.notifier = TrackingNotifier(self.orders, self.shops, self.ledger, self.mailer,
                                         max_attempts=max_attempts, clock=self.clock)

    def clock(self) -> datetime:
        self.ticks += 1
        return NOW + timedelta(seconds=self.ticks)

    def order(self, *numbers: str, email: str | None = "ana@example.com", order_id: str = "1001") -> Order:
        return self.orders.add(Order(
            shop=SHOP, order_id=order_id, name=f"#{order_id}", status=OrderStatus.FULFILLED, created_at=NOW,
            customer=Customer(first_name="Ana", email=email),
            line_items=[LineItem(id="11", title="Mug", quantity=len(numbers))],
            packages=[Package(tracking_number=n, carrier="YunExpress", pushed_at=NOW, fulfillment_id="5001",
                              line_items=[PackageLine(line_item_id="11", quantity=1)]) for n in numbers]))

    def notify(self, key: str = "seq-1", order_id: str = "1001") -> object:
        return self.notifier.notify(SHOP, order_id, key)

    def package(self, number: str, order_id: str = "1001") -> Package:
        stored = self.orders.get(SHOP, order_id)
        assert stored is not None
        found = stored.package(number)
        assert found is not None
        return found


def test_one_email_per_package_with_its_carrier_and_link() -> None:
    world = World()
    world.order("YT1", "LP2")
    report = world.notify()
    assert sorted(report.sent) == ["LP2", "YT1"]  # type: ignore[attr-defined]
    assert [(m.sender, m.recipient) for m in world.mailer.sent] == [(SENDER, "ana@example.com")] * 2
    first = world.mailer.sent[0].email
    assert "YT1" in first.text and "YunExpress" in first.html and first.subject == "Your order #1001 is on its way"
    assert "https://t.17track.net/en#nums=YT1" in first.html  # no carrier link: the universal page
    for number in ("YT1", "LP2"):
        assert world.package(number).notified_at is not None and world.package(number).notify_error is None
        record = world.ledger.get_email(SHOP, "1001", number)
        assert record is not None and record.status == EmailStatus.SENT and record.message_id


def test_a_replay_sends_nothing_more() -> None:
    world = World()
    world.order("YT1")
    world.notify()
    world.notify()  # the package is no longer pending
    assert len(world.mailer.sent) == 1


def test_a_claim_already_sent_only_records_it_on_the_order() -> None:
    world = World()
    world.order("YT1")
    # An earlier attempt sent and marked the claim, then died before writing the order.
    world.ledger.claim_email(SHOP, "1001", "YT1", "tok", NOW)
    world.ledger.mark_email_sent(SHOP, "1001", "YT1", "tok", "msg-0", NOW)
    report = world.notify()
    assert world.mailer.sent == [] and report.already_sent == ["YT1"]  # type: ignore[attr-defined]
    assert world.package("YT1").notified_at == NOW


def test_lost_answer_is_never_sent_twice_delivery_not_confirmed() -> None:
    """At-most-once: the claim stays "sending"; the retry does not send again and says so on the package."""
    world = World()
    world.order("YT1")
    world.mailer.sent_then_lost()
    with pytest.raises(RetryLater):
        world.notify()
    record = world.ledger.get_email(SHOP, "1001", "YT1")
    assert record is not None and record.status == EmailStatus.SENDING
    assert world.package("YT1").needs_notify  # nothing recorded yet: the record is delivered again
    world.notify()
    assert len(world.mailer.sent) == 1
    package = world.package("YT1")
    assert package.notified_at is None and "not confirmed" in (package.notify_error or "")


def test_failure_that_sent_nothing_gives_the_claim_back_and_the_retry_sends() -> None:
    world = World()
    world.order("YT1")
    world.mailer.fail_next(MailNotSent("ServiceUnavailable"))
    with pytest.raises(RetryLater):
        world.notify()
    assert world.ledger.get_email(SHOP, "1001", "YT1") is None
    world.notify()
    assert len(world.mailer.sent) == 1 and world.package("YT1").notified_at is not None


def test_rejected_email_is_recorded_not_retried() -> None:
    world = World()
    world.order("YT1")
    world.mailer.fail_next(MailRejected("MessageRejected: Address blacklisted."))
    report = world.notify()
    assert "MessageRejected" in report.not_sent["YT1"]  # type: ignore[attr-defined]
    assert "MessageRejected" in (world.package("YT1").notify_error or "")
    record = world.ledger.get_email(SHOP, "1001", "YT1")
    assert record is not None and record.status == EmailStatus.REJECTED
    assert world.ledger.calls["count_failure"] == 0


@pytest.mark.parametrize(("settings", "email", "words"), [
    ({"send_tracking_email": False}, "ana@example.com", "off"),
    ({"sender_email": None}, "ana@example.com", "no sender address"),
    ({}, None, "no customer email"),
])
def test_not_sent_with_the_reason_on_the_package(settings: dict[str, object], email: str | None, words: str) -> None:
    world = World(**settings)
    world.order("YT1", email=email)
    world.notify()
    assert world.mailer.attempts == 0 and world.ledger.emails == {}
    package = world.package("YT1")
    assert package.notified_at is None and words in (package.notify_error or "")


def test_gives_up_after_max_attempts_with_the_reason_on_the_package() -> None:
    world = World(max_attempts=3)
    world.order("YT1")
    world.mailer.fail_next(MailNotSent("ServiceUnavailable"), times=10)
    for _ in range(2):
        with pytest.raises(RetryLater):
            world.notify(key="seq-9")
    report = world.notify(key="seq-9")
    assert report.gave_up  # type: ignore[attr-defined]
    assert "kept failing" in (world.package("YT1").notify_error or "")
    assert world.ledger.failures[(SHOP, "email", "1001", "seq-9")] == 3
    assert world.ledger.get_email(SHOP, "1001", "YT1") is None  # nothing blocks a later resend


def test_unknown_outcome_stops_the_batch_of_packages() -> None:
    world = World()
    world.order("YT1", "LP2")
    world.mailer.fail_next(MailOutcomeUnknown("ReadTimeoutError"))
    with pytest.raises(RetryLater):
        world.notify()
    assert world.mailer.attempts == 1  # LP2 waits for the record's next delivery
    world.notify()
    assert world.package("LP2").notified_at is not None
    assert "not confirmed" in (world.package("YT1").notify_error or "")
