"""A shop's own data: its secrets, its settings, and its variant → AliExpress product links."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from shared.models.errors import Invalid
from shared.models.order import utcnow

SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def is_valid_shop(shop: str) -> bool:
    """A ShopBase shop handle ("demo-store"); anything else is never looked up."""
    return bool(SHOP_NAME.match(shop))


class ShopSecrets(BaseModel):
    """What only the shop and we know: the webhook signing secret, the ShopBase token, the API token's hash."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # built at first use

    webhook_secret: SecretStr
    shopbase_access_token: SecretStr | None = None
    api_token_sha256: str | None = None


TrackingChannel = Literal["ours", "shopbase", "both", "none"]
CHANNEL_FIELDS = ("notify_customer", "send_tracking_email", "both_channels")


class ShopSettings(BaseModel):
    """A shop's settings. The customer hears about each package through ONE channel by default: our own
    tracking email (`send_tracking_email`, branded, sent as soon as the tracking is on ShopBase, with the
    carrier's link), and ShopBase's shipping email (`notify_customer` on the fulfillment) off. Both at once
    need `both_channels`; settings stored with both on and no confirmation (both were on by default before)
    read as our email only."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop: str
    auto_place: bool = False  # place new paid orders on AliExpress automatically
    notify_customer: bool = False  # ask ShopBase to email the customer on fulfillment (its own email)
    send_tracking_email: bool = True  # our own tracking email (needs sender_email)
    both_channels: bool = False  # the seller confirmed they want both emails for every package
    sender_email: str | None = None
    aliexpress_connected: bool = False
    aliexpress_problem: str | None = None
    default_shipping_service: str | None = None
    # Product import (issue 12): ds.product.get reads products for this country and language (the store
    # currency is the pricing rules').
    import_ship_to: str = "US"
    import_language: str = "en"

    @model_validator(mode="after")
    def _one_channel_unless_confirmed(self) -> ShopSettings:
        if self.notify_customer and self.send_tracking_email and not self.both_channels:
            self.notify_customer = False  # unconfirmed "both": the default channel only
        if not (self.notify_customer and self.send_tracking_email):
            self.both_channels = False
        return self

    @property
    def tracking_channel(self) -> TrackingChannel:
        if self.notify_customer and self.send_tracking_email:
            return "both"
        return "ours" if self.send_tracking_email else "shopbase" if self.notify_customer else "none"

    def channel_changes(self, changes: Mapping[str, Any]) -> dict[str, bool]:
        """The three channel fields after `changes` (a settings patch), to be written together; Invalid when
        they would turn both emails on without `both_channels: true`, naming the field that turns the second
        one on."""
        wanted = {name: bool(changes.get(name, getattr(self, name))) for name in CHANNEL_FIELDS}
        both = wanted["notify_customer"] and wanted["send_tracking_email"]
        if both and not wanted["both_channels"]:
            turned_on = [n for n in ("notify_customer", "send_tracking_email") if changes.get(n) is True]
            raise Invalid("ShopBase's shipping email (notify_customer) and our tracking email "
                          "(send_tracking_email) would both email the customer for every package; send "
                          '"both_channels": true with them to confirm, or turn one of them off',
                          field=turned_on[-1] if turned_on else "both_channels")
        wanted["both_channels"] = both
        return wanted


class Link(BaseModel):
    """A store variant linked to one AliExpress SKU (checked against ds.product.get when made)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop: str
    variant_id: str
    product_id: str
    sku_attr: str = ""  # "" for single-SKU products
    sku_id: str | None = None
    shipping_service: str | None = None  # logistics_service_name; None = the shop's default / AliExpress's
    store_id: str | None = None  # the supplier, to tell which AliExpress order covers which line items
    product_title: str | None = None
    image_url: str | None = Field(default=None, max_length=2000)  # the variant's picture, when we pushed it
    updated_at: datetime = Field(default_factory=utcnow)
