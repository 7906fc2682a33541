"""In-memory ShopBase: shops, orders, fulfillments, webhooks, rate limit, fault injection, stats.

All state sits behind one re-entrant lock. Admin API operations (`api_*`) take parsed requests and
return JSON-ready objects or raise `ApiError`; the control operations are the simulator's Python API.
"""

from __future__ import annotations

import base64
import copy
import hmac
import itertools
import json
import math
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from simulators.shopbase import protocol
from simulators.shopbase.delivery import Delivery, DeliveryOptions, DeliveryResult, WebhookDeliverer
from simulators.shopbase.orders import (
    bump_updated_at,
    fulfillable,
    fulfilled_quantities,
    generate_order,
    iso,
    normalize_order,
    parse_ts,
    recompute_fulfillment_status,
)
from simulators.shopbase.products import ProductCatalog, ProductError
from simulators.shopbase.products import id_counters as product_id_counters
from simulators.shopbase.protocol import sign_webhook

DEFAULT_CARRIERS = (
    "USPS", "UPS", "FedEx", "DHL", "DHL eCommerce", "China Post", "China EMS", "EMS", "4PX", "Yanwen",
    "YunExpress", "Cainiao", "AliExpress Standard Shipping", "Royal Mail", "Canada Post",
    "Australia Post", "La Poste", "Colissimo", "Deutsche Post", "PostNL", "Correos", "Japan Post",
    "SF Express", "Other",
)  # fmt: skip
REFUSED_HOSTS = ("example.com", "example.net", "example.org")
REFUSED_TLDS = ("example", "test", "invalid", "localhost", "local", "internal")
PLATFORM_DOMAINS = ("onshopbase.com", "shopbase.com")


class ApiError(Exception):
    """An Admin API answer other than 2xx: `{"errors": errors}` with `status`."""

    def __init__(self, status: int, errors: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})


class Bucket:
    """Server-side leaky bucket on the real monotonic clock."""

    def __init__(self, burst: int, leak_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.leak_rate = leak_rate
        self._clock = clock
        self._level = 0.0
        self._last = clock()

    def _leak(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._last) * self.leak_rate)
        self._last = now

    def used(self) -> int:
        self._leak()
        return min(self.burst, math.ceil(self._level - 1e-9))

    def take(self) -> tuple[bool, int, float]:
        """(allowed, used after this request, seconds until a slot frees)."""
        self._leak()
        if self._level + 1 > self.burst + 1e-9:
            retry_after = (self._level + 1 - self.burst) / self.leak_rate
            return False, self.burst, retry_after
        self._level += 1
        return True, self.used(), 0.0

    def configure(self, burst: int | None, leak_rate: float | None) -> None:
        self._leak()
        if burst is not None:
            self.burst = int(burst)
        if leak_rate is not None:
            self.leak_rate = float(leak_rate)


@dataclass
class Shop:
    name: str
    access_token: str | None
    api_key: str | None
    password: str | None
    webhook_secret: str
    bucket: Bucket
    strict_carriers: bool
    carriers: frozenset[str]
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    next_number: int = 1001
    catalog: ProductCatalog | None = None  # the products API (issue 12); set by create_shop

    @property
    def domain(self) -> str:
        return f"{self.name}{protocol.SHOP_DOMAIN_SUFFIX}"

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "domain": self.domain,
            "access_token": self.access_token,
            "api_key": self.api_key,
            "password": self.password,
            "webhook_secret": self.webhook_secret,
            "burst": self.bucket.burst,
            "leak_rate": self.bucket.leak_rate,
            "strict_carriers": self.strict_carriers,
        }


FaultKind = Literal["error", "rate_limit", "stall"]


@dataclass(frozen=True)
class FaultAction:
    kind: FaultKind
    status: int = 500
    apply: bool = False  # process the request anyway (response lost / late)
    stall_seconds: float = 0.0
    retry_after: float | None = None


@dataclass
class ScriptedFault:
    remaining: int
    action: FaultAction
    method: str | None = None
    route: str | None = None  # substring of the route template, e.g. "fulfillments"
    shop: str | None = None

    def matches(self, shop: str, method: str, route: str) -> bool:
        return (
            (self.method is None or self.method == method)
            and (self.route is None or self.route in route)
            and (self.shop is None or self.shop == shop)
        )


@dataclass
class RandomFaults:
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    rate_limit_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 15.0
    apply_on_error: bool = False
    methods: frozenset[str] | None = None
    route: str | None = None
    rng: random.Random = field(default_factory=random.Random)

    def pick(self, method: str, route: str) -> FaultAction | None:
        if self.methods is not None and method not in self.methods:
            return None
        if self.route is not None and self.route not in route:
            return None
        roll = self.rng.random()
        if roll < self.error_rate:
            return FaultAction("error", status=self.rng.choice(self.error_statuses), apply=self.apply_on_error)
        roll -= self.error_rate
        if roll < self.rate_limit_rate:
            return FaultAction("rate_limit", status=429)
        roll -= self.rate_limit_rate
        if roll < self.stall_rate:
            return FaultAction("stall", status=200, apply=True, stall_seconds=self.stall_seconds)
        return None


def _errors(field_name: str, message: str) -> dict[str, list[str]]:
    return {field_name: [message]}


def _as_positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApiError(422, _errors("line_items", f"{what} must be an integer"))
    try:
        number = int(value)
    except ValueError:
        raise ApiError(422, _errors("line_items", f"{what} must be an integer")) from None
    if number <= 0:
        raise ApiError(422, _errors("line_items", f"{what} must be greater than 0"))
    return number


def validate_webhook_address(address: Any, *, allow_http_loopback: bool) -> str:
    """The real API wants HTTPS with a valid certificate and refuses localhost, *internal, example
    domains and ShopBase's own domains; loopback is allowed here only for local testing."""
    if not isinstance(address, str) or not address.strip():
        raise ApiError(422, _errors("address", "can't be blank"))
    parts = urlsplit(address.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        raise ApiError(422, _errors("address", "is invalid"))
    loopback = host in ("localhost", "::1") or host.startswith("127.") or host.endswith(".localhost")
    if loopback:
        if not allow_http_loopback:
            raise ApiError(422, _errors("address", "cannot be localhost"))
        return address.strip()
    if parts.scheme != "https":
        raise ApiError(422, _errors("address", "must use HTTPS"))
    tld = host.rsplit(".", 1)[-1]
    if (
        host in REFUSED_HOSTS
        or any(host.endswith("." + refused) for refused in REFUSED_HOSTS)
        or tld in REFUSED_TLDS
        or host.endswith("internal")
        or any(host == d or host.endswith("." + d) for d in PLATFORM_DOMAINS)
    ):
        raise ApiError(422, _errors("address", "is not allowed"))
    return address.strip()


class SimState:
    """The simulated platform (no HTTP). `ShopBaseSimulator` serves it."""

    def __init__(
        self,
        *,
        burst: int = protocol.BUCKET_SIZE,
        leak_rate: float = protocol.LEAK_RATE,
        allow_http_loopback: bool = True,
        strict_carriers: bool = False,
        carriers: Iterable[str] = DEFAULT_CARRIERS,
        duplicate_rate: float = 0.0,
        reorder: bool = False,
        max_delivery_attempts: int = 1,
        retry_delay: float = 0.0,
        delivery_timeout: tuple[float, float] = (1.0, 5.0),
        seed: int | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.default_burst = burst
        self.default_leak_rate = leak_rate
        self.allow_http_loopback = allow_http_loopback
        self.default_strict_carriers = strict_carriers
        self.default_carriers = frozenset(c.strip().lower() for c in carriers)
        self._seed = seed
        self._rng = random.Random(seed)
        self.shops: dict[str, Shop] = {}
        self._ids = self._id_counters()
        self.scripted_faults: list[ScriptedFault] = []
        self.random_faults = RandomFaults(rng=random.Random(seed))
        self.deliverer = WebhookDeliverer(
            DeliveryOptions(
                duplicate_rate=duplicate_rate,
                reorder=reorder,
                max_attempts=max_delivery_attempts,
                retry_delay=retry_delay,
                timeout=delivery_timeout,
            ),
            seed=seed,
        )

    @staticmethod
    def _id_counters() -> dict[str, Any]:
        return {
            "order": itertools.count(5_550_001),
            "line_item": itertools.count(90_900_001),
            "fulfillment": itertools.count(7_100_000_001),
            "webhook": itertools.count(1_000_001),
            "refund": itertools.count(8_800_001),
            **product_id_counters(),
        }

    # --- shops, auth, rate limit, faults ---------------------------------------------------------

    def create_shop(
        self,
        name: str,
        *,
        access_token: str | None = None,
        api_key: str | None = None,
        password: str | None = None,
        webhook_secret: str | None = None,
        strict_carriers: bool | None = None,
        carriers: Iterable[str] | None = None,
        burst: int | None = None,
        leak_rate: float | None = None,
    ) -> dict[str, Any]:
        """Create (or replace) a shop; returns its info including generated credentials."""
        name = name.strip().lower()
        if not name or not name.replace("-", "").isalnum():
            raise ApiError(422, _errors("name", "is invalid"))
        if not access_token and not (api_key and password):
            access_token = "shpat_" + secrets.token_hex(16)
        shop = Shop(
            name=name,
            access_token=access_token,
            api_key=api_key,
            password=password,
            webhook_secret=webhook_secret or secrets.token_hex(24),
            bucket=Bucket(burst or self.default_burst, leak_rate or self.default_leak_rate),
            strict_carriers=self.default_strict_carriers if strict_carriers is None else strict_carriers,
            carriers=(
                frozenset(c.strip().lower() for c in carriers) if carriers is not None else self.default_carriers
            ),
        )
        shop.catalog = ProductCatalog(self._ids)
        with self.lock:
            self.shops[name] = shop
            return shop.info()

    def shop(self, name: str) -> Shop:
        with self.lock:
            found = self.shops.get(name)
            if found is None:
                raise ApiError(404, "Not Found")
            return found

    def check_auth(self, shop: Shop, token: str | None, authorization: str | None) -> bool:
        if token and shop.access_token and hmac.compare_digest(token.encode(), shop.access_token.encode()):
            return True
        if authorization and authorization.lower().startswith("basic ") and shop.api_key and shop.password:
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except ValueError:
                return False
            expected = f"{shop.api_key}:{shop.password}"
            return hmac.compare_digest(decoded.encode(), expected.encode())
        return False

    def set_rate_limit(
        self, shop: str | None = None, *, burst: int | None = None, leak_rate: float | None = None
    ) -> None:
        """Change one shop's bucket, or every shop's and the default for new shops."""
        with self.lock:
            if shop is None:
                self.default_burst = burst or self.default_burst
                self.default_leak_rate = leak_rate or self.default_leak_rate
                for each in self.shops.values():
                    each.bucket.configure(burst, leak_rate)
            else:
                self.shop(shop).bucket.configure(burst, leak_rate)

    def set_faults(
        self,
        *,
        error_rate: float = 0.0,
        error_statuses: Iterable[int] = (500, 503),
        rate_limit_rate: float = 0.0,
        stall_rate: float = 0.0,
        stall_seconds: float = 15.0,
        apply_on_error: bool = False,
        methods: Iterable[str] | None = None,
        route: str | None = None,
        seed: int | None = None,
    ) -> None:
        """Random faults on a fraction of Admin API calls (seeded RNG). A stall applies the request
        and answers after `stall_seconds` (past the client's timeout); `apply_on_error` makes 5xx
        answers come after the request was applied (a lost response)."""
        with self.lock:
            self.random_faults = RandomFaults(
                error_rate=error_rate,
                error_statuses=tuple(error_statuses),
                rate_limit_rate=rate_limit_rate,
                stall_rate=stall_rate,
                stall_seconds=stall_seconds,
                apply_on_error=apply_on_error,
                methods=frozenset(m.upper() for m in methods) if methods is not None else None,
                route=route,
                rng=random.Random(self._seed if seed is None else seed),
            )

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        stall: bool = False,
        stall_seconds: float = 15.0,
        apply: bool | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        route: str | None = None,
        shop: str | None = None,
    ) -> None:
        """Deterministic faults: the next `count` matching calls answer `status` (429 = rate limit),
        or stall. `apply` defaults to True for stalls, False otherwise."""
        kind: FaultKind = "stall" if stall else ("rate_limit" if status == 429 else "error")
        action = FaultAction(
            kind,
            status=status,
            apply=(kind == "stall") if apply is None else (apply and kind != "rate_limit"),
            stall_seconds=stall_seconds,
            retry_after=retry_after,
        )
        with self.lock:
            self.scripted_faults.append(ScriptedFault(count, action, method.upper() if method else None, route, shop))

    def clear_faults(self) -> None:
        with self.lock:
            self.scripted_faults.clear()
            self.random_faults = RandomFaults(rng=random.Random(self._seed))

    def pick_fault(self, shop: str, method: str, route: str) -> FaultAction | None:
        with self.lock:
            for scripted in self.scripted_faults:
                if scripted.remaining > 0 and scripted.matches(shop, method, route):
                    scripted.remaining -= 1
                    self.scripted_faults = [f for f in self.scripted_faults if f.remaining > 0]
                    return scripted.action
            return self.random_faults.pick(method, route)

    # --- events ----------------------------------------------------------------------------------

    def _emit(self, shop: Shop, topic: str, payload: Mapping[str, Any], order_id: int | None) -> None:
        """Queue `topic` to every subscription (signed now: duplicates and retries are byte-identical)."""
        hooks = [h for h in shop.webhooks.values() if h["topic"] == topic]
        if not hooks:
            return
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            protocol.WEBHOOK_HMAC_HEADER: sign_webhook(shop.webhook_secret, body),
            protocol.WEBHOOK_SHOP_DOMAIN_HEADER: shop.domain,
            protocol.WEBHOOK_TOPIC_HEADER: topic,
        }
        self.deliverer.enqueue(
            [Delivery(shop.name, topic, hook["address"], hook["id"], body, dict(headers), order_id) for hook in hooks]
        )

    def deliver_pending(self) -> list[DeliveryResult]:
        """Send queued webhooks now and return the results."""
        return self.deliverer.deliver_pending()

    def set_delivery(
        self,
        *,
        duplicate_rate: float | None = None,
        reorder: bool | None = None,
        max_attempts: int | None = None,
        retry_delay: float | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        self.deliverer.configure(
            duplicate_rate=duplicate_rate,
            reorder=reorder,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            timeout=timeout,
        )

    # --- orders: control side --------------------------------------------------------------------

    def _order(self, shop: Shop, order_id: int) -> dict[str, Any]:
        order = shop.orders.get(int(order_id))
        if order is None:
            raise ApiError(404, "Not Found")
        return order

    def _store_new_order(self, shop: Shop, order: dict[str, Any], emit: bool) -> dict[str, Any]:
        if order.get("id") in (None, ""):
            order["id"] = next(self._ids["order"])
        order_id = int(order["id"])
        order["id"] = order_id
        if order_id in shop.orders or order_id in shop.deleted:
            raise ApiError(409, _errors("id", "has already been taken"))
        normalize_order(order, line_item_ids=self._ids["line_item"])
        shop.orders[order_id] = order
        if emit:
            self._emit(shop, "orders/create", order, order_id)
            if order.get("financial_status") == "paid":
                self._emit(shop, "orders/paid", order, order_id)
        return copy.deepcopy(order)

    def create_order(self, shop: str, order: Mapping[str, Any], *, emit: bool = True) -> dict[str, Any]:
        """Store a caller-provided order (e.g. the fixture); emits orders/create (+ orders/paid)."""
        with self.lock:
            return self._store_new_order(self.shop(shop), copy.deepcopy(dict(order)), emit)

    def make_order(
        self, shop: str, n_items: int = 2, paid: bool = True, *, currency: str = "USD", emit: bool = True
    ) -> dict[str, Any]:
        """Generate and store a realistic random order (seeded by the simulator's seed)."""
        with self.lock:
            target = self.shop(shop)
            order = generate_order(
                self._rng,
                order_id=next(self._ids["order"]),
                number=target.next_number,
                line_item_ids=self._ids["line_item"],
                n_items=max(1, n_items),
                paid=paid,
                currency=currency,
            )
            target.next_number += 1
            return self._store_new_order(target, order, emit)

    def get_order(self, shop: str, order_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._order(self.shop(shop), order_id))

    def mark_paid(self, shop: str, order_id: int) -> dict[str, Any]:
        """Payment captured: orders/paid and orders/updated with a newer updated_at."""
        with self.lock:
            target = self.shop(shop)
            order = self._order(target, order_id)
            order["financial_status"] = "paid"
            bump_updated_at(order)
            order["processed_at"] = order["updated_at"]
            self._emit(target, "orders/paid", order, order["id"])
            self._emit(target, "orders/updated", order, order["id"])
            return copy.deepcopy(order)

    def cancel_order(self, shop: str, order_id: int, reason: str = "customer") -> dict[str, Any]:
        with self.lock:
            target = self.shop(shop)
            order = self._order(target, order_id)
            now = bump_updated_at(order)
            order["cancelled_at"] = now
            order["closed_at"] = now
            order["cancel_reason"] = reason
            if order.get("financial_status") in ("pending", "authorized"):
                order["financial_status"] = "voided"
            self._emit(target, "orders/cancelled", order, order["id"])
            self._emit(target, "orders/updated", order, order["id"])
            return copy.deepcopy(order)

    def refund_order(
        self,
        shop: str,
        order_id: int,
        line_items: Iterable[tuple[int, int]] | None = None,
        *,
        note: str = "",
    ) -> dict[str, Any]:
        """Refund line items [(line_item_id, quantity)] (None: all); unfulfilled units refunded stop
        being fulfillable. Emits refunds/create (the refund) and orders/updated."""
        with self.lock:
            target = self.shop(shop)
            order = self._order(target, order_id)
            items = {int(li["id"]): li for li in order["line_items"]}
            wanted = (
                [(int(i), int(q)) for i, q in line_items]
                if line_items is not None
                else [(i, int(li.get("quantity") or 0)) for i, li in items.items()]
            )
            refund_lines = []
            for item_id, quantity in wanted:
                if item_id not in items:
                    raise ApiError(422, _errors("line_items", f"Line item {item_id} does not exist"))
                item = items[item_id]
                item["fulfillable_quantity"] = max(0, fulfillable(item) - quantity)
                refund_lines.append({"line_item_id": item_id, "quantity": quantity, "line_item": dict(item)})
            bump_updated_at(order)
            refunded_units = sum(int(rl["quantity"]) for r in order["refunds"] for rl in r["refund_line_items"]) + sum(
                q for _, q in wanted
            )
            total_units = sum(int(li.get("quantity") or 0) for li in order["line_items"])
            order["financial_status"] = "refunded" if refunded_units >= total_units else "partially_refunded"
            refund = {
                "id": next(self._ids["refund"]),
                "order_id": order["id"],
                "created_at": order["updated_at"],
                "processed_at": order["updated_at"],
                "note": note,
                "restock": True,
                "refund_line_items": refund_lines,
                "transactions": [],
            }
            order["refunds"].append(refund)
            recompute_fulfillment_status(order)
            self._emit(target, "refunds/create", refund, order["id"])
            self._emit(target, "orders/updated", order, order["id"])
            return copy.deepcopy(refund)

    def fulfill_in_admin(
        self,
        shop: str,
        order_id: int,
        *,
        tracking_number: str | None = None,
        tracking_company: str | None = None,
        tracking_url: str | None = None,
        line_items: Iterable[tuple[int, int]] | None = None,
        notify_customer: bool = True,
    ) -> dict[str, Any]:
        """The merchant fulfils by hand in the store admin (no carrier check, no rate limit)."""
        payload: dict[str, Any] = {
            "tracking_number": tracking_number,
            "tracking_company": tracking_company,
            "tracking_url": tracking_url,
            "notify_customer": notify_customer,
        }
        if line_items is not None:
            payload["line_items"] = [{"id": i, "quantity": q} for i, q in line_items]
        with self.lock:
            target = self.shop(shop)
            return self._fulfill(target, self._order(target, order_id), payload, source="admin")

    def delete_order(self, shop: str, order_id: int) -> None:
        """The merchant deletes the order: later API calls get 404; emits orders/delete {"id"}."""
        with self.lock:
            target = self.shop(shop)
            self._order(target, order_id)
            del target.orders[int(order_id)]
            target.deleted.add(int(order_id))
            self._emit(target, "orders/delete", {"id": int(order_id)}, int(order_id))

    def notifications(self, shop: str) -> list[dict[str, Any]]:
        """Customer notifications the shop would have sent, one per fulfillment create/update."""
        with self.lock:
            return copy.deepcopy(self.shop(shop).notifications)

    # --- fulfillments ----------------------------------------------------------------------------

    def _fulfill(self, shop: Shop, order: dict[str, Any], payload: Mapping[str, Any], *, source: str) -> dict[str, Any]:
        if order.get("cancelled_at"):
            raise ApiError(422, _errors("base", "Cannot fulfill a cancelled order"))
        items = {int(li["id"]): li for li in order["line_items"]}
        done = fulfilled_quantities(order)
        requested = payload.get("line_items")
        wanted: dict[int, int] = {}
        if requested is None:
            wanted = {i: fulfillable(li) for i, li in items.items() if fulfillable(li) > 0}
            if not wanted:
                message = "Order is already fulfilled" if done else "Order has no fulfillable line items"
                raise ApiError(422, _errors("base", message))
        else:
            if not isinstance(requested, list) or not requested:
                raise ApiError(422, _errors("line_items", "must be a non-empty list"))
            for entry in requested:
                if not isinstance(entry, Mapping):
                    raise ApiError(422, _errors("line_items", "must be objects with id and quantity"))
                item_id = _as_positive_int(entry.get("id"), "Line item id")
                if item_id not in items:
                    raise ApiError(422, _errors("line_items", f"Line item {item_id} does not exist on this order"))
                raw_quantity = entry.get("quantity")
                # No quantity: everything left on that line (0 left is reported as already fulfilled).
                quantity = (
                    fulfillable(items[item_id]) if raw_quantity is None else _as_positive_int(raw_quantity, "Quantity")
                )
                wanted[item_id] = wanted.get(item_id, 0) + quantity
            if all(fulfillable(items[i]) == 0 for i in wanted):
                raise ApiError(422, _errors("base", "Line items are already fulfilled"))
            for item_id, quantity in wanted.items():
                remaining = fulfillable(items[item_id])
                if remaining == 0:
                    raise ApiError(422, _errors("line_items", f"Line item {item_id} is already fulfilled"))
                if quantity > remaining:
                    raise ApiError(
                        422,
                        _errors(
                            "line_items",
                            f"Quantity {quantity} of line item {item_id} exceeds its fulfillable quantity {remaining}",
                        ),
                    )
        tracking_number = _opt_str(payload.get("tracking_number"), "tracking_number")
        tracking_company = _opt_str(payload.get("tracking_company"), "tracking_company")
        tracking_url = _opt_str(payload.get("tracking_url"), "tracking_url")
        if source == "api":
            self._check_carrier(shop, tracking_company)
        notify = bool(payload.get("notify_customer", False))
        for item_id, quantity in wanted.items():
            items[item_id]["fulfillable_quantity"] = fulfillable(items[item_id]) - quantity
        now = bump_updated_at(order)
        fulfillment = {
            "id": next(self._ids["fulfillment"]),
            "order_id": order["id"],
            "status": "success",
            "name": f"{order.get('name') or order['id']}.{len(order['fulfillments']) + 1}",
            "service": "manual",
            "created_at": now,
            "updated_at": now,
            "tracking_company": tracking_company,
            "tracking_number": tracking_number,
            "tracking_numbers": [tracking_number] if tracking_number else [],
            "tracking_url": tracking_url,
            "tracking_urls": [tracking_url] if tracking_url else [],
            "shipment_status": None,
            "notify_customer": notify,
            "location_id": 0,  # ShopBase-ish zero where Shopify has an id
            "line_items": [
                {**{k: v for k, v in items[i].items() if k != "fulfillable_quantity"}, "quantity": q}
                for i, q in wanted.items()
            ],
        }
        order["fulfillments"].append(fulfillment)
        recompute_fulfillment_status(order)
        shop.notifications.append(
            {
                "order_id": order["id"],
                "fulfillment_id": fulfillment["id"],
                "event": "fulfillment_created",
                "source": source,
                "notify_customer": notify,
                "tracking_number": tracking_number,
            }
        )
        self._emit(shop, "fulfillments/create", fulfillment, order["id"])
        topic = "orders/fulfilled" if order["fulfillment_status"] == "fulfilled" else "orders/partially_fulfilled"
        self._emit(shop, topic, order, order["id"])
        self._emit(shop, "orders/updated", order, order["id"])
        return copy.deepcopy(fulfillment)

    def _check_carrier(self, shop: Shop, tracking_company: str | None) -> None:
        known = tracking_company is None or tracking_company.strip().lower() in shop.carriers
        if shop.strict_carriers and not known:
            raise ApiError(422, _errors("tracking_company", "is not a supported carrier"))

    # --- Admin API -------------------------------------------------------------------------------

    def api_get_order(self, shop: Shop, order_id: int) -> dict[str, Any]:
        with self.lock:
            return {protocol.ORDER_KEY: copy.deepcopy(self._order(shop, order_id))}

    def api_list_orders(self, shop: Shop, query: Mapping[str, str]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", "50"))
            page = int(query.get("page", "1"))
        except ValueError:
            raise ApiError(400, "limit and page must be integers") from None
        limit = max(1, min(limit, protocol.MAX_PAGE_LIMIT))
        page = max(1, page)
        if (page - 1) * limit >= protocol.MAX_OFFSET:
            raise ApiError(429, "Offset is too large: filter by created_at_min/updated_at_min")
        status = query.get("status", "open")
        bounds = {
            key: parse_ts(query[key])
            for key in ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
            if key in query
        }
        with self.lock:
            selected = []
            for order in sorted(shop.orders.values(), key=lambda o: int(o["id"])):
                if not _status_matches(order, status):
                    continue
                if "financial_status" in query and query["financial_status"] not in (
                    "any",
                    order.get("financial_status"),
                ):
                    continue
                if not _within_bounds(order, bounds):
                    continue
                selected.append(order)
            page_items = selected[(page - 1) * limit : page * limit]
            return {protocol.ORDERS_KEY: copy.deepcopy(page_items)}

    def api_list_fulfillments(self, shop: Shop, order_id: int) -> dict[str, Any]:
        with self.lock:
            return {protocol.FULFILLMENTS_KEY: copy.deepcopy(self._order(shop, order_id)["fulfillments"])}

    def _fulfillment(self, shop: Shop, order_id: int, fulfillment_id: int) -> dict[str, Any]:
        for fulfillment in self._order(shop, order_id)["fulfillments"]:
            if int(fulfillment["id"]) == int(fulfillment_id):
                return fulfillment
        raise ApiError(404, "Not Found")

    def api_get_fulfillment(self, shop: Shop, order_id: int, fulfillment_id: int) -> dict[str, Any]:
        with self.lock:
            return {protocol.FULFILLMENT_KEY: copy.deepcopy(self._fulfillment(shop, order_id, fulfillment_id))}

    def api_create_fulfillment(self, shop: Shop, order_id: int, body: Any) -> dict[str, Any]:
        payload = _envelope(body, protocol.FULFILLMENT_KEY)
        with self.lock:
            fulfillment = self._fulfill(shop, self._order(shop, order_id), payload, source="api")
            return {protocol.FULFILLMENT_KEY: fulfillment}

    def api_update_fulfillment(self, shop: Shop, order_id: int, fulfillment_id: int, body: Any) -> dict[str, Any]:
        payload = _envelope(body, protocol.FULFILLMENT_KEY)
        with self.lock:
            order = self._order(shop, order_id)
            fulfillment = self._fulfillment(shop, order_id, fulfillment_id)
            changes = {
                key: _opt_str(payload[key], key)
                for key in ("tracking_number", "tracking_company", "tracking_url")
                if key in payload
            }
            if "tracking_company" in changes:
                self._check_carrier(shop, changes["tracking_company"])
            fulfillment.update(changes)
            if "tracking_number" in changes:
                number = changes["tracking_number"]
                fulfillment["tracking_numbers"] = [number] if number else []
            if "tracking_url" in changes:
                url = changes["tracking_url"]
                fulfillment["tracking_urls"] = [url] if url else []
            notify = bool(payload.get("notify_customer", False))
            fulfillment["updated_at"] = bump_updated_at(order)
            shop.notifications.append(
                {
                    "order_id": order["id"],
                    "fulfillment_id": fulfillment["id"],
                    "event": "fulfillment_updated",
                    "source": "api",
                    "notify_customer": notify,
                    "tracking_number": fulfillment.get("tracking_number"),
                }
            )
            self._emit(shop, "fulfillments/update", fulfillment, order["id"])
            self._emit(shop, "orders/updated", order, order["id"])
            return {protocol.FULFILLMENT_KEY: copy.deepcopy(fulfillment)}

    # --- webhooks --------------------------------------------------------------------------------

    def api_create_webhook(self, shop: Shop, body: Any) -> dict[str, Any]:
        payload = _envelope(body, protocol.WEBHOOK_KEY)
        topic = payload.get("topic")
        if topic not in protocol.WEBHOOK_TOPICS:
            raise ApiError(422, _errors("topic", "Invalid topic specified"))
        fmt = payload.get("format", "json")
        if fmt != "json":
            raise ApiError(422, _errors("format", "is not supported"))
        address = validate_webhook_address(payload.get("address"), allow_http_loopback=self.allow_http_loopback)
        with self.lock:
            if any(h["topic"] == topic and h["address"] == address for h in shop.webhooks.values()):
                raise ApiError(422, _errors("address", "for this topic has already been taken"))
            now = iso(datetime.now(UTC))
            hook = {
                "id": next(self._ids["webhook"]),
                "address": address,
                "topic": topic,
                "format": "json",
                "created_at": now,
                "updated_at": now,
                "fields": [],
            }
            shop.webhooks[hook["id"]] = hook
            return {protocol.WEBHOOK_KEY: dict(hook)}

    def api_list_webhooks(self, shop: Shop) -> dict[str, Any]:
        with self.lock:
            return {protocol.WEBHOOKS_KEY: [dict(h) for h in sorted(shop.webhooks.values(), key=lambda h: h["id"])]}

    def api_get_webhook(self, shop: Shop, webhook_id: int) -> dict[str, Any]:
        with self.lock:
            hook = shop.webhooks.get(int(webhook_id))
            if hook is None:
                raise ApiError(404, "Not Found")
            return {protocol.WEBHOOK_KEY: dict(hook)}

    def api_delete_webhook(self, shop: Shop, webhook_id: int) -> dict[str, Any]:
        with self.lock:
            if shop.webhooks.pop(int(webhook_id), None) is None:
                raise ApiError(404, "Not Found")
            return {}

    def webhooks(self, shop: str) -> list[dict[str, Any]]:
        with self.lock:
            return self.api_list_webhooks(self.shop(shop))[protocol.WEBHOOKS_KEY]

    # --- products (issue 12) --------------------------------------------------------------------

    @staticmethod
    def _catalog(shop: Shop) -> ProductCatalog:
        assert shop.catalog is not None
        return shop.catalog

    def _products_call(self, shop: Shop, action: Callable[[ProductCatalog], dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            try:
                return action(self._catalog(shop))
            except ProductError as error:
                raise ApiError(error.status, error.errors) from None

    def api_create_product(self, shop: Shop, body: Any) -> dict[str, Any]:
        return self._products_call(shop, lambda c: c.create(body))

    def api_list_products(self, shop: Shop, query: Mapping[str, str]) -> dict[str, Any]:
        return self._products_call(shop, lambda c: c.list_products(query))

    def api_get_product(self, shop: Shop, product_id: int) -> dict[str, Any]:
        return self._products_call(shop, lambda c: c.get(product_id))

    def api_update_product(self, shop: Shop, product_id: int, body: Any) -> dict[str, Any]:
        return self._products_call(shop, lambda c: c.update(product_id, body))

    def api_delete_product(self, shop: Shop, product_id: int) -> dict[str, Any]:
        return self._products_call(shop, lambda c: c.delete(product_id))

    def api_update_variant(self, shop: Shop, variant_id: int, body: Any) -> dict[str, Any]:
        return self._products_call(shop, lambda c: c.update_variant(variant_id, body))

    def products(self, shop: str) -> list[dict[str, Any]]:
        """Every product of a shop (control API: no auth, no bucket)."""
        with self.lock:
            return [copy.deepcopy(p) for p in self._catalog(self.shop(shop)).products.values()]

    def product(self, shop: str, product_id: int) -> dict[str, Any]:
        with self.lock:
            return self.api_get_product(self.shop(shop), product_id)["product"]

    # --- stats and reset -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Calls per route, 429s returned, injected faults, fulfillments per order, webhook deliveries."""
        with self.lock:
            shops = {
                name: {
                    "calls": dict(shop.calls),
                    "calls_total": sum(shop.calls.values()),
                    "rate_limited": shop.rate_limited,
                    "faults": dict(shop.faults),
                    "bucket_used": shop.bucket.used(),
                    "orders": len(shop.orders),
                    "fulfillments": {
                        str(oid): len(order["fulfillments"])
                        for oid, order in shop.orders.items()
                        if order["fulfillments"]
                    },
                    "webhooks": len(shop.webhooks),
                    "products": len(self._catalog(shop).products),
                    "products_created": self._catalog(shop).created,
                }
                for name, shop in self.shops.items()
            }
        return {
            "shops": shops,
            "calls_total": sum(s["calls_total"] for s in shops.values()),
            "rate_limited": sum(s["rate_limited"] for s in shops.values()),
            "webhooks": self.deliverer.stats(),
        }

    def reset(self, *, keep_shops: bool = False) -> None:
        """Forget everything (or keep shops' credentials and limits, with empty data)."""
        with self.lock:
            kept = list(self.shops.values()) if keep_shops else []
            self.shops.clear()
            self._ids = self._id_counters()
            self._rng = random.Random(self._seed)
            self.scripted_faults.clear()
            self.random_faults = RandomFaults(rng=random.Random(self._seed))
            self.deliverer.clear()
            for shop in kept:
                self.create_shop(
                    shop.name,
                    access_token=shop.access_token,
                    api_key=shop.api_key,
                    password=shop.password,
                    webhook_secret=shop.webhook_secret,
                    strict_carriers=shop.strict_carriers,
                    carriers=shop.carriers,
                    burst=shop.bucket.burst,
                    leak_rate=shop.bucket.leak_rate,
                )


def _envelope(body: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get(key), Mapping):
        raise ApiError(400, _errors(key, "Required parameter missing or invalid"))
    inner: Mapping[str, Any] = body[key]
    return inner


def _opt_str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(422, _errors(name, "must be a string"))
    return value.strip() or None


def _status_matches(order: Mapping[str, Any], status: str) -> bool:
    cancelled = bool(order.get("cancelled_at"))
    closed = bool(order.get("closed_at"))
    if status == "any":
        return True
    if status == "cancelled":
        return cancelled
    if status == "closed":
        return closed
    return not cancelled and not closed  # "open", Shopify's default


def _within_bounds(order: Mapping[str, Any], bounds: Mapping[str, datetime | None]) -> bool:
    for key, bound in bounds.items():
        if bound is None:
            continue
        value = parse_ts(order.get(key.rsplit("_", 1)[0]))
        if value is None:
            return False
        if key.endswith("_min") and value < bound:
            return False
        if key.endswith("_max") and value > bound:
            return False
    return True
