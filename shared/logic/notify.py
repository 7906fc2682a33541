"""The customer's tracking email: one per package, whatever the retries (functions/notify_customer).

Exactly-once, as far as SES allows (SES has no idempotency key):
1. claim `EMAIL#<order>#<tracking>` with a conditional put (attribute_not_exists) BEFORE sending;
2. send through SES;
3. mark the claim `sent` (with the message id), then record `notified_at` on the order.
A retry that finds `sent` only does step 3 on the order. A failure that surely sent nothing (SES
answered with an error, or the connection was never opened) gives the claim back, so a retry sends.

Crash between send and mark (or a lost SES answer): the claim stays `sending`. We chose AT-MOST-ONCE:
a later attempt that finds a `sending` claim does not send again; it records on the package that the
delivery is not confirmed (`notify_error`), so the seller sees it. The window is one DynamoDB write
wide; a duplicate email would be the worse outcome for "exactly one email per package".
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Protocol
from urllib.parse import quote

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.data.mail import MailNotSent, MailOutcomeUnknown, MailRejected, RenderedEmail
from shared.data.notifications import Claim, EmailStatus
from shared.logic.package_attempts import OrderStore, RetryLater, ShopSettingsReader, TrackingConsumer
from shared.models.order import Order, Package, utcnow
from shared.models.shop import ShopSettings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Used when the carrier gave no tracking link: a universal tracking page (our choice).
FALLBACK_TRACKING_URL = "https://t.17track.net/en#nums={number}"


class Mailer(Protocol):
    """Sends one email; raises MailRejected / MailNotSent / MailOutcomeUnknown (`shared.data.mail.SesMailer`)."""

    def send(self, sender: str, recipient: str, email: RenderedEmail) -> str:
        """The message id."""
        ...


class EmailLedger(Protocol):
    """The at-most-once records of the tracking emails (`shared.data.notifications.DeliveryLedger`)."""

    def claim_email(self, shop: str, order_id: str, tracking_number: str, token: str, at: datetime) -> Claim: ...

    def mark_email_sent(self, shop: str, order_id: str, tracking_number: str, token: str, message_id: str,
                        at: datetime) -> None: ...

    def mark_email_rejected(self, shop: str, order_id: str, tracking_number: str, token: str,
                            error: str) -> None: ...

    def release_email(self, shop: str, order_id: str, tracking_number: str, token: str) -> None: ...

    def count_failure(self, shop: str, kind: str, order_id: str, attempt_key: str) -> int: ...


# --------------------------------------------------------------------------------------------------
# Rendering


@lru_cache(maxsize=8)
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def tracking_link(package: Package) -> str:
    url = package.tracking_url or ""
    if url.startswith(("https://", "http://")):
        return url
    return FALLBACK_TRACKING_URL.format(number=quote(package.tracking_number, safe=""))


def render_tracking_email(order: Order, package: Package) -> RenderedEmail:
    titles = {item.id: (item.title, item.variant_title) for item in order.line_items}
    items: list[str] = []
    for line in package.line_items:
        title, variant = titles.get(line.line_item_id, ("Item", None))
        items.append(f"{line.quantity} x {title}" + (f" ({variant})" if variant else ""))
    values = {
        "customer_name": (order.customer.first_name or "").strip() or "there",
        "order_name": order.name or f"#{order.order_id}",
        "carrier": package.carrier or "the carrier",
        "tracking_number": package.tracking_number,
        "tracking_url": tracking_link(package),
        "shop_name": order.shop,
    }
    text_values = {**values, "items": "\n".join(f"- {item}" for item in items)}
    html_values = {k: html.escape(v, quote=True) for k, v in values.items()}
    html_values["items"] = "\n".join(f"    <li>{html.escape(item)}</li>" for item in items)
    subject = _template("tracking_email_subject.txt").substitute(values).strip()
    return RenderedEmail(subject=" ".join(subject.split()),
                         text=_template("tracking_email.txt").substitute(text_values),
                         html=_template("tracking_email.html").substitute(html_values))


# --------------------------------------------------------------------------------------------------
# Notify


@dataclass(frozen=True)
class Notified:
    at: datetime


@dataclass(frozen=True)
class NotSent:
    reason: str


@dataclass
class NotifyReport:
    shop: str
    order_id: str
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    not_sent: dict[str, str] = field(default_factory=dict)
    transient: str | None = None
    gave_up: bool = False


class TrackingNotifier(TrackingConsumer):
    def __init__(self, orders: OrderStore, shops: ShopSettingsReader, ledger: EmailLedger, mailer: Mailer,
                 *, max_attempts: int, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(orders, shops, ledger, "email", needs=lambda package: package.needs_notify,
                         max_attempts=max_attempts, clock=clock)
        self._ledger = ledger
        self._mailer = mailer

    def notify_record(self, record: DynamoDBRecord) -> NotifyReport | None:
        """Email what a stream record made pending; None for a record without such a change."""
        return self._attempts.on_record(record, self.notify)

    def notify(self, shop: str, order_id: str, attempt_key: str) -> NotifyReport:
        """Email every pushed package of the order not emailed yet. Raises RetryLater when SES failed without
        a sure outcome, until the record's `max_attempts`-th failure."""
        report = NotifyReport(shop=shop, order_id=order_id)
        found = self._attempts.pending(shop, order_id)
        if found is None:
            return report
        order, pending = found
        settings = self._shops.get_settings(shop) or ShopSettings(shop=shop)
        outcomes: dict[str, Notified | NotSent] = {}
        for package in pending:
            try:
                outcomes[package.tracking_number] = self._one(order, package, settings, report)
            except (MailNotSent, MailOutcomeUnknown) as error:
                report.transient = f"{type(error).__name__}: {error}"
                break
        if report.transient is not None:
            report.gave_up = self._attempts.gave_up(shop, order_id, attempt_key, report.transient, pending, outcomes,
                                                    _unavailable(report.transient))
        for number, outcome in outcomes.items():
            if isinstance(outcome, NotSent):
                report.not_sent[number] = outcome.reason
        self._orders.mutate(shop, order_id, lambda current: _apply_notify(current, outcomes), known=order)
        if report.transient is not None and not report.gave_up:
            raise RetryLater(f"order {order_id}: {report.transient}")
        return report

    def _one(self, order: Order, package: Package, settings: ShopSettings, report: NotifyReport) -> Notified | NotSent:
        if not settings.send_tracking_email:
            other = "ShopBase's shipping email is on" if settings.notify_customer else "no email channel is on"
            return NotSent(f"Not sent: this shop's tracking email is off ({other}).")
        if not settings.sender_email:
            return NotSent("Not sent: no sender address is set for this shop's tracking emails.")
        recipient = order.customer.email
        if not recipient:
            return NotSent("Not sent: the order has no customer email.")
        number = package.tracking_number
        token = uuid.uuid4().hex
        now = self._clock()
        claim = self._ledger.claim_email(order.shop, order.order_id, number, token, now)
        if not claim.claimed:
            existing = claim.existing
            if existing is not None and existing.status == EmailStatus.SENT:
                report.already_sent.append(number)
                return Notified(datetime.fromisoformat(existing.sent_at) if existing.sent_at else now)
            if existing is not None and existing.status == EmailStatus.REJECTED:
                return NotSent(f"The email service refused the tracking email: {existing.error}")
            return NotSent("Delivery not confirmed: an earlier attempt was interrupted while sending, so the "
                           "tracking email was not sent again (it may or may not have reached the customer).")
        email = render_tracking_email(order, package)
        try:
            message_id = self._mailer.send(settings.sender_email, recipient, email)
        except MailRejected as error:
            self._ledger.mark_email_rejected(order.shop, order.order_id, number, token, str(error))
            return NotSent(f"The email service refused the tracking email: {error}")
        except MailNotSent:
            self._ledger.release_email(order.shop, order.order_id, number, token)
            raise
        # MailOutcomeUnknown propagates with the claim left "sending" (at-most-once, see the module doc).
        sent_at = self._clock()
        self._ledger.mark_email_sent(order.shop, order.order_id, number, token, message_id, sent_at)
        report.sent.append(number)
        return Notified(sent_at)


def _unavailable(transient: str) -> Callable[[Package, int], NotSent]:
    def give_up(package: Package, failures: int) -> NotSent:
        return NotSent(f"Email service kept failing ({transient}); the tracking email was not sent.")

    return give_up


def _apply_notify(current: Order | None, outcomes: Mapping[str, Notified | NotSent]) -> Order | None:
    if current is None:
        return None
    changed = False
    for package in current.packages:
        outcome = outcomes.get(package.tracking_number)
        if outcome is None or not package.needs_notify:
            continue
        if isinstance(outcome, Notified):
            package.notified_at = outcome.at
        else:
            package.notify_error = outcome.reason
        changed = True
    return current if changed else None
