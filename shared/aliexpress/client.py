"""AliExpress DS Open Platform client: signing, retries, response-shape tolerance, typed errors.

Nothing here logs parameters or response bodies: they carry access tokens, refresh tokens and addresses.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import urlencode

import requests
from pydantic import BaseModel, ValidationError

from shared import http_client
from shared.aliexpress import protocol
from shared.aliexpress.errors import (
    AliExpressError,
    ApiCallLimitError,
    BusinessError,
    RepeatedOrderError,
    ServiceUnavailableError,
    TransportError,
    error_from_body,
)
from shared.aliexpress.models import (
    CreateOrderResult,
    FreightOption,
    FreightResult,
    Product,
    TokenResponse,
    TrackingPackage,
    TrackingResult,
    TradeOrder,
)
from shared.aliexpress.signing import sign
from shared.validation import validation_summary

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)


class ProductQuery(TypedDict, total=False):
    """The optional keywords of a product read (`product_result`, `get_product`)."""

    target_currency: str
    target_language: str


# Gateway URL -> the token refresh API it knows, learnt once per process (AliExpressClient.refresh_token).
_REFRESH_API: dict[str, str] = {}
_REFRESH_LOCK = threading.Lock()


def forget_refresh_apis() -> None:
    """Forget which refresh API each gateway knows (tests; a process that changes gateways)."""
    with _REFRESH_LOCK:
        _REFRESH_API.clear()


def _unknown_api(err: AliExpressError) -> bool:
    return any(code and code.strip().lower() in protocol.UNKNOWN_API_CODES for code in (err.sub_code, err.code))


def shared_session(pool_maxsize: int = 32) -> requests.Session:
    """The process-wide pooled AliExpress session (retries are the client's, with jitter and `before_call`)."""
    return http_client.pooled_session("aliexpress", pool_connections=4, pool_maxsize=pool_maxsize)


def _encode_param(value: Any) -> str | None:
    """Wire form of a parameter. Objects become compact JSON; the signature covers exactly this string."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _order_create_is_protected(params: Mapping[str, Any]) -> bool:
    param: Any = params.get(protocol.ORDER_CREATE_PARAM)
    if isinstance(param, str):
        try:
            param = json.loads(param)
        except ValueError:
            return False
    return isinstance(param, Mapping) and bool(str(param.get("out_order_id") or "").strip())


class AliExpressClient:
    """Synchronous client for the AliExpress DS APIs. Thread-safe; share one per container."""

    def __init__(
        self,
        gateway_url: str,
        app_key: str,
        app_secret: str,
        *,
        session: requests.Session | None = None,
        timeout: http_client.Timeout = http_client.DEFAULT_TIMEOUT,
        max_retries: int = 3,
        before_call: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        simplify: bool = False,
        partner_id: str | None = protocol.PARTNER_ID,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.app_key = app_key
        self._app_secret = app_secret
        self._session = session if session is not None else shared_session()
        self._timeout = timeout
        self.max_retries = max(0, max_retries)
        self._before_call = before_call
        self._sleep = sleep
        self._clock = clock
        self.simplify = simplify
        self._partner_id = partner_id
        self._backoff = http_client.Backoff(backoff_base, backoff_max)  # full jitter
        # HTTP attempts per API name (retries included): what the fleet-wide quota is spent on.
        self.calls: http_client.CallCounter[str] = http_client.CallCounter()

    def __repr__(self) -> str:
        return f"AliExpressClient(gateway_url={self.gateway_url!r}, app_key={self.app_key!r})"

    # ------------------------------------------------------------------ OAuth

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """The page to send a seller to; AliExpress redirects back to `redirect_uri?code=…&state=…`."""
        query = urlencode(
            {
                "response_type": "code",
                "force_auth": "true",
                "redirect_uri": redirect_uri,
                "client_id": self.app_key,
                "state": state,
            }
        )
        return f"{self.gateway_url}{protocol.AUTHORIZE_PATH}?{query}"

    def create_token(self, code: str) -> TokenResponse:
        """Exchange an authorization code (single-use) for a token pair."""
        return self._token(protocol.API_TOKEN_CREATE, {"code": code})

    def refresh_token(self, refresh_token: str) -> TokenResponse:
        """New token pair from a refresh token; `IllegalRefreshTokenError` means the seller must reconnect.

        Through the refresh API this gateway is known to have (see protocol.TOKEN_REFRESH_APIS); when the
        gateway answers that it does not exist, the other one, which is then remembered for the process.
        """
        with _REFRESH_LOCK:
            first = _REFRESH_API.get(self.gateway_url, protocol.TOKEN_REFRESH_APIS[0])
        params = {"refresh_token": refresh_token}
        try:
            token = self._token(first, params)
        except AliExpressError as err:
            if not _unknown_api(err):
                raise
            other = next(api for api in protocol.TOKEN_REFRESH_APIS if api != first)
            logger.warning("aliexpress %s is unknown to the gateway (%s); refreshing with %s", first,
                           err.sub_code or err.code, other)
            token = self._token(other, params)
            first = other
        with _REFRESH_LOCK:
            _REFRESH_API[self.gateway_url] = first
        return token

    def _token(self, api_name: str, params: dict[str, Any]) -> TokenResponse:
        body = self.call(api_name, params)
        token = self._parse(TokenResponse, body, body.get("request_id"))
        # Absolute expiries are what gets stored; derive them when the response only gives lifetimes.
        now_ms = int(self._clock() * 1000)
        if token.expire_time is None and token.expires_in:
            token.expire_time = now_ms + token.expires_in * 1000
        if token.refresh_token_valid_time is None and token.refresh_expires_in:
            token.refresh_token_valid_time = now_ms + token.refresh_expires_in * 1000
        return token

    # ------------------------------------------------------------------ DS business APIs

    def create_order(
        self,
        access_token: str,
        *,
        out_order_id: str,
        logistics_address: Mapping[str, Any],
        product_items: list[dict[str, Any]],
        ds_extend: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Place an order; returns the AliExpress order ids (one per supplier store).

        `out_order_id` is mandatory: AliExpress treats it as an idempotency key for 24 h, which is the only
        thing that makes retrying after an ambiguous failure (timeout, 5xx) safe. Should AliExpress answer a
        repeat with REPEATED_ORDER_ERROR instead of the original ids, `RepeatedOrderError` is raised: the
        order exists and must be reconciled, never placed again under a new reference.
        """
        if not out_order_id or not out_order_id.strip():
            raise ValueError("create_order needs a non-empty out_order_id: it is what makes a retry safe")
        order_param = {
            "out_order_id": out_order_id,
            "logistics_address": dict(logistics_address),
            "product_items": list(product_items),
        }
        params: dict[str, Any] = {protocol.ORDER_CREATE_PARAM: order_param}
        if ds_extend:
            params[protocol.ORDER_CREATE_EXTEND_PARAM] = dict(ds_extend)
        body = self.call(protocol.API_ORDER_CREATE, params, access_token)
        result, request_id = self._result(protocol.API_ORDER_CREATE, body)
        parsed = self._parse(CreateOrderResult, result, request_id)
        if not parsed.is_success:
            code = parsed.error_code or "UNKNOWN"
            cls = RepeatedOrderError if code == protocol.REPEATED_ORDER_ERROR else BusinessError
            raise cls(
                code, parsed.error_msg or "", request_id, api_name=protocol.API_ORDER_CREATE, result=result
            )
        if not parsed.order_list:
            raise BusinessError(
                "EMPTY_ORDER_LIST",
                "order creation reported success without order ids",
                request_id,
                api_name=protocol.API_ORDER_CREATE,
                result=result,
            )
        return parsed.order_list

    def get_order(self, access_token: str, ae_order_id: str) -> TradeOrder:
        """Status of one AliExpress order (`aliexpress.trade.ds.order.get`)."""
        body = self.call(
            protocol.API_ORDER_GET, {"single_order_query": {"order_id": str(ae_order_id)}}, access_token
        )
        result, request_id = self._result(protocol.API_ORDER_GET, body)
        failed = str(result.get("is_success", "")).lower() == "false" or result.get("error_code")
        if not result or failed:
            raise BusinessError(
                str(result.get("error_code") or "EMPTY_RESULT"),
                str(result.get("error_msg") or "no order in the response"),
                request_id,
                api_name=protocol.API_ORDER_GET,
                result=result,
            )
        order = self._parse(TradeOrder, result, request_id)
        if order.order_id is None:
            order.order_id = str(ae_order_id)
        return order

    def get_tracking(
        self, access_token: str, ae_order_id: str, language: str = "en_US"
    ) -> list[TrackingPackage]:
        """Packages of an order; `[]` while AliExpress has no tracking yet ("TRACKING DATA NOT FOUND")."""
        body = self.call(
            protocol.API_TRACKING_GET, {"ae_order_id": str(ae_order_id), "language": language}, access_token
        )
        result, request_id = self._result(protocol.API_TRACKING_GET, body)
        parsed = self._parse(TrackingResult, result, request_id)
        if parsed.ret:
            return parsed.packages
        code, msg = (parsed.code or "").strip(), (parsed.msg or "").strip()
        if code in protocol.TRACKING_NOT_FOUND_CODES or msg.upper() == protocol.TRACKING_NOT_FOUND_MSG:
            return []
        raise BusinessError(
            code or "UNKNOWN", msg, request_id, api_name=protocol.API_TRACKING_GET, result=result
        )

    def get_product(
        self, access_token: str, product_id: str, ship_to_country: str, **query: Unpack[ProductQuery]
    ) -> Product:
        """Product and its SKUs (`sku_attr` is what `create_order` needs); 605 ITEM_ID_NOT_FOUND etc. raise.
        `query`: as for `product_result`."""
        result, request_id = self.product_result(access_token, product_id, ship_to_country, **query)
        data = dict(result)
        base = data.get("ae_item_base_info_dto")
        base = base if isinstance(base, dict) else {}
        data["ae_item_base_info_dto"] = {"product_id": str(product_id), **base}
        return self._parse(Product, data, request_id)

    def product_result(
        self,
        access_token: str,
        product_id: str,
        ship_to_country: str,
        *,
        target_currency: str = "USD",
        target_language: str = "en",
    ) -> tuple[dict[str, Any], str | None]:
        """`aliexpress.ds.product.get`'s `result` as sent (for the import's tolerant parser) and the request id.

        BusinessError when the product cannot be read: its rsp_code (605 ITEM_ID_NOT_FOUND, 602 not sold to the
        country) or EMPTY_RESULT for a success code without a product (both mean "unavailable").
        """
        params = {
            "product_id": str(product_id),
            "ship_to_country": ship_to_country,
            "target_currency": target_currency,
            "target_language": target_language,
        }
        body = self.call(protocol.API_PRODUCT_GET, params, access_token)
        wrapper = self._wrapper(protocol.API_PRODUCT_GET, body)
        result, request_id = self._result(protocol.API_PRODUCT_GET, body)
        # rsp_code sits next to `result` in the documented shape; accept it inside too.
        rsp_code = wrapper.get("rsp_code", result.get("rsp_code"))
        rsp_msg = wrapper.get("rsp_msg", result.get("rsp_msg"))
        code = "" if rsp_code is None else str(rsp_code).strip()
        if code not in protocol.PRODUCT_OK_CODES or "ae_item_base_info_dto" not in result:
            raise BusinessError(
                code if code not in protocol.PRODUCT_OK_CODES else "EMPTY_RESULT",
                str(rsp_msg or "no product in the response"),
                request_id,
                api_name=protocol.API_PRODUCT_GET,
                result=result,
            )
        return result, request_id

    def query_freight(
        self,
        access_token: str,
        product_id: str,
        sku_id: str,
        ship_to_country: str,
        *,
        quantity: int = 1,
        currency: str = "USD",
        language: str = "en_US",
    ) -> list[FreightOption]:
        """Delivery options of one SKU to a country (`aliexpress.ds.freight.query`), cheapest first.

        BusinessError with code "505" (DELIVERY_NOT_AVAILABLE_TO_YOUR_ADDRESS) when it does not ship there.
        """
        request = {"quantity": quantity, "shipToCountry": ship_to_country, "productId": str(product_id),
                   "selectedSkuId": str(sku_id), "language": language, "locale": language, "currency": currency}
        body = self.call(protocol.API_FREIGHT_QUERY, {protocol.FREIGHT_QUERY_PARAM: request}, access_token)
        result, request_id = self._result(protocol.API_FREIGHT_QUERY, body)
        parsed = self._parse(FreightResult, result, request_id)
        if not parsed.success:
            raise BusinessError(str(parsed.code or "FREIGHT_FAILED"), parsed.msg or "no delivery options",
                                request_id, api_name=protocol.API_FREIGHT_QUERY, result=result)
        return sorted(parsed.options, key=lambda o: (o.fee, o.max_days or 0))

    # ------------------------------------------------------------------ transport

    def call(
        self,
        api_name: str,
        params: Mapping[str, Any] | None = None,
        access_token: str | None = None,
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Signed call with retries; returns the decoded JSON body, raising typed errors for error envelopes.

        `idempotent=None` decides by API: every read is idempotent, and so is `aliexpress.ds.order.create`
        only when it carries an `out_order_id`. Non-idempotent calls are retried only when the request
        certainly did not reach AliExpress.
        """
        params = dict(params or {})
        if idempotent is None:
            idempotent = api_name != protocol.API_ORDER_CREATE or _order_create_is_protected(params)
        encoded = {k: v for k, v in ((k, _encode_param(v)) for k, v in params.items()) if v is not None}
        if "/" in api_name:  # system API, e.g. /auth/token/create
            url = f"{self.gateway_url}{protocol.SYSTEM_PATH_PREFIX}{api_name}"
        else:
            url = f"{self.gateway_url}{protocol.BUSINESS_PATH}"
        attempt = 0
        while True:
            if self._before_call is not None:
                self._before_call(api_name)
            self.calls.add(api_name)
            try:
                return self._attempt(api_name, url, encoded, access_token)
            except AliExpressError as err:
                if attempt >= self.max_retries or not self._retryable(err, idempotent):
                    raise
                delay = self._delay(attempt, err)
                logger.warning(
                    "aliexpress %s attempt %d failed (%s, request_id=%s); retrying in %.2fs",
                    api_name,
                    attempt + 1,
                    err.sub_code or err.code,
                    err.request_id,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    @staticmethod
    def _retryable(err: AliExpressError, idempotent: bool) -> bool:
        if isinstance(err, ApiCallLimitError):
            # Flow control rejects the call at the gateway before it reaches the service: always safe.
            return True
        if isinstance(err, TransportError):
            return http_client.may_resend(idempotent=idempotent, sent=err.request_sent)
        if isinstance(err, ServiceUnavailableError):
            # The service may have acted before failing, so only idempotent calls may go again. For
            # ds.order.create this holds because the same out_order_id is resent within its 24 h window.
            return idempotent
        return False

    def _delay(self, attempt: int, err: AliExpressError) -> float:
        # Full jitter: a fleet of workers failing together must not retry together.
        delay = self._backoff.delay(attempt)
        if isinstance(err, ApiCallLimitError):
            delay += protocol.API_CALL_LIMIT_MIN_WAIT_S
        return delay

    def _attempt(
        self, api_name: str, url: str, encoded: Mapping[str, str], access_token: str | None
    ) -> dict[str, Any]:
        # Timestamp and signature are per attempt: a retry after backoff must not send a stale timestamp.
        request = dict(encoded)
        request.update(
            {
                "app_key": self.app_key,
                "method": api_name,
                "timestamp": str(int(self._clock() * 1000)),
                "sign_method": protocol.SIGN_METHOD,
                "format": "json",
                "simplify": "true" if self.simplify else "false",
            }
        )
        if self._partner_id:
            request["partner_id"] = self._partner_id
        if access_token:
            request["session"] = access_token
        request["sign"] = sign(request, self._app_secret, api_name)
        try:
            response = self._session.post(url, data=request, timeout=self._timeout)
        except requests.exceptions.ConnectionError as exc:
            raise TransportError(
                "CONNECTION_ERROR", type(exc).__name__, request_sent=not http_client.never_sent(exc)
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise TransportError("TIMEOUT", type(exc).__name__, request_sent=True) from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError("TRANSPORT_ERROR", type(exc).__name__, request_sent=True) from exc
        return self._decode(response)

    @staticmethod
    def _decode(response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        try:
            # json.loads keeps integers exact: order ids above 2^53 survive until the models make them str.
            body: Any = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            err = error_from_body(body, http_status=status)
            if err is not None:
                raise err
            if status < 400:
                return body
        request_id = body.get("request_id") if isinstance(body, dict) else None
        if status == 429:
            raise ApiCallLimitError("ApiCallLimit", f"HTTP {status}", request_id, http_status=status)
        if status >= 500:
            raise ServiceUnavailableError(
                f"HTTP_{status}", response.reason or "server error", request_id, http_status=status
            )
        raise AliExpressError(
            f"HTTP_{status}" if status >= 400 else "INVALID_RESPONSE",
            "response is not a JSON object",
            request_id,
            http_status=status,
        )

    @staticmethod
    def _wrapper(api_name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        wrapper = body.get(protocol.response_key(api_name))
        if isinstance(wrapper, dict):
            return wrapper
        others = [v for k, v in body.items() if str(k).endswith("_response") and isinstance(v, dict)]
        return others[0] if len(others) == 1 else dict(body)

    def _result(self, api_name: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        wrapper = self._wrapper(api_name, body)
        result = wrapper.get("result")
        request_id = wrapper.get("request_id") or body.get("request_id")
        return (result if isinstance(result, dict) else {}), (str(request_id) if request_id else None)

    @staticmethod
    def _parse(model: type[_M], data: Any, request_id: Any) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Without the input values: a token response's input contains the tokens themselves.
            raise AliExpressError(
                "INVALID_RESPONSE",
                f"unexpected {model.__name__} shape: {validation_summary(exc)}",
                str(request_id) if request_id else None,
            ) from exc
