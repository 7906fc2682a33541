"""In-memory fakes for the tracking room: the delivery ledger, a ShopBase store with its clients, a mailer.

`InMemoryLedger` keeps the semantics of `shared.data.notifications.DeliveryLedger` (one claim per package,
only the claim's holder finishes it, an atomic failure counter). `FakeShopBase` is a store that keeps the
fulfillments of its orders and hands out clients that record every call; it can be told to fail the next
calls (answered or applied-then-lost), to refuse a carrier, or that an order was deleted or fulfilled by hand.
`FakeMailer` records what it sent and can be told to reject, to fail without sending, or to lose the answer.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.data.mail import MailNotSent, MailOutcomeUnknown, MailRejected, RenderedEmail
from shared.data.notifications import Claim, EmailRecord, EmailStatus
from shared.logic.push import ShopNotConnected
from shared.models.shopbase_order import ShopBaseFulfillment as Fulfillment
from shared.shopbase.errors import ShopBaseError, ShopBaseNotFound, ShopBaseUnprocessable


class InMemoryLedger:
    """Fake of `shared.data.notifications.DeliveryLedger`."""

    def __init__(self) -> None:
        self.emails: dict[tuple[str, str, str], EmailRecord] = {}
        self.failures: Counter[tuple[str, str, str, str]] = Counter()
        self.calls: Counter[str] = Counter()

    def claim_email(self, shop: str, order_id: str, tracking_number: str, token: str, at: datetime) -> Claim:
        self.calls["claim_email"] += 1
        key = (shop, order_id, tracking_number)
        if key in self.emails:
            return Claim(claimed=False, existing=self.emails[key])
        self.emails[key] = EmailRecord(status=EmailStatus.SENDING, token=token, claimed_at=at.isoformat())
        return Claim(claimed=True)

    def get_email(self, shop: str, order_id: str, tracking_number: str) -> EmailRecord | None:
        return self.emails.get((shop, order_id, tracking_number))

    def mark_email_sent(self, shop: str, order_id: str, tracking_number: str, token: str, message_id: str,
                        at: datetime) -> None:
        self.calls["mark_email_sent"] += 1
        self._finish((shop, order_id, tracking_number), token, status=EmailStatus.SENT, sent_at=at.isoformat(),
                     message_id=message_id)

    def mark_email_rejected(self, shop: str, order_id: str, tracking_number: str, token: str, error: str) -> None:
        self.calls["mark_email_rejected"] += 1
        self._finish((shop, order_id, tracking_number), token, status=EmailStatus.REJECTED, error=error[:500])

    def release_email(self, shop: str, order_id: str, tracking_number: str, token: str) -> None:
        self.calls["release_email"] += 1
        key = (shop, order_id, tracking_number)
        record = self.emails.get(key)
        if record is not None and record.token == token and record.status == EmailStatus.SENDING:
            del self.emails[key]

    def _finish(self, key: tuple[str, str, str], token: str, **fields: Any) -> None:
        record = self.emails.get(key)
        if record is None or record.token != token or record.status != EmailStatus.SENDING:
            raise AssertionError(f"only the holder of a 'sending' claim finishes it: {key}")  # a conditional failure
        self.emails[key] = EmailRecord(**{**record.__dict__, **fields})

    def count_failure(self, shop: str, kind: str, order_id: str, attempt_key: str) -> int:
        self.calls["count_failure"] += 1
        self.failures[(shop, kind, order_id, attempt_key)] += 1
        return self.failures[(shop, kind, order_id, attempt_key)]


@dataclass
class _Fault:
    method: str  # "GET" (list_fulfillments) | "POST" (create_fulfillment) | "*"
    error: ShopBaseError
    applied: bool  # the store applied the POST before the answer was lost


@dataclass
class FakeShopBase:
    """A ShopBase store: fulfillments per order id, and clients for its shops (`client_for`)."""

    connected: set[str] = field(default_factory=set)
    fulfillments: dict[int, list[Fulfillment]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    fulfilled_by_hand: set[int] = field(default_factory=set)  # every item fulfilled in the admin
    refused_carriers: set[str] = field(default_factory=set)
    ordered: dict[int, dict[int, int]] = field(default_factory=dict)  # order id -> line item id -> quantity
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(5000))

    def client_for(self, shop: str) -> FakeShopBaseClient:
        if shop not in self.connected:
            raise ShopNotConnected(shop)
        return FakeShopBaseClient(self, shop)

    def fail_next(self, error: ShopBaseError, *, method: str = "*", times: int = 1, applied: bool = False) -> None:
        self._faults.extend(_Fault(method, error, applied) for _ in range(times))

    def fulfill_in_admin(self, order_id: int, tracking_number: str) -> None:
        self.fulfilled_by_hand.add(order_id)
        self._add(order_id, tracking_number, None, None, [])

    def created(self, order_id: int) -> list[Fulfillment]:
        return list(self.fulfillments.get(order_id, []))

    def fulfillable(self, order_id: int, lines: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """ShopBase's check of a create against what is left of each line (when the order's lines are known):
        nothing left → 422 "already fulfilled"; no lines → everything left."""
        ordered = self.ordered.get(order_id)
        if ordered is None:
            return lines
        done: dict[int, int] = {}
        for fulfillment in self.fulfillments.get(order_id, []):
            for item, quantity in ([(int(li.id), int(li.quantity)) for li in fulfillment.line_items]
                                   or ordered.items()):  # no lines: the whole order (fulfilled in the admin)
                done[item] = done.get(item, 0) + quantity
        left = {item: quantity - done.get(item, 0) for item, quantity in ordered.items()}
        wanted = [(int(i), int(q)) for i, q in lines] or [(i, q) for i, q in left.items() if q > 0]
        if not wanted or any(left.get(i, 0) <= 0 for i, _ in wanted):
            raise ShopBaseUnprocessable("ShopBase POST fulfillments answered 422", status=422,
                                        errors={"base": ["Line items are already fulfilled"]})
        if any(q > left.get(i, 0) for i, q in wanted):
            raise ShopBaseUnprocessable("ShopBase POST fulfillments answered 422", status=422,
                                        errors={"line_items": ["Quantity exceeds its fulfillable quantity"]})
        return wanted

    def posts(self) -> list[dict[str, Any]]:
        return [args for method, args in self.calls if method == "POST"]

    def _fault(self, method: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.method in ("*", method):
                return self._faults.pop(i)
        return None

    def _add(self, order_id: int, number: str, carrier: str | None, url: str | None,
             lines: list[tuple[int, int]]) -> Fulfillment:
        fulfillment = Fulfillment.model_validate({
            "id": next(self._ids), "order_id": order_id, "status": "success", "tracking_number": number,
            "tracking_company": carrier, "tracking_url": url,
            "line_items": [{"id": item_id, "quantity": quantity} for item_id, quantity in lines]})
        self.fulfillments.setdefault(order_id, []).append(fulfillment)
        return fulfillment


class FakeShopBaseClient:
    """What the push uses of `ShopBaseClient`, answered by a `FakeShopBase`."""

    def __init__(self, store: FakeShopBase, shop: str) -> None:
        self.store = store
        self.shop = shop

    def list_fulfillments(self, order_id: int) -> list[Fulfillment]:
        self.store.calls.append(("GET", {"order_id": order_id}))
        fault = self.store._fault("GET")
        if fault is not None:
            raise fault.error
        if order_id in self.store.deleted:
            raise ShopBaseNotFound("ShopBase GET fulfillments answered 404", status=404)
        return self.store.created(order_id)

    def create_fulfillment(self, order_id: int, *, tracking_number: str | None, tracking_company: str | None = None,
                           tracking_url: str | None = None, line_items: Iterable[Any] | None,
                           notify_customer: bool = True) -> Fulfillment:
        lines = [tuple(line) for line in line_items or []]
        self.store.calls.append(("POST", {"order_id": order_id, "tracking_number": tracking_number,
                                          "tracking_company": tracking_company, "tracking_url": tracking_url,
                                          "line_items": lines, "notify_customer": notify_customer}))
        fault = self.store._fault("POST")
        if fault is not None and not fault.applied:
            raise fault.error
        if order_id in self.store.deleted:
            raise ShopBaseNotFound("ShopBase POST fulfillments answered 404", status=404)
        if order_id in self.store.fulfilled_by_hand:
            raise ShopBaseUnprocessable("ShopBase POST fulfillments answered 422", status=422,
                                        errors={"base": ["Line items are already fulfilled"]})
        if tracking_company in self.store.refused_carriers:
            raise ShopBaseUnprocessable("ShopBase POST fulfillments answered 422", status=422,
                                        errors={"tracking_company": ["is not supported"]})
        lines = self.store.fulfillable(order_id, lines)
        created = self.store._add(order_id, str(tracking_number), tracking_company, tracking_url,
                                  [(int(i), int(q)) for i, q in lines])
        if fault is not None:  # applied, then the answer was lost (timeout, 5xx after the write)
            raise fault.error
        return created


@dataclass(frozen=True)
class SentEmail:
    sender: str
    recipient: str
    email: RenderedEmail
    message_id: str


class FakeMailer:
    """Fake of `shared.data.mail.SesMailer`: `fail_next` takes MailRejected / MailNotSent / MailOutcomeUnknown;
    `sent_then_lost` makes the next send deliver the email and then raise MailOutcomeUnknown."""

    def __init__(self) -> None:
        self.sent: list[SentEmail] = []
        self.attempts = 0
        self._faults: list[Exception] = []
        self._lose_next = 0
        self._ids = itertools.count(1)

    def fail_next(self, error: MailRejected | MailNotSent | MailOutcomeUnknown, times: int = 1) -> None:
        self._faults.extend([error] * times)

    def sent_then_lost(self, times: int = 1) -> None:
        self._lose_next += times

    def send(self, sender: str, recipient: str, email: RenderedEmail) -> str:
        self.attempts += 1
        if self._faults:
            raise self._faults.pop(0)
        message_id = f"msg-{next(self._ids)}"
        self.sent.append(SentEmail(sender, recipient, email, message_id))
        if self._lose_next:
            self._lose_next -= 1
            raise MailOutcomeUnknown("ReadTimeoutError")
        return message_id
