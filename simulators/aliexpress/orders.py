"""Orders and their lifecycle on the simulated clock: automatic progression (pay timeout, risk control,
shipping in packages, delivery), and the control actions that drive or take over an order.

Progression is lazy: every read first applies the transitions due by now, so the clock can jump.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulators.aliexpress.catalog import Catalog
from simulators.aliexpress.config import SimConfig
from simulators.aliexpress.protocol import ControlError, SimError, as_int
from simulators.aliexpress.tokens import SimAccount

# Statuses that automation never leaves; set_status() makes any status sticky the same way.
_TERMINAL = frozenset({"FINISH", "IN_CANCEL", "ARCHIVE"})


@dataclass(frozen=True)
class OrderPlan:
    """Timings snapshot taken when an order is created, so later config changes don't move it."""

    pay_timeout: float | None
    risk_control_seconds: float
    ship_delay: float
    packages: int
    package_interval: float
    tracking_number_delay: float
    delivery_delay: float | None

    @classmethod
    def from_config(cls, c: SimConfig) -> OrderPlan:
        return cls(
            pay_timeout=c.pay_timeout,
            risk_control_seconds=c.risk_control_seconds,
            ship_delay=c.ship_delay,
            packages=max(1, c.packages_per_order),
            package_interval=c.package_interval,
            tracking_number_delay=c.tracking_number_delay,
            delivery_delay=c.delivery_delay,
        )


@dataclass
class SimLine:
    product_id: str
    sku_id: str
    sku_attr: str
    sku_desc: str
    title: str
    quantity: int
    unit_price: Decimal
    logistics_service: str
    end_reason: str | None = None
    end_reason_desc: str | None = None


@dataclass
class SimPackage:
    mail_no: str
    shipped_at: float
    mail_no_at: float
    items: list[tuple[int, int]]  # (line index, quantity)
    logistics_service: str
    carrier_name: str = "AliExpress standard shipping"
    cp_name: str = "Cainiao"


@dataclass
class SimOrder:
    order_id: int
    out_order_id: str
    user_id: str
    store_id: str
    store_name: str
    lines: list[SimLine]
    address: dict[str, Any]
    created_at: float
    plan: OrderPlan
    order_status: str = "PLACE_ORDER_SUCCESS"
    logistics_status: str = "DEFAULT"
    paid_at: float | None = None
    next_ship_at: float | None = None
    packages_left: int = 1
    unshipped: list[int] = field(default_factory=list)
    packages: list[SimPackage] = field(default_factory=list)
    all_shipped_at: float | None = None
    finished_at: float | None = None
    manual: bool = False  # a control call took over: automation stops
    held_from: tuple[str, str] | None = None  # status before freeze/issue, for resume()

    @property
    def amount(self) -> Decimal:
        return sum((ln.unit_price * ln.quantity for ln in self.lines), Decimal("0"))


class OrderBook:
    """Every order by id, timed by `now` (the simulated clock). Not locked: SimState holds its lock around
    every call."""

    def __init__(self, catalog: Catalog, rng: random.Random, now: Callable[[], float]) -> None:
        self._catalog = catalog
        self._rng = rng
        self._now = now
        self._orders: dict[int, SimOrder] = {}

    # ------------------------------------------------------------------ storage and lookup

    def new_order_id(self) -> int:
        # 16 digits, above 2^53 and odd, so any float round-trip visibly corrupts the id.
        while True:
            oid = self._rng.randrange(2**53 + 1, 10**16) | 1
            if oid not in self._orders:
                return oid

    def add(self, order: SimOrder) -> None:
        self._orders[order.order_id] = order

    def all(self) -> list[SimOrder]:
        """Every order, oldest first."""
        return list(self._orders.values())

    def get(self, order_id: str | int) -> SimOrder:
        """An order for a control call; ControlError when unknown."""
        order = self._orders.get(as_int(order_id, "order_id"))
        if order is None:
            raise ControlError(f"unknown order {order_id}")
        return order

    def get_many(self, order_ids: str | int | Iterable[str | int]) -> list[SimOrder]:
        if isinstance(order_ids, (str, int)):
            order_ids = [order_ids]
        return [self.get(i) for i in order_ids]

    def owned(self, acct: SimAccount, order_id: Any) -> SimOrder:
        """An order for an API call; someone else's order answers like an unknown one."""
        try:
            oid = int(str(order_id).strip())
        except ValueError:
            raise SimError("InvalidParameter", "order_id must be a number") from None
        order = self._orders.get(oid)
        if order is None or order.user_id != acct.user_id:
            raise SimError("15", "Remote service error", sub_code="isv.invalid-authorization", error_type="ISV")
        return order

    # ------------------------------------------------------------------ automatic progression

    def progress_all(self) -> None:
        now = self._now()
        for order in self._orders.values():
            self.progress(order, now)

    def progress(self, o: SimOrder, now: float) -> None:
        """Apply every automatic transition due by `now`."""
        if o.manual or o.order_status in _TERMINAL:
            return
        p = o.plan
        if o.paid_at is None:
            if p.pay_timeout is not None and now >= o.created_at + p.pay_timeout:
                self._end(o, "buyer_pay_timeout", "The order was closed because payment timed out")
            return
        if o.order_status in ("PLACE_ORDER_SUCCESS", "RISK_CONTROL"):
            ready_at = o.paid_at + p.risk_control_seconds
            if now < ready_at:
                o.order_status = "RISK_CONTROL"
                return
            o.order_status = o.logistics_status = "WAIT_SELLER_SEND_GOODS"
            o.next_ship_at = ready_at + p.ship_delay
        if o.order_status in ("WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS"):
            while any(o.unshipped) and o.next_ship_at is not None and now >= o.next_ship_at:
                self._ship(o, o.next_ship_at, None, None)
                o.next_ship_at += p.package_interval
            if any(o.unshipped):
                return
        if (
            o.order_status == "WAIT_BUYER_ACCEPT_GOODS"
            and p.delivery_delay is not None
            and o.all_shipped_at is not None
            and now >= o.all_shipped_at + p.delivery_delay
        ):
            o.order_status, o.logistics_status = "FINISH", "BUYER_ACCEPT_GOODS"
            o.finished_at = o.all_shipped_at + p.delivery_delay

    def _ship(self, o: SimOrder, at: float, units: dict[int, int] | None, mail_no: str | None) -> SimPackage:
        """One package of `units` ({line index: quantity}); None spreads what is left over the planned packages."""
        if units is None:
            total = sum(o.unshipped)
            take = math.ceil(total / max(1, o.packages_left))
            units = {}
            for idx, left in enumerate(o.unshipped):
                n = min(left, take)
                if n:
                    units[idx] = n
                    take -= n
        items = []
        for idx, qty in units.items():
            o.unshipped[idx] -= qty
            items.append((idx, qty))
        pkg = SimPackage(
            mail_no=mail_no or f"LP00{self._rng.randrange(10**11, 10**12)}",
            shipped_at=at,
            mail_no_at=at + o.plan.tracking_number_delay,
            items=items,
            logistics_service=o.lines[items[0][0]].logistics_service if items else "CAINIAO_STANDARD",
        )
        o.packages.append(pkg)
        o.packages_left = max(1, o.packages_left - 1)
        if any(o.unshipped):
            o.order_status, o.logistics_status = "SELLER_PART_SEND_GOODS", "SELLER_SEND_PART_GOODS"
        else:
            o.order_status, o.logistics_status = "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS"
            o.all_shipped_at = at
        return pkg

    def _end(self, o: SimOrder, reason: str, desc: str) -> None:
        """Close the order (FINISH with `reason` on every line); the supplier's hold on unshipped units ends."""
        o.order_status = "FINISH"
        o.finished_at = self._now()
        for idx, ln in enumerate(o.lines):
            ln.end_reason, ln.end_reason_desc = reason, desc
            self._catalog.adjust_stock(ln.product_id, ln.sku_id, o.unshipped[idx])

    # ------------------------------------------------------------------ control actions

    def pay(self, orders: list[SimOrder]) -> None:
        now = self._now()
        for o in orders:
            if o.paid_at is None and o.order_status == "PLACE_ORDER_SUCCESS":
                o.paid_at = now
            self.progress(o, now)

    def ship(
        self,
        o: SimOrder,
        items: Iterable[Mapping[str, Any]] | None,
        mail_no: str | None,
        mail_no_delay: float | None,
    ) -> None:
        now = self._now()
        if o.paid_at is None:
            o.paid_at = now
        self.progress(o, now)
        if not any(o.unshipped):
            raise ControlError("nothing left to ship")
        units: dict[int, int] = {}
        if items is not None:
            for spec in items:
                idx = _line_index(o, spec)
                qty = as_int(spec.get("quantity", o.unshipped[idx]), "quantity")
                if qty < 1 or qty > o.unshipped[idx] - units.get(idx, 0):
                    raise ControlError(f"cannot ship {qty} of line {idx}")
                units[idx] = units.get(idx, 0) + qty
        else:
            units = {i: q for i, q in enumerate(o.unshipped) if q}
        pkg = self._ship(o, now, units, mail_no)
        if mail_no_delay is not None:
            pkg.mail_no_at = now + mail_no_delay
        o.manual = False
        if o.order_status == "SELLER_PART_SEND_GOODS":
            o.next_ship_at = now + o.plan.package_interval

    def deliver(self, o: SimOrder) -> None:
        if any(o.unshipped):
            self.ship(o, None, None, None)
        o.order_status, o.logistics_status = "FINISH", "BUYER_ACCEPT_GOODS"
        o.finished_at = self._now()

    def cancel(self, o: SimOrder, end_reason: str, end_reason_desc: str, pending: bool) -> None:
        if pending:
            o.order_status = "IN_CANCEL"
        else:
            self._end(o, end_reason, end_reason_desc)
        o.manual = True

    def take_over(self, o: SimOrder, order_status: str, logistics_status: str | None = None) -> None:
        """Force a status and stop automation, remembering the status to resume() to."""
        if o.held_from is None:
            o.held_from = (o.order_status, o.logistics_status)
        o.order_status, o.manual = order_status, True
        if logistics_status is not None:
            o.logistics_status = logistics_status

    def resume(self, o: SimOrder) -> None:
        if o.held_from is not None:
            o.order_status, o.logistics_status = o.held_from
            o.held_from = None
        o.manual = False
        self.progress(o, self._now())


def _line_index(o: SimOrder, spec: Mapping[str, Any]) -> int:
    for idx, ln in enumerate(o.lines):
        if str(spec.get("sku_id", "")) == ln.sku_id or (
            "sku_id" not in spec and str(spec.get("product_id", "")) == ln.product_id
        ):
            return idx
    raise ControlError(f"no order line matches {dict(spec)}")
