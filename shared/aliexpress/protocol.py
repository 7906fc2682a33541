"""AliExpress protocol constants. Choices the DS API notes mark **unconfirmed** live here, in one place."""

from __future__ import annotations

PRODUCTION_GATEWAY = "https://api-sg.aliexpress.com"

# Business APIs go to `/sync` with `method=<name>`; system APIs (names containing '/') to `/rest<name>`.
# Unconfirmed whether token APIs need `/rest<path>` or `/sync?method=<path>`; the notes prefer `/rest`.
BUSINESS_PATH = "/sync"
SYSTEM_PATH_PREFIX = "/rest"
AUTHORIZE_PATH = "/oauth/authorize"

# Sent as `partner_id`, like the official SDK does; optional for the platform.
PARTNER_ID = "iop-sdk-python-20220609"
SIGN_METHOD = "sha256"

API_ORDER_CREATE = "aliexpress.ds.order.create"
API_ORDER_GET = "aliexpress.trade.ds.order.get"
API_TRACKING_GET = "aliexpress.ds.order.tracking.get"
API_PRODUCT_GET = "aliexpress.ds.product.get"
API_FREIGHT_QUERY = "aliexpress.ds.freight.query"
FREIGHT_QUERY_PARAM = "queryDeliveryReq"
API_TOKEN_CREATE = "/auth/token/create"
# The notes name `/auth/token/refresh`; AliExpress's own DS sample code calls `/auth/token/security/refresh`.
# Unconfirmed which one a given app's gateway knows: the client tries the first, falls back to the other when
# the gateway says the API does not exist, and remembers which one worked (per process and gateway).
API_TOKEN_REFRESH = "/auth/token/refresh"
API_TOKEN_SECURITY_REFRESH = "/auth/token/security/refresh"
TOKEN_REFRESH_APIS = (API_TOKEN_REFRESH, API_TOKEN_SECURITY_REFRESH)
# "This API does not exist" from the gateway (nothing was processed, so another path may be tried).
UNKNOWN_API_CODES = frozenset({"invalidapipath", "invalidmethod", "isv.invalid-method", "http_404"})

ORDER_CREATE_PARAM = "param_place_order_request4_open_api_d_t_o"
ORDER_CREATE_EXTEND_PARAM = "ds_extend_request"

# `aliexpress.ds.order.tracking.get`: ret=false with this code is the normal "nothing yet" state.
TRACKING_NOT_FOUND_CODES = frozenset({"1001"})
TRACKING_NOT_FOUND_MSG = "TRACKING DATA NOT FOUND"

# `aliexpress.ds.product.get` reports success as rsp_code 200 (some responses omit it or send 0).
PRODUCT_OK_CODES = frozenset({"", "0", "200"})

REPEATED_ORDER_ERROR = "REPEATED_ORDER_ERROR"

# The platform bans the app for ~1 s after ApiCallLimit ("this ban will last 1 seconds").
API_CALL_LIMIT_MIN_WAIT_S = 1.0


def response_key(api_name: str) -> str:
    """`aliexpress.trade.ds.order.get` -> `aliexpress_trade_ds_order_get_response`."""
    return api_name.replace(".", "_") + "_response"
