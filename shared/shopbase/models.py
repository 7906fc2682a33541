"""ShopBase Admin API objects other than the order, parsed like it (`shared.models.shopbase_order`)."""

from __future__ import annotations

from shared.models.shopbase_order import OptionalText, ShopBaseModel, Timestamp


class Webhook(ShopBaseModel):
    id: int
    topic: OptionalText = None
    address: OptionalText = None
    format: OptionalText = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
