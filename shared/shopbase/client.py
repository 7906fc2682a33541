"""ShopBase Admin API client: auth, per-shop throttle, retries, typed errors, lenient models.

Wire details (paths, headers, payloads, error wording) live in `protocol.py`; the session, "never sent"
and backoff are `shared.http_client`'s; the order's models are `shared.models.shopbase_order`'s.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from shared import http_client
from shared.models.shopbase_order import ShopBaseFulfillment
from shared.shopbase import protocol
from shared.shopbase.errors import (
    ShopBaseConnectionError,
    ShopBaseError,
    ShopBaseRateLimited,
    ShopBaseResponseError,
    ShopBaseServerError,
    ShopBaseTimeout,
    error_for_status,
)
from shared.shopbase.models import ShopBaseProduct, Webhook
from shared.shopbase.throttle import Throttle, throttle_for

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

USER_AGENT = "dropship-connector/0.1 (+shopbase-client)"
_SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


def shared_session() -> requests.Session:
    """The process's pooled ShopBase session (connections are reused across shops and clients)."""
    headers = {"User-Agent": USER_AGENT}
    return http_client.pooled_session("shopbase", pool_connections=16, pool_maxsize=32, headers=headers)


def normalize_shop(shop: str) -> str:
    """'Acme', 'acme.onshopbase.com' or 'https://acme.onshopbase.com/' -> 'acme'."""
    name = shop.strip().lower()
    for prefix in ("https://", "http://"):
        name = name.removeprefix(prefix)
    name = name.rstrip("/").removesuffix(protocol.SHOP_DOMAIN_SUFFIX)
    if not _SHOP_RE.match(name):
        raise ValueError("invalid ShopBase shop name")
    return name


class ShopBaseClient:
    """Client of one shop's Admin API.

    Auth: `access_token` (public app, `X-ShopBase-Access-Token`) or `api_key` + `password` (private
    app, HTTP Basic). `base_url` overrides `https://{shop}.onshopbase.com` (simulator: pass
    `http://127.0.0.1:PORT/shops/{shop}`).

    Throttling: every call first books a slot in this shop's leaky bucket, resynced from the
    `X-Sb-Shop-Api-Call-Limit` header: `throttle` if given, else `throttles(shop, base_url)` (the wiring's
    `SharedThrottles`: one limit per shop for every container, kept in the table), else the process-wide
    bucket shared by all clients with the same base URL (`throttle_for`: clients built without the wiring).
    A 429 waits Retry-After (else ~1 s) and retries, for any method (a 429 was not applied). 5xx,
    timeouts and broken connections are retried with exponential backoff and (equal) jitter only for
    idempotent calls (GET/PUT/DELETE); a POST fails at once with `outcome_unknown` set, except when the
    connection was never opened. At most `max_retries` retries per call.

    `calls` counts HTTP attempts per (method, path template).
    """

    def __init__(
        self,
        shop: str,
        *,
        access_token: str | None = None,
        api_key: str | None = None,
        password: str | None = None,
        base_url: str | None = None,
        session: requests.Session | None = None,
        timeout: http_client.Timeout = http_client.DEFAULT_TIMEOUT,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        throttle: Throttle | None = None,
        throttles: Callable[[str, str], Throttle] | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        self.shop = normalize_shop(shop)
        if access_token:
            self._headers = {protocol.ACCESS_TOKEN_HEADER: access_token, "Accept": "application/json"}
            self._auth: tuple[str, str] | None = None
        elif api_key and password:
            self._headers = {"Accept": "application/json"}
            self._auth = (api_key, password)
        else:
            raise ValueError("ShopBaseClient needs access_token, or api_key and password")
        root = base_url if base_url is not None else protocol.DEFAULT_BASE_URL.format(shop=self.shop)
        self.base_url = root.rstrip("/")
        self._session = session if session is not None else shared_session()
        self._timeout = timeout
        self._max_retries = max(0, max_retries)
        self._sleep = sleep
        if throttle is not None:
            self._throttle: Throttle = throttle
        elif throttles is not None:
            self._throttle = throttles(self.shop, self.base_url)
        else:
            self._throttle = throttle_for(self.base_url)
        self._backoff = http_client.Backoff(backoff_base, backoff_cap, floor=0.5)  # equal jitter
        self.calls: http_client.CallCounter[tuple[str, str]] = http_client.CallCounter()

    def __repr__(self) -> str:  # never show credentials
        return f"ShopBaseClient(shop={self.shop!r}, base_url={self.base_url!r})"

    @property
    def throttle(self) -> Throttle:
        return self._throttle

    # --- Fulfillments ----------------------------------------------------------------------------

    def list_fulfillments(self, order_id: int) -> list[ShopBaseFulfillment]:
        """The order's fulfillments; `ShopBaseNotFound` if the order was deleted."""
        data = self._request("GET", protocol.FULFILLMENTS_PATH, order_id=int(order_id))
        items = self._unwrap(data, protocol.FULFILLMENTS_KEY, "GET", protocol.FULFILLMENTS_PATH)
        return [
            self._identified(f, "GET", protocol.FULFILLMENTS_PATH)
            for f in self._parse_list(ShopBaseFulfillment, items, "GET", protocol.FULFILLMENTS_PATH)
        ]

    def create_fulfillment(
        self,
        order_id: int,
        *,
        tracking_number: str | None,
        tracking_company: str | None = None,
        tracking_url: str | None = None,
        line_items: Iterable[protocol.LineItemSpec] | None,
        notify_customer: bool = True,
    ) -> ShopBaseFulfillment:
        """Create one fulfillment (one tracking number) for `line_items` [(line_item_id, quantity)]
        or [{"id":…, "quantity":…}]; `None` fulfils everything left.

        Not idempotent and therefore NOT retried on 5xx, timeouts or broken connections: those raise
        with `outcome_unknown=True` because ShopBase may have created the fulfillment anyway. Before
        retrying, call `list_fulfillments()` and skip a tracking number that is already there;
        an "already fulfilled" 422 (`ShopBaseUnprocessable.is_already_fulfilled`) means the same.
        """
        payload = protocol.fulfillment_create_payload(
            tracking_number=tracking_number,
            tracking_company=tracking_company,
            tracking_url=tracking_url,
            line_items=line_items,
            notify_customer=notify_customer,
        )
        data = self._request("POST", protocol.FULFILLMENTS_PATH, json_body=payload, order_id=int(order_id))
        item = self._unwrap(data, protocol.FULFILLMENT_KEY, "POST", protocol.FULFILLMENTS_PATH)
        fulfillment = self._parse(ShopBaseFulfillment, item, "POST", protocol.FULFILLMENTS_PATH)
        return self._identified(fulfillment, "POST", protocol.FULFILLMENTS_PATH)

    # --- Webhooks --------------------------------------------------------------------------------

    def register_webhook(self, topic: str, address: str, *, fmt: str = "json") -> Webhook:
        """Subscribe `address` (HTTPS) to `topic`. A POST: not retried on 5xx/timeouts (see
        `ensure_webhook` for a re-runnable variant)."""
        payload = protocol.webhook_create_payload(topic, address, fmt)
        data = self._request("POST", protocol.WEBHOOKS_PATH, json_body=payload)
        item = self._unwrap(data, protocol.WEBHOOK_KEY, "POST", protocol.WEBHOOKS_PATH)
        return self._parse(Webhook, item, "POST", protocol.WEBHOOKS_PATH)

    def list_webhooks(self) -> list[Webhook]:
        data = self._request("GET", protocol.WEBHOOKS_PATH)
        items = self._unwrap(data, protocol.WEBHOOKS_KEY, "GET", protocol.WEBHOOKS_PATH)
        return self._parse_list(Webhook, items, "GET", protocol.WEBHOOKS_PATH)

    def ensure_webhook(self, topic: str, address: str) -> Webhook:
        """The existing subscription of `address` to `topic`, or a new one."""
        for hook in self.list_webhooks():
            if hook.topic == topic and hook.address == address:
                return hook
        return self.register_webhook(topic, address)

    # --- Products (issue 12) ---------------------------------------------------------------------

    def create_product(self, product: Mapping[str, Any]) -> ShopBaseProduct:
        """POST /admin/products.json (ShopBase answers 200). A POST: a 5xx or a timeout raises with
        `outcome_unknown=True` (the product may exist): look it up by its handle before creating again."""
        data = self._request("POST", protocol.PRODUCTS_PATH, json_body={protocol.PRODUCT_KEY: dict(product)})
        item = self._unwrap(data, protocol.PRODUCT_KEY, "POST", protocol.PRODUCTS_PATH)
        return self._parse(ShopBaseProduct, item, "POST", protocol.PRODUCTS_PATH)

    def find_products_by_handle(self, handle: str) -> list[ShopBaseProduct]:
        data = self._request_query("GET", protocol.PRODUCTS_PATH, {"handle": handle, "limit": "5"})
        items = self._unwrap(data, protocol.PRODUCTS_KEY, "GET", protocol.PRODUCTS_PATH)
        return self._parse_list(ShopBaseProduct, items, "GET", protocol.PRODUCTS_PATH)

    def get_product(self, product_id: int) -> ShopBaseProduct:
        """`ShopBaseNotFound` when the seller deleted it in the store."""
        data = self._request("GET", protocol.PRODUCT_PATH, product_id=int(product_id))
        item = self._unwrap(data, protocol.PRODUCT_KEY, "GET", protocol.PRODUCT_PATH)
        return self._parse(ShopBaseProduct, item, "GET", protocol.PRODUCT_PATH)

    def update_product(self, product_id: int, changes: Mapping[str, Any]) -> ShopBaseProduct:
        """PUT /admin/products/{id}.json (idempotent: retried on 5xx and timeouts)."""
        body = {protocol.PRODUCT_KEY: {"id": int(product_id), **changes}}
        data = self._request("PUT", protocol.PRODUCT_PATH, json_body=body, product_id=int(product_id))
        item = self._unwrap(data, protocol.PRODUCT_KEY, "PUT", protocol.PRODUCT_PATH)
        return self._parse(ShopBaseProduct, item, "PUT", protocol.PRODUCT_PATH)

    # --- Transport -------------------------------------------------------------------------------

    @staticmethod
    def _unwrap(data: Any, key: str, method: str, template: str) -> Any:
        if not isinstance(data, Mapping) or key not in data:
            raise ShopBaseResponseError(
                f"ShopBase {method} {template}: response without '{key}'", method=method, path=template
            )
        return data[key]

    @staticmethod
    def _parse(model: type[M], data: Any, method: str, template: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Field locations only: pydantic's own message would echo values (customer data).
            locations = [".".join(str(part) for part in err["loc"]) for err in exc.errors()]
            raise ShopBaseResponseError(
                f"ShopBase {method} {template}: unexpected {model.__name__} shape",
                errors=locations,
                method=method,
                path=template,
            ) from None

    @staticmethod
    def _identified(fulfillment: ShopBaseFulfillment, method: str, template: str) -> ShopBaseFulfillment:
        # A webhook may carry a fulfillment without id; an API answer without one is unusable.
        if fulfillment.id is None:
            raise ShopBaseResponseError(
                f"ShopBase {method} {template}: fulfillment without id", errors=["id"], method=method, path=template
            )
        return fulfillment

    def _parse_list(self, model: type[M], data: Any, method: str, template: str) -> list[M]:
        if not isinstance(data, list):
            raise ShopBaseResponseError(f"ShopBase {method} {template}: expected a list", method=method, path=template)
        return [self._parse(model, item, method, template) for item in data]

    def _observe_limit(self, response: requests.Response) -> None:
        parsed = protocol.parse_call_limit(response.headers.get(protocol.CALL_LIMIT_HEADER))
        if parsed is not None:
            self._throttle.observe(*parsed)

    def _request_query(self, method: str, template: str, query: Mapping[str, str]) -> Any:
        from urllib.parse import urlencode

        return self._request(method, template, query_string=urlencode(dict(query)))

    def _request(
        self,
        method: str,
        template: str,
        *,
        json_body: Any = None,
        query_string: str = "",
        **path_params: int,
    ) -> Any:
        url = self.base_url + template.format(**path_params) + (f"?{query_string}" if query_string else "")
        idempotent = method in _IDEMPOTENT
        attempt = 0
        while True:
            wait = self._throttle.reserve()
            if wait > 0:
                self._sleep(wait)
            self.calls.add((method, template))
            try:
                response = self._session.request(
                    method,
                    url,
                    json=json_body,
                    headers=self._headers,
                    auth=self._auth,
                    timeout=self._timeout,
                )
            except requests.exceptions.RequestException as exc:
                sent = not http_client.never_sent(exc)
                if isinstance(exc, requests.exceptions.Timeout):
                    error_cls: type[ShopBaseError] = ShopBaseTimeout
                elif isinstance(exc, requests.exceptions.ConnectionError):
                    error_cls = ShopBaseConnectionError
                else:  # invalid URL and the like: a bug, not a transient condition
                    raise ShopBaseError(
                        f"ShopBase {method} {template}: {type(exc).__name__}", method=method, path=template
                    ) from exc
                if http_client.may_resend(idempotent=idempotent, sent=sent) and attempt < self._max_retries:
                    delay = self._backoff.delay(attempt)
                    log.warning(
                        "shopbase %s %s: %s, retry %d in %.2fs",
                        method,
                        template,
                        type(exc).__name__,
                        attempt + 1,
                        delay,
                    )
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise error_cls(
                    f"ShopBase {method} {template}: {type(exc).__name__}",
                    method=method,
                    path=template,
                    outcome_unknown=sent and not idempotent,
                ) from exc
            self._observe_limit(response)
            status = response.status_code
            if status == 429:
                self._throttle.note_rate_limited()
                retry_after = protocol.parse_retry_after(response.headers.get(protocol.RETRY_AFTER_HEADER))
                if attempt < self._max_retries:
                    log.info("shopbase %s %s: 429, retry %d in %.2fs", method, template, attempt + 1, retry_after)
                    self._sleep(retry_after)
                    attempt += 1
                    continue
                raise ShopBaseRateLimited(
                    f"ShopBase {method} {template} answered 429 after {attempt} retries",
                    status=429,
                    errors=_errors_of(response),
                    method=method,
                    path=template,
                    retry_after=retry_after,
                )
            if status >= 500:
                if idempotent and attempt < self._max_retries:
                    delay = self._backoff.delay(attempt)
                    log.warning("shopbase %s %s: %d, retry %d in %.2fs", method, template, status, attempt + 1, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise ShopBaseServerError(
                    f"ShopBase {method} {template} answered {status}",
                    status=status,
                    errors=_errors_of(response),
                    method=method,
                    path=template,
                    outcome_unknown=not idempotent,
                )
            if status >= 400:
                raise error_for_status(status, method=method, path=template, errors=_errors_of(response))
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise ShopBaseResponseError(
                    f"ShopBase {method} {template}: invalid JSON in a {status} answer",
                    status=status,
                    method=method,
                    path=template,
                ) from exc


def _errors_of(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, Mapping):
        return body.get("errors", body.get("error"))
    return None
