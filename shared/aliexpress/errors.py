"""Typed AliExpress errors, and the mapping from both gateway error envelopes to them (DS API notes §7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AliExpressError(Exception):
    """Any error reported by (or while talking to) the AliExpress Open Platform."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: str | None,
        sub_code: str | None = None,
        error_type: str | None = None,
        *,
        http_status: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.sub_code = sub_code
        self.error_type = error_type
        self.http_status = http_status
        super().__init__(str(self))

    def __str__(self) -> str:
        code = f"{self.code}/{self.sub_code}" if self.sub_code else self.code
        return f"{code}: {self.message} (request_id={self.request_id})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"request_id={self.request_id!r}, sub_code={self.sub_code!r}, error_type={self.error_type!r})"
        )


class ApiCallLimitError(AliExpressError):
    """`ApiCallLimit`: the app exceeded its call frequency; the ban lasts about 1 s."""


class IllegalAccessTokenError(AliExpressError):
    """`IllegalAccessToken`: the access token expired or was revoked. Refresh it, else the seller reconnects."""


class IllegalRefreshTokenError(AliExpressError):
    """`IllegalRefreshToken`: the refresh token is wrong or expired; the seller must authorize again."""


class InvalidCodeError(AliExpressError):
    """`InvalidCode`: the OAuth authorization code is unknown, expired or already used."""


class ServiceUnavailableError(AliExpressError):
    """`isp.service-unavailable` or an HTTP 5xx: a provider-side failure that is worth retrying."""


class SignatureError(AliExpressError):
    """`IncompleteSignature`: the request signature did not match (wrong secret or signing bug)."""


class InsufficientPermissionError(AliExpressError):
    """`isv.insufficient-permission`: the app is not allowed to call this API."""


class InvalidAuthorizationError(AliExpressError):
    """`isv.invalid-authorization`: the resource (e.g. an order) belongs to another account."""


class BusinessError(AliExpressError):
    """A failure inside a normal 200 `…_response.result` (`is_success: false`, `ret: false`, `rsp_code`)."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: str | None,
        *,
        api_name: str | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message, request_id)
        self.api_name = api_name
        self.result: dict[str, Any] = dict(result or {})

    @property
    def error_code(self) -> str:
        return self.code

    @property
    def error_msg(self) -> str:
        return self.message


class RepeatedOrderError(BusinessError):
    """`REPEATED_ORDER_ERROR`: an order already exists for this `out_order_id`.

    Never place the order again under a new reference: the earlier attempt succeeded and must be reconciled.
    """


class TransportError(AliExpressError):
    """Connection failure or timeout that persisted after the allowed retries (no AliExpress answer, so no
    request id or status).

    `request_sent` is False only when the request certainly never reached AliExpress (connection refused or
    connect timeout); otherwise AliExpress may have acted on it.
    """

    def __init__(self, code: str, message: str, *, request_sent: bool = True) -> None:
        super().__init__(code, message, None)
        self.request_sent = request_sent


# Gateway codes/sub-codes -> exception class. Matching is case-insensitive; sub_code wins over code because
# the platform puts the precise reason there (e.g. code "15" + sub_code "isv.insufficient-permission").
_ERROR_CLASSES: dict[str, type[AliExpressError]] = {
    "apicalllimit": ApiCallLimitError,
    "illegalaccesstoken": IllegalAccessTokenError,
    "illegalrefreshtoken": IllegalRefreshTokenError,
    "invalidcode": InvalidCodeError,
    "incompletesignature": SignatureError,
    "isv.insufficient-permission": InsufficientPermissionError,
    "isv.invalid-authorization": InvalidAuthorizationError,
    "isp.service-unavailable": ServiceUnavailableError,
}


def error_class_for(code: str | None, sub_code: str | None = None) -> type[AliExpressError]:
    for key in (sub_code, code):
        if key:
            cls = _ERROR_CLASSES.get(key.strip().lower())
            if cls is not None:
                return cls
    return AliExpressError


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def error_from_body(body: Mapping[str, Any], *, http_status: int | None = None) -> AliExpressError | None:
    """The error described by a gateway response body, or None when the body is not an error envelope.

    Handles the wrapped `{"error_response": {...}}` shape and the flat `{type, code, message, request_id}`
    shape (where `code` "0" means success, as in token responses).
    """
    wrapped = body.get("error_response")
    if isinstance(wrapped, Mapping):
        env: Mapping[str, Any] = wrapped
    elif "code" in body and not any(str(k).endswith("_response") for k in body):
        if str(body.get("code")).strip() in ("0", ""):
            return None
        env = body
    else:
        return None
    code = _text(env.get("code")) or "UNKNOWN"
    sub_code = _text(env.get("sub_code")) or None
    message = _text(env.get("sub_msg") or env.get("msg") or env.get("message")) or ""
    request_id = _text(env.get("request_id") or body.get("request_id"))
    cls = error_class_for(code, sub_code)
    return cls(code, message, request_id, sub_code, _text(env.get("type")), http_status=http_status)
