"""The simulated AliExpress world: catalog, tokens, orders on a movable clock, faults, rate limit and stats.

Everything here is protocol-independent Python; `server.py` turns it into HTTP. All mutable state is guarded
by one re-entrant lock, and nothing sleeps while holding it.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from simulators.aliexpress.render import Shape, money, response_key

API_ORDER_CREATE = "aliexpress.ds.order.create"
API_ORDER_GET = "aliexpress.trade.ds.order.get"
API_TRACKING_GET = "aliexpress.ds.order.tracking.get"
API_PRODUCT_GET = "aliexpress.ds.product.get"
API_TOKEN_CREATE = "/auth/token/create"
API_TOKEN_REFRESH = "/auth/token/refresh"
# The DS demo uses the "security" variants; they behave the same here.
API_TOKEN_SECURITY_CREATE = "/auth/token/security/create"
API_TOKEN_SECURITY_REFRESH = "/auth/token/security/refresh"

ORDER_PARAM = "param_place_order_request4_open_api_d_t_o"
ADDRESS_FAIL = "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"
API_CALL_LIMIT_MSG = "Api access frequency exceeds the limit. this ban will last 1 seconds"
DEFAULT_LOGISTICS_SERVICES = ("CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD", "AE_STANDARD_SHIPPING")

# Statuses that automation never leaves; set_status() makes any status sticky the same way.
_TERMINAL = frozenset({"FINISH", "IN_CANCEL", "ARCHIVE"})
_DAY = 86400.0


class SimError(Exception):
    """A gateway-level error, rendered as an error envelope (wrapped or flat)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        sub_code: str | None = None,
        error_type: str = "ISV",
        http_status: int = 200,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.sub_code = sub_code
        self.error_type = error_type
        self.http_status = http_status


class BusinessFailure(Exception):
    """A failure rendered inside a normal 200 `…_response` (result and/or response-level fields)."""

    def __init__(self, result: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(json.dumps(result))
        self.result = result
        self.extra = extra or {}


class ControlError(ValueError):
    """Bad use of a control method (unknown order, bad argument); HTTP control answers 400."""


def error_for_code(code: str, message: str | None = None) -> SimError:
    """A SimError for a platform error code, shaped like the real one (dotted codes travel as sub_code)."""
    if code == "ApiCallLimit":
        return SimError(code, message or API_CALL_LIMIT_MSG, error_type="ISP")
    if "." in code:
        kind = "ISP" if code.startswith("isp.") else "ISV"
        return SimError("15", message or "Remote service error", sub_code=code, error_type=kind)
    kind = "SYSTEM" if code == "InternalError" else "ISV"
    return SimError(code, message or f"{code} (injected)", error_type=kind)


@dataclass
class SimConfig:
    # Gateway
    timestamp_tolerance: float = 7200.0
    timestamp_uses_sim_clock: bool = False  # False: checked against the real clock, so advance() is harmless
    error_envelope: str = "auto"  # auto (wrapped on /sync, flat on /rest) | wrapped | flat | mixed
    rate_limit: float | None = None  # calls/s for the whole app, sliding 1 s window
    latency: float = 0.0  # seconds added to every API call
    # Response shapes
    bare_single: bool = False  # one-element lists as a bare object
    numbers_as_strings: bool = False  # ids, counts and timestamps as strings
    wrapper_prefix: str = "aeop_"  # or "ae_"
    randomize_shapes: bool = False  # pick the three options above at random per response
    # Tokens (seconds)
    access_token_ttl: float = _DAY
    refresh_token_ttl: float = 2 * _DAY
    code_ttl: float = 600.0
    rotate_refresh_token: bool = True  # a refresh token works once
    # Orders (seconds, on the simulated clock)
    auto_pay: bool = False
    pay_timeout: float | None = None  # unpaid orders close after this
    risk_control_seconds: float = 0.0
    ship_delay: float = _DAY
    packages_per_order: int = 1
    package_interval: float = _DAY
    tracking_number_delay: float = 0.0  # mail_no stays "" this long after shipping
    delivery_delay: float | None = 10 * _DAY  # None: never auto-finish
    idempotency_window: float = _DAY
    repeat_mode: str = "same_ids"  # same_ids | repeated_error, for a repeated out_order_id


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


@dataclass
class SimSku:
    sku_id: str
    sku_attr: str
    price: Decimal
    stock: int
    sku_desc: str


@dataclass
class SimProduct:
    product_id: str
    store_id: str
    store_name: str
    subject: str
    skus: list[SimSku]
    ship_to: frozenset[str] | None
    logistics_services: tuple[str, ...]
    currency: str = "USD"
    status: str = "onSelling"
    image_urls: tuple[str, ...] = ()


@dataclass
class SimAccount:
    user_id: str = "2200000000001"
    seller_id: str = "2200000000001"
    account_id: str = "2200000000001"
    account: str = "buyer@example.com"
    account_platform: str = "buyerApp"
    user_nick: str = "us1000000001"


@dataclass
class SimToken:
    access_token: str
    refresh_token: str
    account: SimAccount
    expires_at: float
    refresh_expires_at: float
    revoked: bool = False
    refresh_used: bool = False


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


@dataclass
class Fault:
    remaining: int
    method: str | None = None
    error_code: str | None = None
    message: str | None = None
    http_status: int | None = None
    stall: float | None = None
    when: str = "before"  # before: fail instead of processing; after: process, then fail the response
    envelope: str | None = None


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    api_call_limit_errors: int = 0
    max_concurrent: int = 0
    peak_calls_per_second: int = 0
    peak_accepted_per_second: int = 0
    orders_created: int = 0


def _fmt_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ControlError(f"{what} must be an integer, got {value!r}") from None


def _attr_key(sku_attr: str) -> tuple[str, ...]:
    # "14:193#Black;5:100014064" and "5:100014064;14:193" name the same SKU: compare property ids only.
    parts = (p.split("#", 1)[0].strip() for p in sku_attr.split(";"))
    return tuple(sorted(p for p in parts if p))


class SimState:
    """All simulator state and every control operation (also exposed over HTTP under `/_sim/`)."""

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        **config: Any,
    ) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self._clock = clock
        self._monotonic = monotonic
        self._seed = seed
        self._initial_config = dict(config)
        self.lock = threading.RLock()
        self._init_state()
        self.configure(**config)

    def _init_state(self) -> None:
        self.config = SimConfig()
        self._rng = random.Random(self._seed)
        self._offset = 0.0
        self._account = SimAccount()
        self._products: dict[str, SimProduct] = {}
        self._tokens: dict[str, SimToken] = {}
        self._refresh: dict[str, SimToken] = {}
        self._codes: dict[str, tuple[SimAccount, float]] = {}
        self._orders: dict[int, SimOrder] = {}
        self._idempotency: dict[tuple[str, str], tuple[float, list[int]]] = {}
        self._faults: list[Fault] = []
        self._active = 0
        self._arrivals: deque[float] = deque()
        self._accepted: deque[float] = deque()
        self._request_seq = 0
        self._stats = Stats()

    # ------------------------------------------------------------------ control: config, clock, stats

    def reset(self) -> None:
        """Forget everything (catalog, tokens, orders, faults, stats, clock offset); config back to the
        constructor's."""
        with self.lock:
            self._init_state()
            self.configure(**self._initial_config)

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change any `SimConfig` option; returns the whole config."""
        known = {f.name for f in fields(SimConfig)}
        unknown = set(options) - known
        if unknown:
            raise ControlError(f"unknown option(s): {sorted(unknown)}")
        if options.get("error_envelope", "auto") not in ("auto", "wrapped", "flat", "mixed"):
            raise ControlError("error_envelope must be auto, wrapped, flat or mixed")
        if options.get("repeat_mode", "same_ids") not in ("same_ids", "repeated_error"):
            raise ControlError("repeat_mode must be same_ids or repeated_error")
        with self.lock:
            self.config = replace(self.config, **options)
            return asdict(self.config)

    def get_config(self) -> dict[str, Any]:
        with self.lock:
            return asdict(self.config)

    def set_rate_limit(self, per_second: float | None) -> dict[str, Any]:
        return self.configure(rate_limit=per_second)

    def set_latency(self, seconds: float) -> dict[str, Any]:
        return self.configure(latency=seconds)

    def now(self) -> float:
        """The simulated clock (epoch seconds): the real clock plus every advance()."""
        with self.lock:
            return self._clock() + self._offset

    def clock(self) -> dict[str, Any]:
        now = self.now()
        return {"now": now, "now_ms": int(now * 1000), "offset": self._offset}

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the simulated clock forward; orders progress lazily on their next read."""
        if seconds < 0:
            raise ControlError("the clock only moves forward")
        with self.lock:
            self._offset += seconds
            self._progress_all()
        return self.clock()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            s = self._stats
            return {
                "calls": dict(s.calls),
                "total_calls": sum(s.calls.values()),
                "errors": dict(s.errors),
                "api_call_limit_errors": s.api_call_limit_errors,
                "max_concurrent": s.max_concurrent,
                "peak_calls_per_second": s.peak_calls_per_second,
                "peak_accepted_per_second": s.peak_accepted_per_second,
                "orders_created": s.orders_created,
            }

    def reset_stats(self) -> dict[str, Any]:
        with self.lock:
            self._stats = Stats()
            self._arrivals.clear()
            self._accepted.clear()
        return self.stats()

    # ------------------------------------------------------------------ control: faults

    def inject_fault(
        self,
        count: int = 1,
        *,
        method: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
        http_status: int | None = None,
        stall: float | None = None,
        when: str = "before",
        envelope: str | None = None,
    ) -> None:
        """The next `count` API calls (of `method`, if given) fail.

        `error_code` answers an error envelope (e.g. "isp.service-unavailable", "ApiCallLimit"); `http_status`
        alone answers a bare 5xx page; `stall` sleeps that long first (past a client timeout), then the call
        fails as configured or, with no error given, is processed normally. `when="after"` processes the call
        and then fails its response: the "did my order go through?" case.
        """
        if when not in ("before", "after"):
            raise ControlError("when must be before or after")
        if error_code is None and http_status is None and stall is None:
            raise ControlError("give error_code, http_status or stall")
        with self.lock:
            self._faults.append(
                Fault(count, method, error_code, message, http_status, stall, when, envelope)
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    # ------------------------------------------------------------------ control: catalog

    def seed_product(
        self,
        product_id: str | int,
        *,
        store_id: str | int = "1103800006",
        store_name: str = "Sim Supplier Store",
        subject: str = "Simulated product",
        skus: Iterable[Mapping[str, Any]] | None = None,
        ship_to: Iterable[str] | None = None,
        logistics_services: Iterable[str] | None = None,
        currency: str = "USD",
        image_urls: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Add or replace a product. Each sku: sku_id, sku_attr ("" for single-SKU), price, stock, sku_desc."""
        pid = str(product_id)
        sku_specs = list(skus) if skus is not None else [{"sku_attr": "", "price": "9.99", "stock": 1000}]
        sim_skus = []
        for n, spec in enumerate(sku_specs):
            attr = str(spec.get("sku_attr", ""))
            sim_skus.append(
                SimSku(
                    sku_id=str(spec.get("sku_id") or f"{12000000000000000 + int(pid[-6:] or 0) * 100 + n}"),
                    sku_attr=attr,
                    price=Decimal(str(spec.get("price", "9.99"))),
                    stock=int(spec.get("stock", 1000)),
                    sku_desc=str(spec.get("sku_desc", attr.split("#", 1)[-1] if "#" in attr else "")),
                )
            )
        product = SimProduct(
            product_id=pid,
            store_id=str(store_id),
            store_name=store_name,
            subject=subject,
            skus=sim_skus,
            ship_to=frozenset(c.upper() for c in ship_to) if ship_to is not None else None,
            logistics_services=tuple(logistics_services or DEFAULT_LOGISTICS_SERVICES),
            currency=currency,
            image_urls=tuple(image_urls or (f"https://ae01.alicdn.com/kf/{pid}.jpg",)),
        )
        with self.lock:
            self._products[pid] = product
            return self._product_dict(product)

    def seed_products(self, products: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.seed_product(**dict(p)) for p in products]

    def products(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._product_dict(p) for p in self._products.values()]

    @staticmethod
    def _product_dict(p: SimProduct) -> dict[str, Any]:
        return {
            "product_id": p.product_id,
            "store_id": p.store_id,
            "store_name": p.store_name,
            "subject": p.subject,
            "skus": [
                {"sku_id": s.sku_id, "sku_attr": s.sku_attr, "price": str(s.price), "stock": s.stock}
                for s in p.skus
            ],
            "ship_to": sorted(p.ship_to) if p.ship_to is not None else None,
            "logistics_services": list(p.logistics_services),
        }

    # ------------------------------------------------------------------ control: accounts and tokens

    def set_oauth_account(self, **account: Any) -> dict[str, Any]:
        """The AliExpress account that the next OAuth authorizations (and issue_token) log in as."""
        with self.lock:
            self._account = replace(self._account, **{k: str(v) for k, v in account.items()})
            return asdict(self._account)

    def issue_code(self, account: Mapping[str, Any] | None = None) -> str:
        """An authorization code, as the /oauth/authorize redirect hands out (single use)."""
        with self.lock:
            acct = replace(self._account, **{k: str(v) for k, v in (account or {}).items()})
            code = "3_" + secrets.token_hex(12)
            self._codes[code] = (acct, self.now() + self.config.code_ttl)
            return code

    def issue_token(
        self,
        *,
        account: Mapping[str, Any] | None = None,
        expires_in: float | None = None,
        refresh_expires_in: float | None = None,
    ) -> dict[str, Any]:
        """Token pair for an account without the OAuth dance (defaults: the OAuth account, configured TTLs)."""
        with self.lock:
            acct = replace(self._account, **{k: str(v) for k, v in (account or {}).items()})
            tok = self._new_token(acct, expires_in, refresh_expires_in)
            return self._token_dict(tok, as_strings=False)

    def revoke_token(self, access_token: str | None = None, *, user_id: str | None = None) -> int:
        """Revoke one access token (and its refresh token), or every token of `user_id`; returns how many."""
        with self.lock:
            hit = [
                t
                for t in self._tokens.values()
                if t.access_token == access_token or (user_id is not None and t.account.user_id == str(user_id))
            ]
            for tok in hit:
                tok.revoked = True
            return len(hit)

    def expire_token(self, access_token: str) -> None:
        """Make an access token expired now (its refresh token keeps working)."""
        with self.lock:
            self._token_or_fail(access_token).expires_at = self.now() - 1

    def expire_refresh_token(self, access_token: str | None = None, *, refresh_token: str | None = None) -> None:
        with self.lock:
            tok = self._refresh.get(refresh_token or "") or self._token_or_fail(access_token or "")
            tok.refresh_expires_at = self.now() - 1

    def tokens(self) -> list[dict[str, Any]]:
        """Token metadata for debugging; token values are abbreviated."""
        with self.lock:
            now = self.now()
            return [
                {
                    "access_token": t.access_token[:8] + "…",
                    "user_id": t.account.user_id,
                    "expires_at": t.expires_at,
                    "refresh_expires_at": t.refresh_expires_at,
                    "revoked": t.revoked,
                    "valid": not t.revoked and now < t.expires_at,
                }
                for t in self._tokens.values()
            ]

    def _token_or_fail(self, access_token: str) -> SimToken:
        tok = self._tokens.get(access_token)
        if tok is None:
            raise ControlError("unknown access token")
        return tok

    def _new_token(
        self, acct: SimAccount, expires_in: float | None = None, refresh_expires_in: float | None = None
    ) -> SimToken:
        now = self.now()
        tok = SimToken(
            access_token="50000" + secrets.token_hex(24),
            refresh_token="50001" + secrets.token_hex(24),
            account=acct,
            expires_at=now + (self.config.access_token_ttl if expires_in is None else expires_in),
            refresh_expires_at=now
            + (self.config.refresh_token_ttl if refresh_expires_in is None else refresh_expires_in),
        )
        self._tokens[tok.access_token] = tok
        self._refresh[tok.refresh_token] = tok
        return tok

    def _token_dict(self, tok: SimToken, *, as_strings: bool) -> dict[str, Any]:
        now = self.now()
        expires_in = max(0, round(tok.expires_at - now))
        refresh_in = max(0, round(tok.refresh_expires_at - now))

        # The real API mixes forms: lifetimes come back as strings, absolute times as numbers.
        def num(v: int, default_str: bool) -> int | str:
            return str(v) if as_strings or default_str else v

        return {
            "access_token": tok.access_token,
            "refresh_token": tok.refresh_token,
            "expires_in": num(expires_in, True),
            "refresh_expires_in": num(refresh_in, True),
            "expire_time": num(int(tok.expires_at * 1000), False),
            "refresh_token_valid_time": num(int(tok.refresh_expires_at * 1000), False),
            "user_id": tok.account.user_id,
            "seller_id": tok.account.seller_id,
            "account_id": tok.account.account_id,
            "account": tok.account.account,
            "account_platform": tok.account.account_platform,
            "user_nick": tok.account.user_nick,
            "sp": "ae",
            "locale": "en_US",
            "code": "0",
        }

    def authenticate(self, access_token: str | None) -> SimAccount:
        """The account behind a business call's `session`; IllegalAccessToken when unknown/expired/revoked."""
        with self.lock:
            tok = self._tokens.get(access_token or "")
            if tok is None or tok.revoked or self.now() >= tok.expires_at:
                raise SimError("IllegalAccessToken", "The specified access token is invalid or expired")
            return tok.account

    # ------------------------------------------------------------------ gateway bookkeeping (server.py)

    def next_request_id(self) -> str:
        with self.lock:
            self._request_seq += 1
            return f"{self._rng.getrandbits(32):08x}{int(self._clock() * 1000)}{self._request_seq % 10000:04d}"

    def begin_call(self, method: str) -> bool:
        """Count an arriving API call; False when the rate limit rejects it (ApiCallLimit)."""
        with self.lock:
            now = self._monotonic()
            s = self._stats
            s.calls[method] += 1
            self._active += 1
            s.max_concurrent = max(s.max_concurrent, self._active)
            for window in (self._arrivals, self._accepted):
                while window and window[0] <= now - 1.0:
                    window.popleft()
            self._arrivals.append(now)
            s.peak_calls_per_second = max(s.peak_calls_per_second, len(self._arrivals))
            limit = self.config.rate_limit
            if limit is not None and len(self._accepted) >= limit:
                s.api_call_limit_errors += 1
                return False
            self._accepted.append(now)
            s.peak_accepted_per_second = max(s.peak_accepted_per_second, len(self._accepted))
            return True

    def end_call(self, error_code: str | None) -> None:
        with self.lock:
            self._active -= 1
            if error_code:
                self._stats.errors[error_code] += 1

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.method is None or fault.method == method):
                    fault.remaining -= 1
                    taken = replace(fault)
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    return taken
            return None

    def shape(self, simplify: bool) -> Shape:
        with self.lock:
            c = self.config
            if c.randomize_shapes:
                return Shape(
                    simplify=simplify,
                    bare_single=self._rng.random() < 0.5,
                    numbers_as_strings=self._rng.random() < 0.5,
                    prefix=self._rng.choice(("aeop_", "ae_")),
                )
            return Shape(simplify, c.bare_single, c.numbers_as_strings, c.wrapper_prefix)

    def pick_envelope(self, system_api: bool, override: str | None = None) -> str:
        with self.lock:
            mode = override or self.config.error_envelope
            if mode == "mixed":
                return self._rng.choice(("wrapped", "flat"))
            if mode == "auto":
                return "flat" if system_api else "wrapped"
            return mode

    # ------------------------------------------------------------------ system APIs

    def api_token_create(self, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            code = params.get("code", "")
            entry = self._codes.pop(code, None)  # single use, even when expired
            if entry is None or self.now() >= entry[1]:
                raise SimError("InvalidCode", "The specified code is invalid or expired")
            tok = self._new_token(entry[0])
            return self._token_dict(tok, as_strings=shape.numbers_as_strings)

    def api_token_refresh(self, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            old = self._refresh.get(params.get("refresh_token", ""))
            if old is None or old.revoked or old.refresh_used or self.now() >= old.refresh_expires_at:
                raise SimError("IllegalRefreshToken", "The specified refresh token is invalid or expired")
            if self.config.rotate_refresh_token:
                old.refresh_used = True
            tok = self._new_token(old.account)
            return self._token_dict(tok, as_strings=shape.numbers_as_strings)

    # ------------------------------------------------------------------ business APIs

    def api_product_get(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        pid = params.get("product_id", "").strip()
        country = params.get("ship_to_country", "").strip().upper()
        if not pid or not country:
            missing = "product_id" if not pid else "ship_to_country"
            raise SimError("MissingParameter", f"The input parameter '{missing}' is mandatory")
        with self.lock:
            p = self._products.get(pid)
            if p is None:
                raise BusinessFailure(None, {"rsp_code": shape.num(605), "rsp_msg": "ITEM_ID_NOT_FOUND"})
            if p.ship_to is not None and country not in p.ship_to:
                raise BusinessFailure(
                    None, {"rsp_code": shape.num(602), "rsp_msg": "ITEM_NOT_SELL_TO_SHIP_TO_COUNTRY"}
                )
            skus = [
                {
                    "sku_id": s.sku_id,
                    "sku_attr": s.sku_attr,
                    "sku_price": str(s.price),
                    "offer_sale_price": str(s.price),
                    "sku_available_stock": shape.num(s.stock),
                    "currency_code": p.currency,
                }
                for s in p.skus
            ]
            return {
                "ae_item_base_info_dto": {
                    "product_id": shape.num(int(p.product_id)) if p.product_id.isdigit() else p.product_id,
                    "subject": p.subject,
                    "product_status_type": p.status,
                    "currency_code": p.currency,
                },
                "ae_item_sku_info_dtos": shape.lst(skus, "ae_item_sku_info_d_t_o"),
                "ae_multimedia_info_dto": {"image_urls": ";".join(p.image_urls)},
                "ae_store_info": {
                    "store_id": shape.num(int(p.store_id)) if p.store_id.isdigit() else p.store_id,
                    "store_name": p.store_name,
                    "store_country_code": "CN",
                },
                "logistics_info_dto": {"ship_to_country": country, "delivery_time": shape.num(7)},
            }

    def api_order_create(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        req = self._json_param(params, ORDER_PARAM, required=True)
        extend = self._json_param(params, "ds_extend_request", required=False)
        out_order_id = str(req.get("out_order_id") or "").strip()
        with self.lock:
            now = self.now()
            key = (acct.user_id, out_order_id)
            if out_order_id and key in self._idempotency:
                created, ids = self._idempotency[key]
                if now - created < self.config.idempotency_window:
                    if self.config.repeat_mode == "repeated_error":
                        raise self._order_failure("REPEATED_ORDER_ERROR", "repeated order")
                    return self._order_list(ids, shape)
            raw_address = req.get("logistics_address")
            address: dict[str, Any] = raw_address if isinstance(raw_address, dict) else {}
            self._validate_address(address)
            lines_by_store = self._validate_items(req.get("product_items"), str(address.get("country", "")))
            plan = self._plan()
            pay_now = self.config.auto_pay or self._try_to_pay(extend)
            new_ids: list[int] = []
            for (store_id, store_name), lines in lines_by_store.items():
                for ln in lines:
                    self._sku(ln.product_id, ln.sku_id).stock -= ln.quantity
                order = SimOrder(
                    order_id=self._new_order_id(),
                    out_order_id=out_order_id,
                    user_id=acct.user_id,
                    store_id=store_id,
                    store_name=store_name,
                    lines=lines,
                    address=dict(address),
                    created_at=now,
                    plan=plan,
                    packages_left=max(1, plan.packages),
                    unshipped=[ln.quantity for ln in lines],
                )
                if pay_now:
                    order.paid_at = now
                self._orders[order.order_id] = order
                self._stats.orders_created += 1
                new_ids.append(order.order_id)
            if out_order_id:
                self._idempotency[key] = (now, new_ids)
            return self._order_list(new_ids, shape)

    def api_order_get(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        query = self._json_param(params, "single_order_query", required=True)
        with self.lock:
            order = self._owned_order(acct, query.get("order_id"))
            self._progress(order, self.now())
            return self._render_order(order, shape)

    def api_tracking_get(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        for name in ("ae_order_id", "language"):
            if not params.get(name, "").strip():
                raise SimError("MissingParameter", f"The input parameter '{name}' is mandatory")
        with self.lock:
            order = self._owned_order(acct, params["ae_order_id"])
            now = self.now()
            self._progress(order, now)
            if not order.packages:
                return {"ret": False, "msg": "TRACKING DATA NOT FOUND", "code": "1001"}
            lines = [self._render_package(order, pkg, now, shape) for pkg in order.packages]
            return {
                "ret": True,
                "msg": "",
                "code": "",
                "data": {"tracking_detail_line_list": shape.lst(lines, "tracking_detail")},
            }

    # ------------------------------------------------------------------ order helpers

    @staticmethod
    def _json_param(params: Mapping[str, str], name: str, *, required: bool) -> dict[str, Any]:
        raw = params.get(name)
        if raw is None or not raw.strip():
            if required:
                raise SimError("MissingParameter", f"The input parameter '{name}' is mandatory")
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise SimError("InvalidParameter", f"The input parameter '{name}' is not valid JSON") from None
        if not isinstance(value, dict):
            raise SimError("InvalidParameter", f"The input parameter '{name}' must be a JSON object")
        return value

    @staticmethod
    def _order_failure(code: str, msg: str) -> BusinessFailure:
        return BusinessFailure({"error_msg": msg, "error_code": code, "is_success": False})

    @staticmethod
    def _order_list(ids: list[int], shape: Shape) -> dict[str, Any]:
        return {"is_success": True, "order_list": shape.lst([shape.num(i) for i in ids], "number")}

    def _validate_address(self, address: Mapping[str, Any]) -> None:
        required = (
            ("address", "Please enter a street address"),
            ("city", "Please enter a city"),
            ("province", "Please enter a state/province/region"),
            ("country", "Please select a country/region"),
            ("full_name", "Please enter a contact name"),
        )
        for name, msg in required:
            if not str(address.get(name) or "").strip():
                raise self._order_failure(ADDRESS_FAIL, msg)
        if len(str(address["country"]).strip()) != 2:
            raise self._order_failure(ADDRESS_FAIL, "Please select a country/region")

    def _validate_items(self, items: Any, country: str) -> dict[tuple[str, str], list[SimLine]]:
        if not isinstance(items, list) or not items:
            raise self._order_failure("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "product_items is empty")
        wanted: Counter[tuple[str, str]] = Counter()
        by_store: dict[tuple[str, str], list[SimLine]] = {}
        for item in items:
            if not isinstance(item, dict):
                raise self._order_failure("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "bad product item")
            pid = str(item.get("product_id") or "").strip()
            product = self._products.get(pid)
            if product is None:
                raise self._order_failure("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", f"product {pid} does not exist")
            if product.ship_to is not None and country.upper() not in product.ship_to:
                raise self._order_failure("A001_ORDER_CANNOT_BE_PLACED", f"product {pid} cannot ship to {country}")
            sku = self._match_sku(product, str(item.get("sku_attr") or ""))
            try:
                count = int(str(item.get("product_count")).strip())
            except ValueError:
                count = 0
            if count < 1:
                raise self._order_failure("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "product_count must be >= 1")
            service = str(item.get("logistics_service_name") or "").strip()
            if service and service not in product.logistics_services:
                raise self._order_failure("DELIVERY_METHOD_NOT_EXIST", f"delivery method {service} does not exist")
            wanted[(pid, sku.sku_id)] += count
            if wanted[(pid, sku.sku_id)] > sku.stock:
                raise self._order_failure("INVENTORY_HOLD_ERROR", "inventory hold error: not enough stock")
            by_store.setdefault((product.store_id, product.store_name), []).append(
                SimLine(
                    product_id=pid,
                    sku_id=sku.sku_id,
                    sku_attr=sku.sku_attr,
                    sku_desc=sku.sku_desc,
                    title=product.subject,
                    quantity=count,
                    unit_price=sku.price,
                    logistics_service=service or product.logistics_services[0],
                )
            )
        return by_store

    def _match_sku(self, product: SimProduct, sku_attr: str) -> SimSku:
        if not sku_attr.strip():
            if len(product.skus) == 1:
                return product.skus[0]
            raise self._order_failure(
                "ERROR_WHEN_BUILD_FOR_PLACE_ORDER", f"product {product.product_id} needs a sku_attr"
            )
        key = _attr_key(sku_attr)
        for sku in product.skus:
            if _attr_key(sku.sku_attr) == key:
                return sku
        raise self._order_failure("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", f"sku {sku_attr} does not exist")

    def _sku(self, product_id: str, sku_id: str) -> SimSku:
        return next(s for s in self._products[product_id].skus if s.sku_id == sku_id)

    @staticmethod
    def _try_to_pay(extend: Mapping[str, Any]) -> bool:
        payment = extend.get("payment")
        return isinstance(payment, dict) and str(payment.get("try_to_pay", "")).lower() == "true"

    def _plan(self) -> OrderPlan:
        c = self.config
        return OrderPlan(
            pay_timeout=c.pay_timeout,
            risk_control_seconds=c.risk_control_seconds,
            ship_delay=c.ship_delay,
            packages=max(1, c.packages_per_order),
            package_interval=c.package_interval,
            tracking_number_delay=c.tracking_number_delay,
            delivery_delay=c.delivery_delay,
        )

    def _new_order_id(self) -> int:
        # 16 digits, above 2^53 and odd, so any float round-trip visibly corrupts the id.
        while True:
            oid = self._rng.randrange(2**53 + 1, 10**16) | 1
            if oid not in self._orders:
                return oid

    def _owned_order(self, acct: SimAccount, order_id: Any) -> SimOrder:
        try:
            oid = int(str(order_id).strip())
        except ValueError:
            raise SimError("InvalidParameter", "order_id must be a number") from None
        order = self._orders.get(oid)
        if order is None or order.user_id != acct.user_id:
            raise SimError(
                "15",
                "Remote service error",
                sub_code="isv.invalid-authorization",
                error_type="ISV",
            )
        return order

    # ------------------------------------------------------------------ order progression

    def _progress_all(self) -> None:
        now = self.now()
        for order in self._orders.values():
            self._progress(order, now)

    def _progress(self, o: SimOrder, now: float) -> None:
        """Apply every automatic transition due by `now` (lazily, so the clock can jump)."""
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
        if units is None:
            # Auto-split: spread the remaining units evenly over the packages still planned.
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
        o.order_status = "FINISH"
        o.finished_at = self.now()
        for idx, ln in enumerate(o.lines):
            ln.end_reason, ln.end_reason_desc = reason, desc
            product = self._products.get(ln.product_id)
            sku = next((s for s in product.skus if s.sku_id == ln.sku_id), None) if product else None
            if sku is not None:
                sku.stock += o.unshipped[idx]  # the supplier's hold is released

    # ------------------------------------------------------------------ control: orders

    def _order(self, order_id: str | int) -> SimOrder:
        order = self._orders.get(_as_int(order_id, "order_id"))
        if order is None:
            raise ControlError(f"unknown order {order_id}")
        return order

    def _orders_of(self, order_ids: str | int | Iterable[str | int]) -> list[SimOrder]:
        if isinstance(order_ids, (str, int)):
            order_ids = [order_ids]
        return [self._order(i) for i in order_ids]

    def pay(self, order_ids: str | int | Iterable[str | int]) -> list[dict[str, Any]]:
        """The seller pays (on AliExpress): PLACE_ORDER_SUCCESS -> [RISK_CONTROL ->] WAIT_SELLER_SEND_GOODS."""
        with self.lock:
            now = self.now()
            orders = self._orders_of(order_ids)
            for o in orders:
                if o.paid_at is None and o.order_status == "PLACE_ORDER_SUCCESS":
                    o.paid_at = now
                self._progress(o, now)
            return [self._snapshot(o) for o in orders]

    def ship(
        self,
        order_id: str | int,
        *,
        items: Iterable[Mapping[str, Any]] | None = None,
        mail_no: str | None = None,
        mail_no_delay: float | None = None,
    ) -> dict[str, Any]:
        """Ship a package now: `items` ([{sku_id or product_id, quantity}]) or everything still unshipped."""
        with self.lock:
            o = self._order(order_id)
            now = self.now()
            if o.paid_at is None:
                o.paid_at = now
            self._progress(o, now)
            if not any(o.unshipped):
                raise ControlError("nothing left to ship")
            units: dict[int, int] | None = None
            if items is not None:
                units = {}
                for spec in items:
                    idx = self._line_index(o, spec)
                    qty = _as_int(spec.get("quantity", o.unshipped[idx]), "quantity")
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
            return self._snapshot(o)

    @staticmethod
    def _line_index(o: SimOrder, spec: Mapping[str, Any]) -> int:
        for idx, ln in enumerate(o.lines):
            if str(spec.get("sku_id", "")) == ln.sku_id or (
                "sku_id" not in spec and str(spec.get("product_id", "")) == ln.product_id
            ):
                return idx
        raise ControlError(f"no order line matches {dict(spec)}")

    def deliver(self, order_id: str | int) -> dict[str, Any]:
        """Buyer receives everything: FINISH / BUYER_ACCEPT_GOODS (ships what is left first)."""
        with self.lock:
            o = self._order(order_id)
            if any(o.unshipped):
                self.ship(order_id)
            o.order_status, o.logistics_status = "FINISH", "BUYER_ACCEPT_GOODS"
            o.finished_at = self.now()
            return self._snapshot(o)

    def cancel(
        self,
        order_ids: str | int | Iterable[str | int],
        *,
        end_reason: str = "buyer_cancel_order",
        end_reason_desc: str = "The buyer cancelled the order",
        pending: bool = False,
    ) -> list[dict[str, Any]]:
        """Cancel on AliExpress: FINISH with `end_reason` on every child order, or IN_CANCEL when pending."""
        with self.lock:
            orders = self._orders_of(order_ids)
            for o in orders:
                if pending:
                    o.order_status, o.manual = "IN_CANCEL", True
                else:
                    self._end(o, end_reason, end_reason_desc)
                    o.manual = True
            return [self._snapshot(o) for o in orders]

    def freeze(self, order_id: str | int) -> dict[str, Any]:
        return self._hold(order_id, "IN_FROZEN")

    def open_issue(self, order_id: str | int) -> dict[str, Any]:
        """The buyer opens a dispute: IN_ISSUE."""
        return self._hold(order_id, "IN_ISSUE")

    def _hold(self, order_id: str | int, status: str) -> dict[str, Any]:
        with self.lock:
            o = self._order(order_id)
            self._progress(o, self.now())
            if o.held_from is None:
                o.held_from = (o.order_status, o.logistics_status)
            o.order_status, o.manual = status, True
            return self._snapshot(o)

    def resume(self, order_id: str | int) -> dict[str, Any]:
        """Undo freeze/open_issue/set_status: back to automatic progression."""
        with self.lock:
            o = self._order(order_id)
            if o.held_from is not None:
                o.order_status, o.logistics_status = o.held_from
                o.held_from = None
            o.manual = False
            self._progress(o, self.now())
            return self._snapshot(o)

    def set_status(
        self, order_id: str | int, order_status: str, logistics_status: str | None = None
    ) -> dict[str, Any]:
        """Force any raw status (even unknown ones); automation stops for this order until resume()."""
        with self.lock:
            o = self._order(order_id)
            if o.held_from is None:
                o.held_from = (o.order_status, o.logistics_status)
            o.order_status, o.manual = order_status, True
            if logistics_status is not None:
                o.logistics_status = logistics_status
            return self._snapshot(o)

    def orders(self) -> list[dict[str, Any]]:
        """Every order created so far, oldest first (ids as strings)."""
        with self.lock:
            self._progress_all()
            return [self._snapshot(o) for o in self._orders.values()]

    def order(self, order_id: str | int) -> dict[str, Any]:
        with self.lock:
            o = self._order(order_id)
            self._progress(o, self.now())
            return self._snapshot(o)

    def _snapshot(self, o: SimOrder) -> dict[str, Any]:
        now = self.now()
        return {
            "order_id": str(o.order_id),
            "out_order_id": o.out_order_id,
            "user_id": o.user_id,
            "store_id": o.store_id,
            "order_status": o.order_status,
            "logistics_status": o.logistics_status,
            "created_at": o.created_at,
            "paid_at": o.paid_at,
            "finished_at": o.finished_at,
            "address": o.address,
            "lines": [
                {
                    "product_id": ln.product_id,
                    "sku_id": ln.sku_id,
                    "sku_attr": ln.sku_attr,
                    "quantity": ln.quantity,
                    "unshipped": o.unshipped[i],
                    "end_reason": ln.end_reason,
                }
                for i, ln in enumerate(o.lines)
            ],
            "packages": [
                {
                    "mail_no": pkg.mail_no if now >= pkg.mail_no_at else "",
                    "shipped_at": pkg.shipped_at,
                    "items": [
                        {"sku_id": o.lines[i].sku_id, "product_id": o.lines[i].product_id, "quantity": q}
                        for i, q in pkg.items
                    ],
                }
                for pkg in o.packages
            ],
        }

    # ------------------------------------------------------------------ rendering (documented shapes)

    def _render_order(self, o: SimOrder, shape: Shape) -> dict[str, Any]:
        children = []
        for ln in o.lines:
            child: dict[str, Any] = {
                "product_id": shape.num(int(ln.product_id)) if ln.product_id.isdigit() else ln.product_id,
                "sku_id": ln.sku_id,
                "product_name": ln.title,
                "product_count": shape.num(ln.quantity),
                "product_price": money(ln.unit_price),
                "actual_fee": money(ln.unit_price * ln.quantity),
            }
            if ln.end_reason:
                child["end_reason"] = ln.end_reason
                child["end_reason_desc"] = ln.end_reason_desc
            children.append(child)
        result: dict[str, Any] = {
            "gmt_create": _fmt_time(o.created_at),
            "order_status": o.order_status,
            "logistics_status": o.logistics_status,
            "order_amount": money(o.amount),
            "user_order_amount": money(o.amount),
            "store_info": {
                "store_id": shape.num(int(o.store_id)) if o.store_id.isdigit() else o.store_id,
                "store_name": o.store_name,
                "store_url": f"https://www.aliexpress.com/store/{o.store_id}",
            },
            "child_order_list": shape.lst(children, f"{shape.prefix}child_order_info"),
        }
        if o.paid_at is None and o.order_status == "PLACE_ORDER_SUCCESS" and o.plan.pay_timeout is not None:
            left = max(0, int(o.created_at + o.plan.pay_timeout - self.now()))
            result["pay_timeout_second"] = shape.num(left)
        if o.paid_at is not None:
            result["order_paidtime_string"] = _fmt_time(o.paid_at)
        now = self.now()
        logistics = [
            {"logistics_no": pkg.mail_no, "logistics_service": pkg.logistics_service}
            for pkg in o.packages
            if now >= pkg.mail_no_at
        ]
        if logistics:
            result["logistics_info_list"] = shape.lst(logistics, f"{shape.prefix}order_logistics_info")
        return result

    def _render_package(self, o: SimOrder, pkg: SimPackage, now: float, shape: Shape) -> dict[str, Any]:
        has_number = now >= pkg.mail_no_at
        nodes = [(pkg.shipped_at, "Shipment info received", "The seller has shipped your package")]
        if has_number:
            nodes.append((pkg.mail_no_at, "Tracking number assigned", "The carrier accepted the package"))
        for offset, name, desc in (
            (1 * _DAY, "Departed from sorting center", "Your package left the sorting center"),
            (4 * _DAY, "Arrived at destination country", "Your package arrived at local Facility."),
        ):
            if now >= pkg.shipped_at + offset:
                nodes.append((pkg.shipped_at + offset, name, desc))
        if o.finished_at is not None and o.logistics_status == "BUYER_ACCEPT_GOODS":
            nodes.append((o.finished_at, "Delivered", "Your package was delivered"))
        nodes.sort(key=lambda n: n[0], reverse=True)  # newest first
        mail_no = pkg.mail_no if has_number else ""
        return {
            "mail_no": mail_no,
            "carrier_name": pkg.carrier_name,
            "cp_name": pkg.cp_name,
            "cp_website_url": f"https://global.cainiao.com/newDetail.htm?mailNoList={mail_no}" if mail_no else "",
            "eta_time_stamps": shape.num(int((pkg.shipped_at + 12 * _DAY) * 1000)),
            "detail_node_list": shape.lst(
                [
                    {"time_stamp": shape.num(int(t * 1000)), "tracking_detail_desc": d, "tracking_name": n}
                    for t, n, d in nodes
                ],
                "detail_node",
            ),
            "package_item_list": shape.lst(
                [
                    {
                        "item_id": shape.num(int(o.lines[i].product_id))
                        if o.lines[i].product_id.isdigit()
                        else o.lines[i].product_id,
                        "sku_id": o.lines[i].sku_id,
                        "sku_desc": o.lines[i].sku_desc,
                        "quantity": shape.num(q),
                        "item_title": o.lines[i].title,
                    }
                    for i, q in pkg.items
                ],
                "package_item",
            ),
        }


__all__ = [
    "API_ORDER_CREATE",
    "API_ORDER_GET",
    "API_PRODUCT_GET",
    "API_TOKEN_CREATE",
    "API_TOKEN_REFRESH",
    "API_TOKEN_SECURITY_CREATE",
    "API_TOKEN_SECURITY_REFRESH",
    "API_TRACKING_GET",
    "BusinessFailure",
    "ControlError",
    "SimConfig",
    "SimError",
    "SimState",
    "error_for_code",
    "response_key",
]
