"""ShopBase Admin API objects other than the order, parsed like it (`shared.models.shopbase_order`)."""

from __future__ import annotations

from shared.models.shopbase_order import (
    Id,
    Money,
    OptionalBool,
    OptionalInt,
    OptionalText,
    ShopBaseModel,
    Timestamp,
)


class Webhook(ShopBaseModel):
    id: int
    topic: OptionalText = None
    address: OptionalText = None
    format: OptionalText = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


# ---- products (issue 12): what the app reads back from the products API


class ShopBaseVariant(ShopBaseModel):
    id: Id
    sku: OptionalText = None
    option1: OptionalText = None
    option2: OptionalText = None
    option3: OptionalText = None
    price: Money = None
    compare_at_price: Money = None
    inventory_quantity: OptionalInt = None


class ShopBaseImage(ShopBaseModel):
    id: Id
    src: OptionalText = None
    position: OptionalInt = None


class ShopBaseProduct(ShopBaseModel):
    """A store product as POST/GET/PUT products answer it (200 on create: CONFIRMED for ShopBase)."""

    id: Id
    handle: OptionalText = None
    title: OptionalText = None
    tags: OptionalText = None
    published: OptionalBool = None
    variants: list[ShopBaseVariant] = []
    images: list[ShopBaseImage] = []
