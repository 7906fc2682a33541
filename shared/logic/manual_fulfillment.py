"""The seller's manual fulfillment: a package the seller shipped, recorded on the order; the orders stream then
pushes it to ShopBase (shared.logic.push) and emails the customer like a package found on AliExpress.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.logic.order_sync import unshipped_items
from shared.logic.sync_status_map import is_unshipped_attention, unshipped_attention
from shared.models.errors import Conflict, Invalid, NotFound
from shared.models.order import Order, OrderStatus, Package, PackageLine, utcnow

if TYPE_CHECKING:
    from shared.data.orders import Mutation

TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\- ]{2,63}$")
FULFILLABLE_STATUSES = frozenset({OrderStatus.AWAITING_ORDER, OrderStatus.AWAITING_PAYMENT,
                                  OrderStatus.AWAITING_SHIPMENT, OrderStatus.FAILED})


class OrderWriter(Protocol):
    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None]) -> Mutation: ...


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
            raise Conflict("every item of this order already has a tracking number")
        return lines
    wanted: dict[str, int] = {}
    for line in request.line_items:
        if line.id not in remaining:
            raise Invalid(f"line item {line.id} is not part of this order", field="line_items")
        wanted[line.id] = wanted.get(line.id, 0) + line.quantity
    for item_id, quantity in wanted.items():
        if quantity > remaining[item_id]:
            raise Invalid(f"line item {item_id}: quantity {quantity} is more than the {remaining[item_id]} "
                          "not yet fulfilled", field="line_items")
    return [PackageLine(line_item_id=item_id, quantity=quantity) for item_id, quantity in wanted.items()]


def _same_lines(package: Package, lines: Iterable[PackageLine]) -> bool:
    return sorted((x.line_item_id, x.quantity) for x in package.line_items) == sorted(
        (x.line_item_id, x.quantity) for x in lines)


def add_manual_package(orders: OrderWriter, shop: str, order_id: str,
                       request: ManualFulfillment, now: datetime | None = None) -> ManualResult:
    """Record the seller's package on the order; the stream pushes it like any other.

    Idempotent for the same tracking number. Posting a tracking number whose push was refused again
    (e.g. with a corrected carrier) clears the refusal, which makes the stream push it once more.
    NotFound for an unknown order; Conflict when the order's state does not allow it; Invalid for line items
    that are not the order's or more than what is left.
    """
    if not order_id.isdigit():
        raise NotFound.order(order_id)
    result: dict[str, Any] = {}

    def change(current: Order | None) -> Order | None:
        if current is None:
            raise NotFound.order(order_id)
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
                raise Conflict(f"tracking number {request.tracking_number} is already used for other items of "
                               "this order", field="tracking_number")
            result.update(package=existing, outcome="unchanged")
            return None
        if current.status is OrderStatus.CANCELED:
            raise Conflict("the order is canceled; it cannot be fulfilled")
        if current.fulfilled_in_store:
            raise Conflict("the order was already fulfilled in the ShopBase admin")
        if current.status not in FULFILLABLE_STATUSES:
            detail = {OrderStatus.PENDING: "the customer has not paid yet",
                      OrderStatus.FULFILLED: "every item is already fulfilled"}.get(
                current.status, f"the order is {current.status.value}")
            raise Conflict(f"the order cannot be fulfilled: {detail}")
        package = Package(tracking_number=request.tracking_number, carrier=request.carrier,
                          tracking_url=request.tracking_url, line_items=_requested_lines(current, request),
                          ae_order_id=None, source="manual", found_at=now or utcnow())
        current.packages.append(package)
        if is_unshipped_attention(current.attention):
            # The seller fulfilled what the supplier never shipped: the flag says what is still missing, or goes
            # (the sync no longer looks at an order once it is fulfilled, so nobody else would clear it).
            missing = unshipped_items(current)
            current.attention = unshipped_attention(missing) if missing else None
        result.update(package=package, outcome="created")
        return current

    mutation = orders.mutate(shop, order_id, change)
    if mutation.order is None:
        raise NotFound.order(order_id)
    return ManualResult(order=mutation.order, package=result["package"], outcome=result["outcome"])
