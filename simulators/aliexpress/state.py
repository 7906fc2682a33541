"""The simulated AliExpress world behind one facade, `SimState`: every control operation (also exposed over
HTTP under `/_sim/`), the API handlers `server.py` dispatches to, and the movable clock.

The work is done by the parts: `catalog` (products, stock), `tokens` (OAuth), `orders` (lifecycle) with
`placement` (order.create) and `order_views` (rendering), `faults`, `traffic` (stats, rate limit) and `config`.
Everything here is protocol-independent Python; `server.py` turns it into HTTP. All mutable state is guarded by
one re-entrant lock, taken here and only here, and nothing sleeps while holding it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from simulators.aliexpress.catalog import Catalog, new_product, product_dict
from simulators.aliexpress.config import SimConfig, updated
from simulators.aliexpress.faults import Fault, FaultQueue
from simulators.aliexpress.order_views import order_result, snapshot, tracking_result
from simulators.aliexpress.orders import OrderBook, SimOrder
from simulators.aliexpress.placement import Placement, order_list
from simulators.aliexpress.protocol import ControlError, json_param, missing_parameter
from simulators.aliexpress.render import Shape, choose_envelope, choose_shape
from simulators.aliexpress.tokens import SimAccount, TokenStore
from simulators.aliexpress.traffic import Traffic


class SimState:
    """All simulator state and every control operation."""

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
        self._rng = random.Random(self._seed)  # one stream for ids, mail numbers and random shapes
        self._offset = 0.0
        self._catalog = Catalog()
        self._tokens = TokenStore(self.now)
        self._book = OrderBook(self._catalog, self._rng, self.now)
        self._placement = Placement(self._book, self._catalog, self.now)
        self._faults = FaultQueue()
        self._traffic = Traffic(self._monotonic)

    # ------------------------------------------------------------------ control: config, clock, stats

    def reset(self) -> None:
        """Forget everything (catalog, tokens, orders, faults, stats, clock offset); config back to the
        constructor's."""
        with self.lock:
            self._init_state()
            self.configure(**self._initial_config)

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change any `SimConfig` option; returns the whole config."""
        with self.lock:
            self.config = updated(self.config, options)
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
            self._book.progress_all()
        return self.clock()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return self._traffic.stats.as_dict()

    def reset_stats(self) -> dict[str, Any]:
        with self.lock:
            self._traffic.reset_stats()
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
        fault = Fault(count, method, error_code, message, http_status, stall, when, envelope)
        with self.lock:
            self._faults.add(fault)

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
        **extra: Any,
    ) -> dict[str, Any]:
        """Add or replace a product. Each sku: sku_id, sku_attr ("" for single-SKU), price, stock, sku_desc,
        list_price (the inflated `sku_price`), images ({value id: url}). Product import extras: detail (HTML),
        property_names ({property id: name}), base_currency, omit_sku_attr, freight ({service: fee})."""
        product = new_product(
            product_id,
            store_id=store_id,
            store_name=store_name,
            subject=subject,
            skus=skus,
            ship_to=ship_to,
            logistics_services=logistics_services,
            currency=currency,
            image_urls=image_urls,
            **extra,
        )
        with self.lock:
            self._catalog.add(product)
            return product_dict(product)

    def seed_products(self, products: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.seed_product(**dict(p)) for p in products]

    def products(self) -> list[dict[str, Any]]:
        with self.lock:
            return [product_dict(p) for p in self._catalog.all()]

    # The catalog changes under the seller's feet (product import's monitoring, issue 12).

    def change_price(self, product_id: str | int, sku_id: str | int, price: str) -> None:
        """The supplier changes a SKU's price (in the product's currency)."""
        with self.lock:
            self._catalog.change_price(product_id, sku_id, price)

    def set_stock(self, product_id: str | int, sku_id: str | int, stock: int) -> None:
        with self.lock:
            self._catalog.set_stock(product_id, sku_id, stock)

    def remove_sku(self, product_id: str | int, sku_id: str | int) -> None:
        """The supplier removes a SKU: product.get no longer lists it, order.create refuses its sku_attr."""
        with self.lock:
            self._catalog.remove_sku(product_id, sku_id)

    def remove_product(self, product_id: str | int) -> None:
        """The supplier takes the product down: product.get answers rsp_code 605."""
        with self.lock:
            self._catalog.remove_product(product_id)

    # ------------------------------------------------------------------ control: accounts and tokens

    def set_oauth_account(self, **account: Any) -> dict[str, Any]:
        """The AliExpress account that the next OAuth authorizations (and issue_token) log in as."""
        with self.lock:
            return self._tokens.set_account(account)

    def issue_code(self, account: Mapping[str, Any] | None = None) -> str:
        """An authorization code, as the /oauth/authorize redirect hands out (single use)."""
        with self.lock:
            return self._tokens.issue_code(self._tokens.account_with(account), self.config.code_ttl)

    def issue_token(
        self,
        *,
        account: Mapping[str, Any] | None = None,
        expires_in: float | None = None,
        refresh_expires_in: float | None = None,
    ) -> dict[str, Any]:
        """Token pair for an account without the OAuth dance (defaults: the OAuth account, configured TTLs)."""
        with self.lock:
            acct = self._tokens.account_with(account)
            tok = self._tokens.issue(acct, self.config, expires_in, refresh_expires_in)
            return self._tokens.body(tok, as_strings=False)

    def revoke_token(self, access_token: str | None = None, *, user_id: str | None = None) -> int:
        """Revoke one access token (and its refresh token), or every token of `user_id`; returns how many."""
        with self.lock:
            return self._tokens.revoke(access_token, user_id)

    def expire_token(self, access_token: str) -> None:
        """Make an access token expired now (its refresh token keeps working)."""
        with self.lock:
            self._tokens.expire(access_token)

    def expire_refresh_token(self, access_token: str | None = None, *, refresh_token: str | None = None) -> None:
        with self.lock:
            self._tokens.expire_refresh(access_token, refresh_token)

    def tokens(self) -> list[dict[str, Any]]:
        """Token metadata for debugging; token values are abbreviated."""
        with self.lock:
            return self._tokens.listing()

    # ------------------------------------------------------------------ control: orders

    def pay(self, order_ids: str | int | Iterable[str | int]) -> list[dict[str, Any]]:
        """The seller pays (on AliExpress): PLACE_ORDER_SUCCESS -> [RISK_CONTROL ->] WAIT_SELLER_SEND_GOODS."""
        with self.lock:
            orders = self._book.get_many(order_ids)
            self._book.pay(orders)
            return [snapshot(o, self.now()) for o in orders]

    def ship(
        self,
        order_id: str | int,
        *,
        items: Iterable[Mapping[str, Any]] | None = None,
        mail_no: str | None = None,
        mail_no_delay: float | None = None,
    ) -> dict[str, Any]:
        """Ship a package now: `items` ([{sku_id or product_id, quantity}]) or everything still unshipped."""
        return self._change(order_id, lambda o: self._book.ship(o, items, mail_no, mail_no_delay))

    def deliver(self, order_id: str | int) -> dict[str, Any]:
        """Buyer receives everything: FINISH / BUYER_ACCEPT_GOODS (ships what is left first)."""
        return self._change(order_id, self._book.deliver)

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
            orders = self._book.get_many(order_ids)
            for o in orders:
                self._book.cancel(o, end_reason, end_reason_desc, pending)
            return [snapshot(o, self.now()) for o in orders]

    def freeze(self, order_id: str | int) -> dict[str, Any]:
        """AliExpress freezes the order: IN_FROZEN."""
        return self._hold(order_id, "IN_FROZEN")

    def open_issue(self, order_id: str | int) -> dict[str, Any]:
        """The buyer opens a dispute: IN_ISSUE."""
        return self._hold(order_id, "IN_ISSUE")

    def _hold(self, order_id: str | int, status: str) -> dict[str, Any]:
        def hold(o: SimOrder) -> None:
            self._book.progress(o, self.now())
            self._book.take_over(o, status)

        return self._change(order_id, hold)

    def resume(self, order_id: str | int) -> dict[str, Any]:
        """Undo freeze/open_issue/set_status: back to automatic progression."""
        return self._change(order_id, self._book.resume)

    def set_status(self, order_id: str | int, order_status: str, logistics_status: str | None = None) -> dict[str, Any]:
        """Force any raw status (even unknown ones); automation stops for this order until resume()."""
        return self._change(order_id, lambda o: self._book.take_over(o, order_status, logistics_status))

    def orders(self) -> list[dict[str, Any]]:
        """Every order created so far, oldest first (ids as strings)."""
        with self.lock:
            self._book.progress_all()
            return [snapshot(o, self.now()) for o in self._book.all()]

    def order(self, order_id: str | int) -> dict[str, Any]:
        return self._change(order_id, lambda o: self._book.progress(o, self.now()))

    def _change(self, order_id: str | int, change: Callable[[SimOrder], object]) -> dict[str, Any]:
        """`change` applied to one order under the lock; the order as it is after."""
        with self.lock:
            o = self._book.get(order_id)
            change(o)
            return snapshot(o, self.now())

    # ------------------------------------------------------------------ gateway bookkeeping (server.py)

    def next_request_id(self) -> str:
        with self.lock:
            return self._traffic.next_request_id(self._rng, self._clock())

    def begin_call(self, method: str) -> bool:
        """Count an arriving API call; False when the rate limit rejects it (ApiCallLimit)."""
        with self.lock:
            return self._traffic.begin_call(method, self.config.rate_limit)

    def count_error(self, error_code: str | None) -> None:
        with self.lock:
            self._traffic.count_error(error_code)

    def end_call(self) -> None:
        with self.lock:
            self._traffic.end_call()

    def take_fault(self, method: str) -> Fault | None:
        with self.lock:
            return self._faults.take(method)

    def shape(self, simplify: bool) -> Shape:
        with self.lock:
            return choose_shape(self.config, self._rng, simplify)

    def pick_envelope(self, system_api: bool, override: str | None = None) -> str:
        with self.lock:
            return choose_envelope(self.config, self._rng, system_api, override)

    def authenticate(self, access_token: str | None) -> SimAccount:
        """The account behind a business call's `session`; IllegalAccessToken when unknown/expired/revoked."""
        with self.lock:
            return self._tokens.authenticate(access_token)

    # ------------------------------------------------------------------ system APIs

    def api_token_create(self, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            tok = self._tokens.exchange_code(params.get("code", ""), self.config)
            return self._tokens.body(tok, as_strings=shape.numbers_as_strings)

    def api_token_refresh(self, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            tok = self._tokens.refresh(params.get("refresh_token", ""), self.config)
            return self._tokens.body(tok, as_strings=shape.numbers_as_strings)

    # ------------------------------------------------------------------ business APIs

    def api_product_get(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            return self._catalog.api_product_get(params, shape)

    def api_freight_query(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            return self._catalog.api_freight_query(params, shape)

    def api_order_create(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        with self.lock:
            ids, created = self._placement.place(acct, params, self.config)
            self._traffic.stats.orders_created += created
            return order_list(ids, shape)

    def api_order_get(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        query = json_param(params, "single_order_query", required=True)
        with self.lock:
            order = self._book.owned(acct, query.get("order_id"))
            now = self.now()
            self._book.progress(order, now)
            return order_result(order, now, shape)

    def api_tracking_get(self, acct: SimAccount, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        for name in ("ae_order_id", "language"):
            if not params.get(name, "").strip():
                raise missing_parameter(name)
        with self.lock:
            order = self._book.owned(acct, params["ae_order_id"])
            now = self.now()
            self._book.progress(order, now)
            return tracking_result(order, now, shape)
