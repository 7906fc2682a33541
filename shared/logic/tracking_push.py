"""Tracking to ShopBase: one fulfillment per package, never twice; and the seller's manual fulfillment.

Triggered by the orders table's stream (functions/push_tracking). The stream filter lets through order
records with `push_pending > 0`; `push_needed` then compares old and new images (a filter cannot) so
only a change that made a package pending starts a push. The push itself works on the order as stored
now (consistent read), never on the possibly stale image, and reads the store's fulfillments first:
a retry after a timeout, a duplicate record and a replayed batch all find their fulfillment there.

Failure handling:
- 429 / 5xx / timeouts: the record fails (partial batch failure) and is delivered again. The failures of
  one record are counted; after `max_attempts` the package gets `push_error` and the order moves to
  `failed` with a reason, so the seller sees it even though the on-failure queue only gets pointers.
- A 4xx that will not heal (order deleted, fulfilled by hand, carrier refused): `push_error` on the
  package at once and the order `failed` with the reason (or `fulfilled` when the store already shows
  the same tracking number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.data.dynamo import from_item
from shared.data.notifications import DeliveryLedger
from shared.data.orders import OrderRepository
from shared.data.shops import ShopRepository, ShopSettings, get_shop_secrets
from shared.lifecycle import Event, is_allowed, transition
from shared.models.order import Order, OrderStatus, Package, PackageLine, utcnow
from shared.settings import get_settings
from shared.shopbase.client import ShopBaseClient
from shared.shopbase.errors import (
    ShopBaseAuthError,
    ShopBaseError,
    ShopBaseNotFound,
    ShopBaseUnprocessable,
)
from shared.shopbase.protocol import error_messages

DEFAULT_MAX_ATTEMPTS = 4  # below the template's MaximumRetryAttempts + 1, so we record the failure first
TRANSIENT_ATTENTION = "Tracking is not on ShopBase yet: ShopBase did not answer; retrying automatically."
PUSH_REASON_CODES = frozenset({"push_order_deleted", "push_already_fulfilled", "push_invalid_carrier",
                               "push_refused", "push_not_connected", "push_unavailable", "push_order_canceled"})


# --------------------------------------------------------------------------------------------------
# Stream records


@dataclass(frozen=True)
class OrderChange:
    """What a stream record says about an order's packages (images already deserialized)."""

    shop: str
    order_id: str
    event_name: str
    old_packages: list[Package]
    new_packages: list[Package]


def _packages(image: Mapping[str, Any]) -> list[Package]:
    return [Package.model_validate(from_item(dict(raw))) for raw in image.get("packages") or []]


def order_change(event_name: str, new_image: Mapping[str, Any], old_image: Mapping[str, Any]) -> OrderChange | None:
    """None for items that are not orders (settings, ledger records) and for deletions."""
    if event_name not in ("INSERT", "MODIFY") or new_image.get("entity") != "order":
        return None
    shop, order_id = new_image.get("shop"), new_image.get("order_id")
    if not isinstance(shop, str) or not isinstance(order_id, str):
        raise ValueError("order image without shop/order_id")
    return OrderChange(shop=shop, order_id=order_id, event_name=event_name,
                       old_packages=_packages(old_image), new_packages=_packages(new_image))


def push_needed(change: OrderChange) -> set[str]:
    """Tracking numbers this change made pending for push (new package, or a cleared push_error)."""
    before = {p.tracking_number for p in change.old_packages if p.needs_push}
    return {p.tracking_number for p in change.new_packages if p.needs_push} - before


def notify_needed(change: OrderChange) -> set[str]:
    """Tracking numbers this change made pending for the customer email (the package was just pushed)."""
    before = {p.tracking_number for p in change.old_packages if p.needs_notify}
    return {p.tracking_number for p in change.new_packages if p.needs_notify} - before


def change_needing(record: DynamoDBRecord, needed: Callable[[OrderChange], set[str]]) -> tuple[OrderChange, str] | None:
    """The order change a stream record carries, with the record's sequence number (the attempt key), when
    `needed` finds work in it; None otherwise. Both stream consumers start here: filters cannot compare
    old and new images, this does."""
    stream = record.dynamodb
    if stream is None or record.event_name is None:
        return None
    change = order_change(record.event_name.name, stream.new_image, stream.old_image)
    if change is None or not needed(change):
        return None
    return change, stream.sequence_number or "none"


# --------------------------------------------------------------------------------------------------
# ShopBase clients


class ShopNotConnected(RuntimeError):
    """No ShopBase access token for the shop."""


@dataclass
class ShopBaseClientFactory:
    """Builds the shop's client: token from its secret (cached), base URL from settings."""

    options: dict[str, Any] = field(default_factory=dict)  # timeout, max_retries, sleep, backoff_base...

    def __call__(self, shop: str) -> ShopBaseClient:
        secrets = get_shop_secrets(shop)
        if secrets is None or secrets.shopbase_access_token is None:
            raise ShopNotConnected(shop)
        base_url = get_settings().shopbase_base_url.format(shop=shop)
        return ShopBaseClient(shop, access_token=secrets.shopbase_access_token.get_secret_value(),
                              base_url=base_url, **self.options)


# --------------------------------------------------------------------------------------------------
# Push


@dataclass(frozen=True)
class Pushed:
    fulfillment_id: str
    already_there: bool = False


@dataclass(frozen=True)
class Refused:
    reason: str  # a sentence for the seller
    code: str


@dataclass
class PushReport:
    created: list[str] = field(default_factory=list)  # fulfillments we created now
    found: list[str] = field(default_factory=list)  # already on ShopBase (an earlier attempt, a replay)
    refused: dict[str, str] = field(default_factory=dict)
    transient: str | None = None
    gave_up: bool = False
    status: OrderStatus | None = None


class PushRetryLater(RuntimeError):
    """ShopBase could not be reached or answered 429/5xx: fail the record so it is delivered again."""


def _store_tracking(client: ShopBaseClient, order_id: str) -> dict[str, str]:
    """Tracking number -> fulfillment id of the store's active fulfillments."""
    found: dict[str, str] = {}
    for fulfillment in client.list_fulfillments(int(order_id)):
        if fulfillment.is_active:
            for number in fulfillment.all_tracking_numbers:
                found.setdefault(number, str(fulfillment.id))
    return found


def _refusal(error: ShopBaseUnprocessable, package: Package) -> Refused:
    if error.is_invalid_carrier:
        return Refused(f"ShopBase does not accept the carrier '{package.carrier}' for tracking "
                       f"{package.tracking_number}; fulfill it again with a carrier ShopBase knows.",
                       "push_invalid_carrier")
    detail = "; ".join(error_messages(error.errors))[:300] or str(error)
    return Refused(f"ShopBase refused the fulfillment for tracking {package.tracking_number}: {detail}",
                   "push_refused")


class TrackingPusher:
    def __init__(self, orders: OrderRepository, shops: ShopRepository, ledger: DeliveryLedger,
                 client_for: Callable[[str], ShopBaseClient], *, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._orders = orders
        self._shops = shops
        self._ledger = ledger
        self._client_for = client_for
        self._max_attempts = max(1, max_attempts)
        self._clock = clock

    def push(self, shop: str, order_id: str, attempt_key: str) -> PushReport:
        """Push every package of the order that still needs it. Raises PushRetryLater on a transient failure
        (after recording what succeeded), until the record's `max_attempts`-th failure."""
        report = PushReport()
        order = self._orders.get(shop, order_id)
        if order is None:
            return report
        pending = [p for p in order.packages if p.needs_push]
        if not pending:
            return report
        outcomes: dict[str, Pushed | Refused] = {}
        if order.status is OrderStatus.CANCELED:
            for package in pending:
                outcomes[package.tracking_number] = Refused(
                    f"The order was canceled in the store; tracking {package.tracking_number} was not sent.",
                    "push_order_canceled")
        else:
            report.transient = self._push_packages(order, pending, outcomes)
        for number, outcome in outcomes.items():
            if isinstance(outcome, Pushed):
                (report.found if outcome.already_there else report.created).append(number)
            else:
                report.refused[number] = outcome.reason
        if report.transient is not None:
            failures = self._ledger.count_failure(shop, "push", order_id, attempt_key)
            if failures >= self._max_attempts:
                report.gave_up = True
                for package in pending:
                    outcomes.setdefault(package.tracking_number, Refused(
                        f"ShopBase kept failing ({report.transient}) after {failures} attempts; tracking "
                        f"{package.tracking_number} was not sent. Fulfill it again to retry.", "push_unavailable"))
        retrying = report.transient is not None and not report.gave_up
        now = self._clock()
        mutation = self._orders.mutate(shop, order_id, lambda current: _apply_push(current, outcomes, retrying, now))
        report.status = mutation.order.status if mutation.order else None
        if retrying:
            raise PushRetryLater(f"order {order_id}: {report.transient}")
        return report

    def _push_packages(self, order: Order, pending: list[Package], outcomes: dict[str, Pushed | Refused]) -> str | None:
        """Fill `outcomes`; return a description of a transient failure that stopped the work, if any."""
        try:
            client = self._client_for(order.shop)
        except ShopNotConnected:
            for package in pending:
                outcomes[package.tracking_number] = Refused(
                    "The store is not connected (no ShopBase access token); reconnect it, then fulfill again.",
                    "push_not_connected")
            return None
        settings = self._shops.get_settings(order.shop) or ShopSettings(shop=order.shop)
        try:
            existing = _store_tracking(client, order.order_id)
            for package in pending:
                number = package.tracking_number
                if number in existing:
                    outcomes[number] = Pushed(existing[number], already_there=True)
                    continue
                if order.fulfilled_in_store:
                    outcomes[number] = Refused(
                        f"The order was fulfilled by hand in the ShopBase admin; tracking {number} was not sent.",
                        "push_already_fulfilled")
                    continue
                try:
                    created = client.create_fulfillment(
                        int(order.order_id), tracking_number=number, tracking_company=package.carrier or None,
                        tracking_url=package.tracking_url,
                        line_items=[(int(line.line_item_id), line.quantity) for line in package.line_items] or None,
                        notify_customer=settings.notify_customer)
                except ShopBaseUnprocessable as error:
                    if not error.is_already_fulfilled:
                        outcomes[number] = _refusal(error, package)
                        continue
                    # Our own earlier attempt may have landed (its answer was lost): look again.
                    existing = _store_tracking(client, order.order_id)
                    if number in existing:
                        outcomes[number] = Pushed(existing[number], already_there=True)
                    else:
                        outcomes[number] = Refused(
                            f"ShopBase says the items of tracking {number} are already fulfilled (by hand in "
                            "the store?); it was not sent.", "push_already_fulfilled")
                else:
                    outcomes[number] = Pushed(str(created.id))
                    existing[number] = str(created.id)
        except ShopBaseNotFound:
            for package in pending:
                outcomes.setdefault(package.tracking_number, Refused(
                    "The order no longer exists in ShopBase (deleted in the store); tracking was not sent.",
                    "push_order_deleted"))
        except ShopBaseAuthError:
            for package in pending:
                outcomes.setdefault(package.tracking_number, Refused(
                    "ShopBase refused our access token (app uninstalled or permission removed); reconnect "
                    "the store, then fulfill again.", "push_not_connected"))
        except ShopBaseError as error:
            if error.retryable or error.outcome_unknown:
                return f"{type(error).__name__}: {error}"
            for package in pending:
                outcomes.setdefault(package.tracking_number, Refused(
                    f"ShopBase refused the fulfillment for tracking {package.tracking_number}: {error}",
                    "push_refused"))
        return None


def _apply_push(current: Order | None, outcomes: Mapping[str, Pushed | Refused], retrying: bool,
                now: datetime) -> Order | None:
    if current is None:
        return None
    before = current.model_copy(deep=True)
    order = current
    refusals: list[Refused] = []
    for package in order.packages:
        outcome = outcomes.get(package.tracking_number)
        if outcome is None or not package.needs_push:
            continue
        if isinstance(outcome, Pushed):
            package.pushed_at = now
            package.fulfillment_id = outcome.fulfillment_id
        else:
            package.push_error = outcome.reason
            refusals.append(outcome)
    if refusals:
        order.reason, order.reason_code = refusals[0].reason, refusals[0].code
        if order.status is not OrderStatus.FAILED:
            if is_allowed(order.status, OrderStatus.FAILED, Event.PUSH_FAILED):
                order = transition(order, OrderStatus.FAILED, Event.PUSH_FAILED, now)
            else:  # e.g. canceled or already fulfilled: keep the tab, flag the order
                order.attention = refusals[0].reason
    if retrying:
        order.attention = order.attention or TRANSIENT_ATTENTION
    elif order.attention == TRANSIENT_ATTENTION:
        order.attention = None
    if (order.all_items_pushed() and order.status is not OrderStatus.FULFILLED
            and is_allowed(order.status, OrderStatus.FULFILLED, Event.ALL_PUSHED)):
        order = transition(order, OrderStatus.FULFILLED, Event.ALL_PUSHED, now)
        if order.reason_code in PUSH_REASON_CODES:
            order.reason = order.reason_code = None
    return None if order == before else order


# --------------------------------------------------------------------------------------------------
# The seller's manual fulfillment

TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\- ]{2,63}$")
FULFILLABLE_STATUSES = frozenset({OrderStatus.AWAITING_ORDER, OrderStatus.AWAITING_PAYMENT,
                                  OrderStatus.AWAITING_SHIPMENT, OrderStatus.FAILED})


class ManualLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=100_000)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ManualFulfillment(BaseModel):
    """Body of POST /shops/{shop}/orders/{id}/fulfill."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tracking_number: str = Field(min_length=3, max_length=64)
    carrier: str = Field(min_length=1, max_length=100)
    tracking_url: str | None = Field(default=None, max_length=2000)
    line_items: list[ManualLine] | None = Field(default=None, min_length=1, max_length=500)

    @field_validator("tracking_number")
    @classmethod
    def _tracking(cls, value: str) -> str:
        if not TRACKING_NUMBER.match(value):
            raise ValueError("letters, digits, spaces and dashes only (3-64)")
        return value

    @field_validator("tracking_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s]+$", value):
            raise ValueError("must be an http(s) URL")
        return value or None


class FulfillmentRejected(ValueError):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class ManualResult:
    order: Order
    package: Package
    outcome: str  # "created" | "unchanged" | "retrying"


def remaining_quantities(order: Order) -> dict[str, int]:
    """Per line item: quantity not yet covered by a package (pending or pushed; refused ones do not count)."""
    covered: dict[str, int] = {}
    for package in order.packages:
        if package.push_error is not None:
            continue
        for line in package.line_items:
            covered[line.line_item_id] = covered.get(line.line_item_id, 0) + line.quantity
    return {item.id: max(0, item.quantity - covered.get(item.id, 0)) for item in order.line_items}


def _requested_lines(order: Order, request: ManualFulfillment) -> list[PackageLine]:
    remaining = remaining_quantities(order)
    if request.line_items is None:
        lines = [PackageLine(line_item_id=item_id, quantity=left) for item_id, left in remaining.items() if left > 0]
        if not lines:
            raise FulfillmentRejected(409, "every item of this order already has a tracking number")
        return lines
    wanted: dict[str, int] = {}
    for line in request.line_items:
        if line.id not in remaining:
            raise FulfillmentRejected(422, f"line item {line.id} is not part of this order", field="line_items")
        wanted[line.id] = wanted.get(line.id, 0) + line.quantity
    for item_id, quantity in wanted.items():
        if quantity > remaining[item_id]:
            raise FulfillmentRejected(
                422, f"line item {item_id}: quantity {quantity} is more than the {remaining[item_id]} "
                     "not yet fulfilled", field="line_items")
    return [PackageLine(line_item_id=item_id, quantity=quantity) for item_id, quantity in wanted.items()]


def _same_lines(package: Package, lines: Iterable[PackageLine]) -> bool:
    return sorted((x.line_item_id, x.quantity) for x in package.line_items) == sorted(
        (x.line_item_id, x.quantity) for x in lines)


def add_manual_package(orders: OrderRepository, shop: str, order_id: str,
                       request: ManualFulfillment, now: datetime | None = None) -> ManualResult:
    """Record the seller's package on the order; the stream pushes it like any other.

    Idempotent for the same tracking number. Posting a tracking number whose push was refused again
    (e.g. with a corrected carrier) clears the refusal, which makes the stream push it once more.
    """
    result: dict[str, Any] = {}

    def change(current: Order | None) -> Order | None:
        if current is None:
            raise FulfillmentRejected(404, "order not found")
        existing = current.package(request.tracking_number)
        if existing is not None:
            if existing.push_error is not None:
                existing.push_error = None
                existing.carrier = request.carrier
                existing.tracking_url = request.tracking_url or existing.tracking_url
                if current.attention == current.reason:
                    current.attention = None
                result.update(package=existing, outcome="retrying")
                return current
            if request.line_items is not None and not _same_lines(
                    existing, [PackageLine(line_item_id=x.id, quantity=x.quantity) for x in request.line_items]):
                raise FulfillmentRejected(409, f"tracking number {request.tracking_number} is already used for "
                                               "other items of this order", field="tracking_number")
            result.update(package=existing, outcome="unchanged")
            return None
        if current.status is OrderStatus.CANCELED:
            raise FulfillmentRejected(409, "the order is canceled; it cannot be fulfilled")
        if current.fulfilled_in_store:
            raise FulfillmentRejected(409, "the order was already fulfilled in the ShopBase admin")
        if current.status not in FULFILLABLE_STATUSES:
            detail = {OrderStatus.PENDING: "the customer has not paid yet",
                      OrderStatus.FULFILLED: "every item is already fulfilled"}.get(
                current.status, f"the order is {current.status.value}")
            raise FulfillmentRejected(409, f"the order cannot be fulfilled: {detail}")
        package = Package(tracking_number=request.tracking_number, carrier=request.carrier,
                          tracking_url=request.tracking_url, line_items=_requested_lines(current, request),
                          ae_order_id=None, source="manual", found_at=now or utcnow())
        current.packages.append(package)
        result.update(package=package, outcome="created")
        return current

    mutation = orders.mutate(shop, order_id, change)
    if mutation.order is None:
        raise FulfillmentRejected(404, "order not found")
    return ManualResult(order=mutation.order, package=result["package"], outcome=result["outcome"])
