"""What a record of the orders stream changed, for the two tracking consumers (push_tracking, notify_customer).

The template's stream filters let through order records with `push_pending > 0` (push) or `notify_pending > 0`
(email); a filter cannot compare the old and new images, so `push_needed` / `notify_needed` do: only a change
that made a package pending starts work. The work itself reads the order as stored now, never the image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.data.stream_images import image_packages, order_key
from shared.models.order import Package

R = TypeVar("R")


@dataclass(frozen=True)
class OrderChange:
    """What a stream record says about an order's packages."""

    shop: str
    order_id: str
    event_name: str
    old_packages: list[Package]
    new_packages: list[Package]


def order_change(event_name: str, new_image: Mapping[str, Any], old_image: Mapping[str, Any]) -> OrderChange | None:
    """None for items that are not orders (settings, ledger records) and for deletions."""
    if event_name not in ("INSERT", "MODIFY"):
        return None
    key = order_key(new_image)
    if key is None:
        return None
    shop, order_id = key
    return OrderChange(shop=shop, order_id=order_id, event_name=event_name,
                       old_packages=image_packages(old_image), new_packages=image_packages(new_image))


def made_pending(change: OrderChange, needs: Callable[[Package], bool]) -> set[str]:
    """Tracking numbers of the packages this change made need the work `needs` tells (they did not before)."""
    before = {p.tracking_number for p in change.old_packages if needs(p)}
    return {p.tracking_number for p in change.new_packages if needs(p)} - before


def push_needed(change: OrderChange) -> set[str]:
    """Tracking numbers this change made pending for push (new package, or a cleared push_error)."""
    return made_pending(change, lambda package: package.needs_push)


def notify_needed(change: OrderChange) -> set[str]:
    """Tracking numbers this change made pending for the customer email (the package was just pushed)."""
    return made_pending(change, lambda package: package.needs_notify)


def change_needing(record: DynamoDBRecord, needed: Callable[[OrderChange], set[str]]) -> tuple[OrderChange, str] | None:
    """The order change a stream record carries, with the record's sequence number (the attempt key), when
    `needed` finds work in it; None otherwise."""
    stream = record.dynamodb
    if stream is None or record.event_name is None:
        return None
    change = order_change(record.event_name.name, stream.new_image, stream.old_image)
    if change is None or not needed(change):
        return None
    return change, stream.sequence_number or "none"


def on_change(record: DynamoDBRecord, needed: Callable[[OrderChange], set[str]],
              work: Callable[[str, str, str], R]) -> R | None:
    """Run `work(shop, order_id, attempt_key)` for a record that `needed` finds work in; None for the others."""
    found = change_needing(record, needed)
    if found is None:
        return None
    change, attempt_key = found
    return work(change.shop, change.order_id, attempt_key)
