"""The attempt/give-up rule both tracking consumers share (push to ShopBase, the customer email).

One delivery of a stream record works on the order's pending packages. A transient failure (ShopBase or SES
did not answer, answered 429/5xx) fails the record (`RetryLater`: partial batch failure) so Lambda delivers it
again; each failed delivery is counted in the ledger per (kind, order, attempt key = the record's sequence
number). At the `max_attempts`-th failure the packages still without an outcome get a give-up outcome (recorded
on the order, so the seller sees it even though the on-failure queue only gets pointers) and the record is
consumed: the shard moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from shared.logic.stream_changes import made_pending, on_change
from shared.models.order import Order, Package

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from shared.data.orders import Mutation
    from shared.models.shop import ShopSettings

OutcomeT = TypeVar("OutcomeT")
ReportT = TypeVar("ReportT")


class FailureCounter(Protocol):
    def count_failure(self, shop: str, kind: str, order_id: str, attempt_key: str) -> int:
        """Add one failed delivery of a stream record; the count so far."""
        ...


class OrderStore(Protocol):
    """What the consumers use of `shared.data.orders.OrderRepository`."""

    def get(self, shop: str, order_id: str) -> Order | None: ...

    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None], *,
               known: Order | None = None) -> Mutation: ...


class ShopSettingsReader(Protocol):
    def get_settings(self, shop: str) -> ShopSettings | None: ...


class RetryLater(RuntimeError):
    """A transient failure: fail the stream record so it is delivered again."""


class PackageAttempts:
    def __init__(self, orders: OrderStore, counter: FailureCounter, kind: str, *, max_attempts: int,
                 needs: Callable[[Package], bool]) -> None:
        self._orders = orders
        self._counter = counter
        self._kind = kind
        self._max_attempts = max(1, max_attempts)
        self._needs = needs

    def on_record(self, record: DynamoDBRecord, work: Callable[[str, str, str], ReportT]) -> ReportT | None:
        """`work(shop, order_id, attempt_key)` for a stream record whose change made a package need this work
        (`needs` false before, true after); None for the other records."""
        return on_change(record, lambda change: made_pending(change, self._needs), work)

    def pending(self, shop: str, order_id: str) -> tuple[Order, list[Package]] | None:
        """The order as stored now (never the stream image) and its packages that still need this work;
        None when there is nothing to do (order gone, every package done)."""
        order = self._orders.get(shop, order_id)
        if order is None:
            return None
        pending = [p for p in order.packages if self._needs(p)]
        return (order, pending) if pending else None

    def gave_up(self, shop: str, order_id: str, attempt_key: str, transient: str | None,
                pending: Iterable[Package], outcomes: MutableMapping[str, OutcomeT],
                give_up: Callable[[Package, int], OutcomeT]) -> bool:
        """After a delivery's work: count its transient failure (if any); at the `max_attempts`-th, give each
        pending package without an outcome `give_up(package, failures)` and answer True (stop retrying)."""
        if transient is None:
            return False
        failures = self._counter.count_failure(shop, self._kind, order_id, attempt_key)
        if failures < self._max_attempts:
            return False
        for package in pending:
            outcomes.setdefault(package.tracking_number, give_up(package, failures))
        return True


class TrackingConsumer:
    """What both tracking consumers are made of: the stored orders, the shops' settings, the attempt rule of their
    kind of work (`kind`, `needs`: see PackageAttempts) and the clock."""

    def __init__(self, orders: OrderStore, shops: ShopSettingsReader, counter: FailureCounter, kind: str, *,
                 needs: Callable[[Package], bool], max_attempts: int, clock: Callable[[], datetime]) -> None:
        self._orders = orders
        self._shops = shops
        self._attempts = PackageAttempts(orders, counter, kind, max_attempts=max_attempts, needs=needs)
        self._clock = clock
