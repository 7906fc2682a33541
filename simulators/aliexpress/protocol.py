"""The gateway's vocabulary: API names, and the errors a call or a control method ends with.

Also the two argument parsers every part shares: a JSON request parameter (bad input is a gateway error) and an
integer control argument (bad input is a ControlError).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

API_ORDER_CREATE = "aliexpress.ds.order.create"
API_ORDER_GET = "aliexpress.trade.ds.order.get"
API_TRACKING_GET = "aliexpress.ds.order.tracking.get"
API_PRODUCT_GET = "aliexpress.ds.product.get"
API_FREIGHT_QUERY = "aliexpress.ds.freight.query"
API_TOKEN_CREATE = "/auth/token/create"
API_TOKEN_REFRESH = "/auth/token/refresh"
# The DS demo uses the "security" variants; they behave the same here.
API_TOKEN_SECURITY_CREATE = "/auth/token/security/create"
API_TOKEN_SECURITY_REFRESH = "/auth/token/security/refresh"
SYSTEM_APIS = (API_TOKEN_CREATE, API_TOKEN_REFRESH, API_TOKEN_SECURITY_CREATE, API_TOKEN_SECURITY_REFRESH)

API_CALL_LIMIT_MSG = "Api access frequency exceeds the limit. this ban will last 1 seconds"


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


def missing_parameter(name: str) -> SimError:
    return SimError("MissingParameter", f"The input parameter '{name}' is mandatory")


def json_param(params: Mapping[str, str], name: str, *, required: bool) -> dict[str, Any]:
    """A request parameter holding a JSON object; {} when absent and not required."""
    raw = params.get(name)
    if raw is None or not raw.strip():
        if required:
            raise missing_parameter(name)
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise SimError("InvalidParameter", f"The input parameter '{name}' is not valid JSON") from None
    if not isinstance(value, dict):
        raise SimError("InvalidParameter", f"The input parameter '{name}' must be a JSON object")
    return value


def as_int(value: Any, what: str) -> int:
    """An integer control argument (ids may come as strings)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ControlError(f"{what} must be an integer, got {value!r}") from None
