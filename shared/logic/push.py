"""Tracking to ShopBase: one fulfillment per package, never twice (functions/push_tracking).

The push works on the order as stored now (consistent read), never on the possibly stale stream image. It
creates the fulfillment first when a second create could not succeed (the package fulfils what is left of its
lines: ShopBase answers a repeat with 422 "already fulfilled", and only then are the store's fulfillments read);
otherwise it reads them first. Either way a retry after a timeout, a duplicate record, a replayed batch and a
crash before our record all find their fulfillment instead of making a second. One ShopBase call per package in
the common case; one order read and one conditional write per push.

Failure handling:
- 429 / 5xx / timeouts: the record fails and is delivered again, until the give-up rule of
  `shared.logic.package_attempts` records `push_error` on the package and moves the order to `failed`.
- A 4xx that will not heal (order deleted, fulfilled by hand, carrier refused): `push_error` on the
  package at once and the order `failed` with the reason (or `fulfilled` when the store already shows
  the same tracking number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.lifecycle import Event, is_allowed, transition
from shared.logic.package_attempts import FailureCounter, OrderStore, RetryLater, ShopSettingsReader, TrackingConsumer
from shared.models.order import Order, OrderStatus, Package, utcnow
from shared.models.shop import ShopSettings
from shared.shopbase.client import ShopBaseClient
from shared.shopbase.errors import (
    ShopBaseAuthError,
    ShopBaseError,
    ShopBaseNotFound,
    ShopBaseUnprocessable,
)
from shared.shopbase.protocol import error_messages

if TYPE_CHECKING:
    from shared.models.shop import ShopSecrets
    from shared.models.shopbase_order import ShopBaseFulfillment

TRANSIENT_ATTENTION = "Tracking is not on ShopBase yet: ShopBase did not answer; retrying automatically."
PUSH_REASON_CODES = frozenset({"push_order_deleted", "push_already_fulfilled", "push_invalid_carrier",
                               "push_refused", "push_not_connected", "push_unavailable", "push_order_canceled"})


class FulfillmentClient(Protocol):
    """What the push uses of `shared.shopbase.client.ShopBaseClient`."""

    def list_fulfillments(self, order_id: int) -> list[ShopBaseFulfillment]: ...

    def create_fulfillment(self, order_id: int, *, tracking_number: str | None, tracking_company: str | None = None,
                           tracking_url: str | None = None, line_items: Iterable[Any] | None,
                           notify_customer: bool = True) -> ShopBaseFulfillment: ...


# --------------------------------------------------------------------------------------------------
# ShopBase clients


class ShopNotConnected(RuntimeError):
    """No ShopBase access token for the shop."""


@dataclass(frozen=True)
class ShopBaseClientFactory:
    """Builds the shop's client: token from its secrets, base URL from the template ("https://{shop}...")."""

    secrets_of: Callable[[str], ShopSecrets | None]
    base_url: str
    options: Mapping[str, Any] = field(default_factory=dict)  # timeout, max_retries, sleep, backoff_base...

    def __call__(self, shop: str) -> ShopBaseClient:
        secrets = self.secrets_of(shop)
        if secrets is None or secrets.shopbase_access_token is None:
            raise ShopNotConnected(shop)
        return ShopBaseClient(shop, access_token=secrets.shopbase_access_token.get_secret_value(),
                              base_url=self.base_url.format(shop=shop), **self.options)


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
    shop: str
    order_id: str
    created: list[str] = field(default_factory=list)  # fulfillments we created now
    found: list[str] = field(default_factory=list)  # already on ShopBase (an earlier attempt, a replay)
    refused: dict[str, str] = field(default_factory=dict)
    transient: str | None = None
    gave_up: bool = False
    status: OrderStatus | None = None


def _store_tracking(client: FulfillmentClient, order_id: str) -> dict[str, str]:
    """Tracking number -> fulfillment id of the store's active fulfillments."""
    found: dict[str, str] = {}
    for fulfillment in client.list_fulfillments(int(order_id)):
        if fulfillment.is_active:
            for number in fulfillment.all_tracking_numbers:
                found.setdefault(number, str(fulfillment.id))
    return found


def _a_second_create_is_refused(order: Order, package: Package, pushed_now: Iterable[Package]) -> bool:
    """True when creating this package's fulfillment twice is impossible: it fulfils everything left of each of
    its lines (or, with no lines, everything left of the order), so a repeat finds nothing to fulfil and ShopBase
    answers 422 "already fulfilled", which sends us to read the store's fulfillments. Then the common case costs
    one ShopBase call; a package that leaves part of a line for a later parcel is looked up first."""
    if not package.line_items:
        return True
    done: dict[str, int] = {}
    for other in [p for p in order.packages if p.pushed_at is not None] + list(pushed_now):
        if other.tracking_number != package.tracking_number:
            for line in other.line_items:
                done[line.line_item_id] = done.get(line.line_item_id, 0) + line.quantity
    ordered = {item.id: item.quantity for item in order.line_items}
    return all(done.get(line.line_item_id, 0) + line.quantity >= ordered.get(line.line_item_id, 0)
               for line in package.line_items)


def _refusal(error: ShopBaseUnprocessable, package: Package) -> Refused:
    if error.is_invalid_carrier:
        return Refused(f"ShopBase does not accept the carrier '{package.carrier}' for tracking "
                       f"{package.tracking_number}; fulfill it again with a carrier ShopBase knows.",
                       "push_invalid_carrier")
    detail = "; ".join(error_messages(error.errors))[:300] or str(error)
    return Refused(f"ShopBase refused the fulfillment for tracking {package.tracking_number}: {detail}",
                   "push_refused")


def _unavailable(transient: str) -> Callable[[Package, int], Refused]:
    def give_up(package: Package, failures: int) -> Refused:
        return Refused(f"ShopBase kept failing ({transient}) after {failures} attempts; tracking "
                       f"{package.tracking_number} was not sent. Fulfill it again to retry.", "push_unavailable")

    return give_up


class TrackingPusher(TrackingConsumer):
    def __init__(self, orders: OrderStore, shops: ShopSettingsReader, ledger: FailureCounter,
                 client_for: Callable[[str], FulfillmentClient], *, max_attempts: int,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(orders, shops, ledger, "push", needs=lambda package: package.needs_push,
                         max_attempts=max_attempts, clock=clock)
        self._client_for = client_for

    def push_record(self, record: DynamoDBRecord) -> PushReport | None:
        """Push what a stream record made pending; None for a record without such a change."""
        return self._attempts.on_record(record, self.push)

    def push(self, shop: str, order_id: str, attempt_key: str) -> PushReport:
        """Push every package of the order that still needs it. Raises RetryLater on a transient failure
        (after recording what succeeded), until the record's `max_attempts`-th failure."""
        report = PushReport(shop=shop, order_id=order_id)
        found = self._attempts.pending(shop, order_id)
        if found is None:
            return report
        order, pending = found
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
            report.gave_up = self._attempts.gave_up(shop, order_id, attempt_key, report.transient, pending, outcomes,
                                                    _unavailable(report.transient))
        retrying = report.transient is not None and not report.gave_up
        now = self._clock()
        mutation = self._orders.mutate(shop, order_id, lambda current: _apply_push(current, outcomes, retrying, now),
                                       known=order)
        report.status = mutation.order.status if mutation.order else None
        if retrying:
            raise RetryLater(f"order {order_id}: {report.transient}")
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
        existing: dict[str, str] | None = None  # the store's fulfillments, read only when a package needs them
        pushed_now: list[Package] = []
        try:
            for package in pending:
                number = package.tracking_number
                if order.fulfilled_in_store or not _a_second_create_is_refused(order, package, pushed_now):
                    # ShopBase could accept this package twice: look for an earlier attempt's fulfillment first.
                    if existing is None:
                        existing = _store_tracking(client, order.order_id)
                    if number in existing:
                        outcomes[number] = Pushed(existing[number], already_there=True)
                        pushed_now.append(package)
                        continue
                    if order.fulfilled_in_store:
                        outcomes[number] = Refused(
                            f"The order was fulfilled by hand in the ShopBase admin; tracking {number} was not "
                            "sent.", "push_already_fulfilled")
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
                    # Our own earlier attempt may have landed (its answer or our record of it was lost): look.
                    existing = _store_tracking(client, order.order_id)
                    if number in existing:
                        outcomes[number] = Pushed(existing[number], already_there=True)
                        pushed_now.append(package)
                    else:
                        outcomes[number] = Refused(
                            f"ShopBase says the items of tracking {number} are already fulfilled (by hand in "
                            "the store?); it was not sent.", "push_already_fulfilled")
                else:
                    outcomes[number] = Pushed(str(created.id))
                    pushed_now.append(package)
                    if existing is not None:
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
