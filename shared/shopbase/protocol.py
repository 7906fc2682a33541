"""ShopBase wire protocol: every path, header, payload shape and error shape the app uses, in one place.

Each constant is marked CONFIRMED (ShopBase docs or working connectors that call the real API) or
UNCONFIRMED (Shopify's older REST behaviour, which ShopBase copies but does not document). When real
traffic disagrees with an UNCONFIRMED choice, fix it here, and in the simulator's own independent reading
(`simulators/shopbase/protocol.py`) if it shares the mistake.
See /work/shared/reference/shopbase-api.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

# --- Base URL and paths ------------------------------------------------------------------------

# CONFIRMED: https://{shop}.onshopbase.com/admin/{resource}.json, no API version in the path.
DEFAULT_BASE_URL = "https://{shop}.onshopbase.com"
SHOP_DOMAIN_SUFFIX = ".onshopbase.com"

# The client calls only these: the pipeline learns about orders from webhooks, not from the orders API.
# CONFIRMED for GET. UNCONFIRMED for POST (create): Shopify-shaped.
FULFILLMENTS_PATH = "/admin/orders/{order_id}/fulfillments.json"
# CONFIRMED (several independent clients).
WEBHOOKS_PATH = "/admin/webhooks.json"

# Products (issue 12). CONFIRMED: POST products (answered 200), PUT product (title, images, published).
# UNCONFIRMED (Shopify-shaped): GET products?handle=, GET product, PUT variant.
PRODUCTS_PATH = "/admin/products.json"
PRODUCT_PATH = "/admin/products/{product_id}.json"
VARIANT_PATH = "/admin/variants/{variant_id}.json"
PRODUCT_KEY, PRODUCTS_KEY, VARIANT_KEY = "product", "products", "variant"
# CONFIRMED: 500 variants and 500 images per product. UNCONFIRMED: 3 options (Shopify's limit).
MAX_VARIANTS = 500
MAX_IMAGES = 500
MAX_OPTIONS = 3

# --- Headers -----------------------------------------------------------------------------------

ACCESS_TOKEN_HEADER = "X-ShopBase-Access-Token"  # CONFIRMED (public app, OAuth token)
CALL_LIMIT_HEADER = "X-Sb-Shop-Api-Call-Limit"  # CONFIRMED name; "used/limit" value is Shopify-style
# UNCONFIRMED: Shopify sends Retry-After (seconds) with 429; ShopBase may not, so there is a fallback.
RETRY_AFTER_HEADER = "Retry-After"
WEBHOOK_HMAC_HEADER = "X-ShopBase-Hmac-SHA256"  # CONFIRMED
WEBHOOK_SHOP_DOMAIN_HEADER = "X-ShopBase-Shop-Domain"  # seen in a real connector
# UNCONFIRMED: consumers must route by URL (one address per topic), never by this header.
WEBHOOK_TOPIC_HEADER = "X-ShopBase-Topic"

# --- Rate limit ----------------------------------------------------------------------------------

BUCKET_SIZE = 30  # CONFIRMED: 30 requests burst
LEAK_RATE = 2.0  # CONFIRMED: leaking 2 requests/s, per shop
DEFAULT_RETRY_AFTER = 1.0  # our choice when a 429 carries no usable Retry-After

# --- Webhook topics ----------------------------------------------------------------------------

ORDER_TOPICS = (  # CONFIRMED
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/delete",
)
OTHER_TOPICS = (
    "fulfillments/create",  # CONFIRMED
    "fulfillments/update",  # CONFIRMED
    "customers/delete",  # CONFIRMED
    "refunds/create",  # used by a working connector
    "app/uninstalled",  # UNCONFIRMED
)
WEBHOOK_TOPICS = ORDER_TOPICS + OTHER_TOPICS

# UNCONFIRMED (Shopify-shaped): payload per topic. Order topics carry the order; fulfillments/* the
# fulfillment; refunds/create the refund; orders/delete only {"id": ...}.

# --- Payloads ----------------------------------------------------------------------------------

LineItemSpec = tuple[int, int] | Mapping[str, Any]


def _line_items_payload(line_items: Iterable[LineItemSpec]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for item in line_items:
        if isinstance(item, Mapping):
            item_id, quantity = item["id"], item["quantity"]
        else:
            item_id, quantity = item
        if int(quantity) <= 0:
            raise ValueError("line item quantity must be positive")
        out.append({"id": int(item_id), "quantity": int(quantity)})
    return out


def fulfillment_create_payload(
    *,
    tracking_number: str | None,
    tracking_company: str | None,
    tracking_url: str | None,
    line_items: Iterable[LineItemSpec] | None,
    notify_customer: bool,
) -> dict[str, Any]:
    """UNCONFIRMED body of POST fulfillments (Shopify-shaped, without Shopify's location_id).

    `line_items=None` omits the key, which in Shopify fulfils everything still fulfillable.
    Whether ShopBase honours `notify_customer` is UNCONFIRMED (it emails on dropship fulfilment).
    """
    body: dict[str, Any] = {"notify_customer": bool(notify_customer)}
    if tracking_number is not None:
        body["tracking_number"] = tracking_number
    if tracking_company is not None:
        body["tracking_company"] = tracking_company
    if tracking_url is not None:
        body["tracking_url"] = tracking_url
    if line_items is not None:
        body["line_items"] = _line_items_payload(line_items)
    return {"fulfillment": body}


def webhook_create_payload(topic: str, address: str, fmt: str = "json") -> dict[str, Any]:
    """CONFIRMED body of POST /admin/webhooks.json."""
    return {"webhook": {"topic": topic, "address": address, "format": fmt}}


# Response envelopes (Shopify-shaped; CONFIRMED for orders and webhooks by working clients).
FULFILLMENT_KEY, FULFILLMENTS_KEY = "fulfillment", "fulfillments"
WEBHOOK_KEY, WEBHOOKS_KEY = "webhook", "webhooks"

# --- Error bodies ------------------------------------------------------------------------------


class UnprocessableKind(StrEnum):
    ALREADY_FULFILLED = "already_fulfilled"
    INVALID_CARRIER = "invalid_carrier"
    INVALID_LINE_ITEMS = "invalid_line_items"
    ORDER_CANCELLED = "order_cancelled"
    OTHER = "other"


# UNCONFIRMED: how ShopBase words 422s. Shopify answers {"errors": {"base": ["... already fulfilled"]}}
# or {"errors": ["..."]} or {"errors": "..."}; we match on text, case-insensitively.
ALREADY_FULFILLED_MARKERS = ("already fulfilled", "already been fulfilled", "fully fulfilled")
INVALID_CARRIER_FIELDS = ("tracking_company",)
INVALID_CARRIER_MARKERS = ("carrier", "tracking company")
CANCELLED_MARKERS = ("cancelled", "canceled")
LINE_ITEM_MARKERS = ("line item", "line_item", "fulfillable quantity", "quantity")


def error_messages(errors: Any) -> list[str]:
    """Flatten any `errors` shape into 'field message' strings."""
    if errors is None:
        return []
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, Mapping):
        out: list[str] = []
        for key, value in errors.items():
            for msg in error_messages(value):
                out.append(msg if key == "base" else f"{key} {msg}")
        return out
    if isinstance(errors, list | tuple):
        return [msg for value in errors for msg in error_messages(value)]
    return [str(errors)]


def classify_unprocessable(errors: Any) -> UnprocessableKind:
    """Best-effort kind of a 422 body (UNCONFIRMED wording; see the markers above)."""
    text = " | ".join(error_messages(errors)).lower()
    if any(marker in text for marker in ALREADY_FULFILLED_MARKERS):
        return UnprocessableKind.ALREADY_FULFILLED
    fields = set(errors) if isinstance(errors, Mapping) else set()
    if fields & set(INVALID_CARRIER_FIELDS) or any(m in text for m in INVALID_CARRIER_MARKERS):
        return UnprocessableKind.INVALID_CARRIER
    if any(marker in text for marker in CANCELLED_MARKERS):
        return UnprocessableKind.ORDER_CANCELLED
    if "line_items" in fields or any(marker in text for marker in LINE_ITEM_MARKERS):
        return UnprocessableKind.INVALID_LINE_ITEMS
    return UnprocessableKind.OTHER


def parse_call_limit(value: str | None) -> tuple[int, int] | None:
    """'used/limit' -> (used, limit); None when absent or malformed."""
    if not value or "/" not in value:
        return None
    used_s, _, limit_s = value.partition("/")
    try:
        used, limit = int(used_s.strip()), int(limit_s.strip())
    except ValueError:
        return None
    if used < 0 or limit <= 0:
        return None
    return used, limit


def parse_retry_after(value: str | None, *, default: float = DEFAULT_RETRY_AFTER, cap: float = 60.0) -> float:
    """Seconds from a Retry-After value (numeric only; an HTTP date falls back to `default`)."""
    if value is None:
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        return default
    if seconds != seconds or seconds < 0:  # NaN or negative
        return default
    return min(seconds, cap)
