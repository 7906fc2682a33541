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
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from shared.data.notifications import DeliveryLedger, EmailStatus
from shared.data.orders import OrderRepository
from shared.data.shops import ShopRepository, ShopSettings
from shared.models.order import Order, Package, utcnow

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_MAX_ATTEMPTS = 4
# Used when the carrier gave no tracking link: a universal tracking page (our choice).
FALLBACK_TRACKING_URL = "https://t.17track.net/en#nums={number}"
# No botocore retries: after a lost answer a retry could send the email twice. Retries are ours,
# only where SES surely sent nothing.
SES_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10)
# SES answers that will not heal by retrying the same email.
REJECTED_CODES = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue",
                            "ConfigurationSetDoesNotExistException", "AccountSendingPausedException",
                            "ConfigurationSetSendingPausedException"})
THROTTLED_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})


# --------------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


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
# SES


class MailRejected(Exception):
    """SES refused this email for good (address, sender identity...)."""


class MailNotSent(Exception):
    """SES surely sent nothing (it answered with an error, or no connection): safe to try again."""


class MailOutcomeUnknown(Exception):
    """The answer was lost: SES may have sent the email."""


class SesMailer:
    def __init__(self, client: Any | None = None, *, throttle_retries: int = 2,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._throttle_retries = throttle_retries
        self._sleep = sleep

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("ses", config=SES_CONFIG)
        return self._client

    def send(self, sender: str, recipient: str, email: RenderedEmail) -> str:
        """The SES message id."""
        attempt = 0
        while True:
            try:
                response = self.client.send_email(
                    Source=sender,
                    Destination={"ToAddresses": [recipient]},
                    Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"},
                             "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"},
                                      "Html": {"Data": email.html, "Charset": "UTF-8"}}})
                return str(response["MessageId"])
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in REJECTED_CODES:
                    message = error.response.get("Error", {}).get("Message", "")
                    raise MailRejected(f"{code}: {message}"[:300]) from error
                if code in THROTTLED_CODES and attempt < self._throttle_retries:
                    attempt += 1
                    self._sleep(0.2 * 2**attempt)  # throttled: surely not sent, so retrying here is safe
                    continue
                raise MailNotSent(code or "ClientError") from error
            except (EndpointConnectionError, ConnectTimeoutError) as error:
                raise MailNotSent(type(error).__name__) from error
            except (ReadTimeoutError, ConnectionClosedError) as error:
                raise MailOutcomeUnknown(type(error).__name__) from error


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
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    not_sent: dict[str, str] = field(default_factory=dict)
    transient: str | None = None
    gave_up: bool = False


class NotifyRetryLater(RuntimeError):
    """SES failed without sending: fail the record so it is delivered again."""


class TrackingNotifier:
    def __init__(self, orders: OrderRepository, shops: ShopRepository, ledger: DeliveryLedger, mailer: SesMailer,
                 *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, clock: Callable[[], datetime] = utcnow) -> None:
        self._orders = orders
        self._shops = shops
        self._ledger = ledger
        self._mailer = mailer
        self._max_attempts = max(1, max_attempts)
        self._clock = clock

    def notify(self, shop: str, order_id: str, attempt_key: str) -> NotifyReport:
        report = NotifyReport()
        order = self._orders.get(shop, order_id)
        if order is None:
            return report
        pending = [p for p in order.packages if p.needs_notify]
        if not pending:
            return report
        settings = self._shops.get_settings(shop) or ShopSettings(shop=shop)
        outcomes: dict[str, Notified | NotSent] = {}
        for package in pending:
            try:
                outcomes[package.tracking_number] = self._one(order, package, settings, report)
            except (MailNotSent, MailOutcomeUnknown) as error:
                report.transient = f"{type(error).__name__}: {error}"
                break
        if report.transient is not None:
            failures = self._ledger.count_failure(shop, "email", order_id, attempt_key)
            if failures >= self._max_attempts:
                report.gave_up = True
                for package in pending:
                    outcomes.setdefault(package.tracking_number, NotSent(
                        f"Email service kept failing ({report.transient}); the tracking email was not sent."))
        for number, outcome in outcomes.items():
            if isinstance(outcome, NotSent):
                report.not_sent[number] = outcome.reason
        self._orders.mutate(shop, order_id, lambda current: _apply_notify(current, outcomes))
        if report.transient is not None and not report.gave_up:
            raise NotifyRetryLater(f"order {order_id}: {report.transient}")
        return report

    def _one(self, order: Order, package: Package, settings: ShopSettings, report: NotifyReport) -> Notified | NotSent:
        if not settings.send_tracking_email:
            return NotSent("Not sent: this shop's tracking email is off (ShopBase notifies the customer).")
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
