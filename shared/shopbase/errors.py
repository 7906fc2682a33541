"""Typed ShopBase API errors.

Messages hold only the method, the path template and the status: never ids of customers, emails,
addresses or credentials, so they are safe to log. The response body's `errors` is kept on the
exception for code to inspect (not rendered in str()).
"""

from __future__ import annotations

from typing import Any

from shared.shopbase.protocol import UnprocessableKind, classify_unprocessable


class ShopBaseError(Exception):
    """Base class. `retryable`: trying the same call again later may succeed.

    `outcome_unknown`: the request may have been applied although no success answer came (a
    non-idempotent POST that timed out or got a 5xx). Re-read state before retrying.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: Any = None,
        method: str | None = None,
        path: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors
        self.method = method
        self.path = path
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return self.message


class ShopBaseResponseError(ShopBaseError):
    """A 2xx answer we cannot use: not JSON, no envelope key, or fields of the wrong type.
    `errors` lists the offending field locations only (never their values)."""


class ShopBaseRateLimited(ShopBaseError):
    """429 still answered after the client's retries."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ShopBaseServerError(ShopBaseError):
    """5xx."""

    retryable = True


class ShopBaseTimeout(ShopBaseError):
    """No answer within the timeout."""

    retryable = True


class ShopBaseConnectionError(ShopBaseError):
    """Could not connect, or the connection broke."""

    retryable = True


class ShopBaseAuthError(ShopBaseError):
    """401/403: token revoked, app uninstalled, missing scope."""


class ShopBaseNotFound(ShopBaseError):
    """404: the order (or webhook, fulfillment) does not exist any more, e.g. deleted by the merchant."""


class ShopBaseUnprocessable(ShopBaseError):
    """422: the request was understood and refused. `kind` says why, as far as we can tell."""

    def __init__(self, message: str, *, errors: Any = None, **kwargs: Any) -> None:
        super().__init__(message, errors=errors, **kwargs)
        self.kind = classify_unprocessable(errors)

    @property
    def is_already_fulfilled(self) -> bool:
        return self.kind is UnprocessableKind.ALREADY_FULFILLED

    @property
    def is_invalid_carrier(self) -> bool:
        return self.kind is UnprocessableKind.INVALID_CARRIER

    def __str__(self) -> str:
        return f"{self.message} ({self.kind.value})"


def error_for_status(status: int, *, method: str, path: str, errors: Any) -> ShopBaseError:
    """The typed error for a non-2xx answer (429 and 5xx are handled by the retry loop first)."""
    message = f"ShopBase {method} {path} answered {status}"
    kwargs: dict[str, Any] = {"status": status, "errors": errors, "method": method, "path": path}
    if status in (401, 403):
        return ShopBaseAuthError(message, **kwargs)
    if status == 404:
        return ShopBaseNotFound(message, **kwargs)
    if status == 422:
        return ShopBaseUnprocessable(message, **kwargs)
    if status == 429:
        return ShopBaseRateLimited(message, **kwargs)
    if status >= 500:
        return ShopBaseServerError(message, **kwargs)
    return ShopBaseError(message, **kwargs)
