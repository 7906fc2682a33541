"""What the simulator speaks of ShopBase's Admin API and webhooks, written down on its own.

The simulator imports nothing of the app (`shared/`): it is a second, independent reading of
`../shared/reference/shopbase-api.md`, so a mistake in the app's client is not copied into the peer that
tests it. CONFIRMED / UNCONFIRMED follow the reference notes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SHOP_DOMAIN_SUFFIX = ".onshopbase.com"

ORDERS_PATH = "/admin/orders.json"
ORDER_PATH = "/admin/orders/{order_id}.json"
FULFILLMENTS_PATH = "/admin/orders/{order_id}/fulfillments.json"
FULFILLMENT_PATH = "/admin/orders/{order_id}/fulfillments/{fulfillment_id}.json"
WEBHOOKS_PATH = "/admin/webhooks.json"
WEBHOOK_PATH = "/admin/webhooks/{webhook_id}.json"
# Products (issue 12): CONFIRMED POST products / PUT product; the rest Shopify-shaped (see products.py).
PRODUCTS_PATH = "/admin/products.json"
PRODUCT_PATH = "/admin/products/{product_id}.json"
VARIANT_PATH = "/admin/variants/{variant_id}.json"

ACCESS_TOKEN_HEADER = "X-ShopBase-Access-Token"  # CONFIRMED
CALL_LIMIT_HEADER = "X-Sb-Shop-Api-Call-Limit"  # CONFIRMED name; "used/limit" value is Shopify-style
RETRY_AFTER_HEADER = "Retry-After"
WEBHOOK_HMAC_HEADER = "X-ShopBase-Hmac-SHA256"  # CONFIRMED
WEBHOOK_SHOP_DOMAIN_HEADER = "X-ShopBase-Shop-Domain"
WEBHOOK_TOPIC_HEADER = "X-ShopBase-Topic"

BUCKET_SIZE = 30  # CONFIRMED: 30 requests burst
LEAK_RATE = 2.0  # CONFIRMED: leaking 2 requests/s, per shop
MAX_PAGE_LIMIT = 250  # CONFIRMED
MAX_OFFSET = 100_000  # CONFIRMED: an offset past this is answered 429

ORDER_KEY, ORDERS_KEY = "order", "orders"
FULFILLMENT_KEY, FULFILLMENTS_KEY = "fulfillment", "fulfillments"
WEBHOOK_KEY, WEBHOOKS_KEY = "webhook", "webhooks"

WEBHOOK_TOPICS = (
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",  # CONFIRMED
    "orders/partially_fulfilled", "orders/delete",
    "fulfillments/create", "fulfillments/update", "customers/delete",  # CONFIRMED
    "refunds/create",  # used by a working connector
    "app/uninstalled",  # UNCONFIRMED
)


def sign_webhook(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, raw body)) — CONFIRMED."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")
