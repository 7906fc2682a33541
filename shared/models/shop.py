"""A shop's own data: its secrets, its settings, and its variant → AliExpress product links."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from shared.models.order import utcnow

SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def is_valid_shop(shop: str) -> bool:
    """A ShopBase shop handle ("demo-store"); anything else is never looked up."""
    return bool(SHOP_NAME.match(shop))


class ShopSecrets(BaseModel):
    """What only the shop and we know: the webhook signing secret, the ShopBase token, the API token's hash."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    webhook_secret: SecretStr
    shopbase_access_token: SecretStr | None = None
    api_token_sha256: str | None = None


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shop: str
    auto_place: bool = False  # place new paid orders on AliExpress automatically
    notify_customer: bool = True  # ask ShopBase to email the customer on fulfillment
    send_tracking_email: bool = True  # our own email (off when the shop lets ShopBase send its own)
    sender_email: str | None = None
    aliexpress_connected: bool = False
    aliexpress_problem: str | None = None
    default_shipping_service: str | None = None


class Link(BaseModel):
    """A store variant linked to one AliExpress SKU (checked against ds.product.get when made)."""

    model_config = ConfigDict(extra="ignore")

    shop: str
    variant_id: str
    product_id: str
    sku_attr: str = ""  # "" for single-SKU products
    sku_id: str | None = None
    shipping_service: str | None = None  # logistics_service_name; None = the shop's default / AliExpress's
    store_id: str | None = None  # the supplier, to tell which AliExpress order covers which line items
    product_title: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)
