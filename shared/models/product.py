"""Product import (issue 12): an AliExpress product as we read it, the seller's edits, the listing pushed to
ShopBase, the per-shop pricing and monitoring rules, and the per-product change log.

Money is `Decimal` everywhere and is stored as a string (JSON mode dumps Decimals as strings), never a float.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.models.order import utcnow

# Every model here has defer_build: its validator is built at first use, not at import (cold start).
LOG_KEEP = 50  # change-log entries kept per product (the oldest go first)
SHIPS_FROM_PROPERTY = "200007763"  # AliExpress's "Ships From" SKU property
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class ProductStatus(StrEnum):
    DRAFT = "draft"  # in the import list, not in the store yet
    PUSHED = "pushed"  # in the store, linked, monitored
    GONE = "gone"  # pushed, then AliExpress stopped selling it (the store listing was hidden or zeroed)


# ---------------------------------------------------------------- what AliExpress says


class OptionValue(BaseModel):
    model_config = ConfigDict(defer_build=True)

    value_id: str
    name: str  # what the seller sees: the supplier's custom name when there is one
    standard_name: str | None = None  # AliExpress's own value ("Light Grey" beside the custom "400ml")
    image: str | None = None


class SupplierOption(BaseModel):
    model_config = ConfigDict(defer_build=True)

    property_id: str
    name: str
    values: list[OptionValue] = Field(default_factory=list)

    @property
    def ships_from(self) -> bool:
        return self.property_id == SHIPS_FROM_PROPERTY or self.name.strip().lower() in ("ships from", "ship from")


class SupplierSku(BaseModel):
    model_config = ConfigDict(defer_build=True)

    sku_id: str
    sku_attr: str  # what ds.order.create needs ("" for single-SKU products)
    cost: Decimal  # offer_sale_price: what the seller pays, in `currency`
    list_price: Decimal | None = None  # sku_price: AliExpress's "origin" price, often inflated (never a compare-at)
    currency: str
    stock: int = 0
    values: dict[str, str] = Field(default_factory=dict)  # property id -> value id
    image: str | None = None


class SupplierProduct(BaseModel):
    model_config = ConfigDict(defer_build=True)

    product_id: str
    title: str
    description_html: str = ""
    base_currency: str | None = None  # the product's own (often CNY), not the SKUs'
    currency: str  # the SKUs' (the requested target currency)
    status: str | None = None
    images: list[str] = Field(default_factory=list)
    options: list[SupplierOption] = Field(default_factory=list)
    skus: list[SupplierSku] = Field(default_factory=list)
    store_id: str | None = None
    store_name: str | None = None
    ship_to: str

    def sku(self, sku_id: str) -> SupplierSku | None:
        return next((s for s in self.skus if s.sku_id == sku_id), None)


# ---------------------------------------------------------------- the seller's edits


class DraftEdits(BaseModel):
    """Edits are kept apart from the supplier's data, so a refresh re-applies them to fresh data."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    title: str | None = None
    description_html: str | None = None  # already sanitised
    images: list[str] | None = None  # chosen images in order; None: the supplier's
    option_names: dict[str, str] = Field(default_factory=dict)  # property id -> new name
    value_names: dict[str, str] = Field(default_factory=dict)  # "<property id>:<value id>" -> new name
    dropped_values: list[str] = Field(default_factory=list)  # "<property id>:<value id>" (their variants go)
    dropped_options: dict[str, str] = Field(default_factory=dict)  # property id -> the one value kept
    prices: dict[str, Decimal] = Field(default_factory=dict)  # sku id -> price override
    shipping_service: str | None = None  # logistics service for orders of this product


# ---------------------------------------------------------------- the listing (what the store gets)


class ListingVariant(BaseModel):
    model_config = ConfigDict(defer_build=True)

    sku_id: str
    sku_attr: str
    options: list[str]
    cost: Decimal  # supplier cost in the store currency
    shipping: Decimal = Decimal("0")
    price: Decimal
    compare_at: Decimal | None = None
    stock: int
    image: str | None = None

    @property
    def margin(self) -> Decimal:
        base = self.cost + self.shipping
        return (self.price - base) / self.price if self.price > 0 else Decimal("0")


class ListingOption(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    values: list[str]


class Listing(BaseModel):
    model_config = ConfigDict(defer_build=True)

    title: str
    body_html: str
    options: list[ListingOption]
    variants: list[ListingVariant]
    images: list[str]
    currency: str
    problems: list[str] = Field(default_factory=list)  # push refuses
    warnings: list[str] = Field(default_factory=list)  # push goes ahead


# ---------------------------------------------------------------- rules per shop


class PriceRange(BaseModel):
    """`kind` applies to costs in [min_cost, max_cost): multiplier (cost x value), markup (cost + value) or fixed
    (the price is value)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    min_cost: Amount = Decimal("0")
    max_cost: Amount | None = None
    kind: Literal["multiplier", "markup", "fixed"]
    value: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4)]


class CompareAtRule(BaseModel):
    """Compare-at from the selling price (never AliExpress's inflated sku_price by default)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["none", "multiplier", "markup", "list_price"] = "none"
    value: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)] = Decimal("0")


class PricingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    ranges: list[PriceRange] = Field(
        default_factory=lambda: [PriceRange(kind="multiplier", value=Decimal("2"))], min_length=1, max_length=20)
    compare_at: CompareAtRule = Field(default_factory=CompareAtRule)
    cents: Annotated[Decimal, Field(ge=0, lt=1, decimal_places=2)] | None = None  # "assign cents": 0.99
    include_shipping: bool = False  # add ds.freight.query's cheapest fee to the cost
    store_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # Units of the store currency per unit of another currency, when the SKUs come in another one.
    exchange_rates: dict[str, Annotated[Decimal, Field(gt=0)]] = Field(default_factory=dict)
    thin_margin: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal("0.10")  # warn under this margin

    @field_validator("ranges")
    @classmethod
    def _ranges_do_not_overlap(cls, ranges: list[PriceRange]) -> list[PriceRange]:
        ordered = sorted(ranges, key=lambda r: r.min_cost)
        for low, high in pairwise(ordered):
            if low.max_cost is None or low.max_cost > high.min_cost:
                raise ValueError(f"cost ranges overlap at {high.min_cost}")
        for r in ranges:
            if r.max_cost is not None and r.max_cost <= r.min_cost:
                raise ValueError(f"max_cost {r.max_cost} must be above min_cost {r.min_cost}")
        return ordered


class MonitorRules(BaseModel):
    """What a daily check (or "refresh now") does, like ShopBase's own Ali Dropship Connector."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    enabled: bool = True
    product_gone: Literal["unpublish", "zero_quantity"] = "unpublish"
    cost_change: Literal["reprice", "notify"] = "notify"


class ProductRules(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop: str
    pricing: PricingRules = Field(default_factory=PricingRules)
    monitoring: MonitorRules = Field(default_factory=MonitorRules)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- the stored product


class LogEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: datetime = Field(default_factory=utcnow)
    kind: str  # imported, edited, pushed, repriced, stock, variant_gone, product_gone, cost_changed, …
    message: str


class PushIntent(BaseModel):
    """Written before POST /admin/products.json: the handle and tag the store product is created with, so a
    retry after a timeout or a crash finds the product that was created instead of creating a second one."""

    model_config = ConfigDict(defer_build=True)

    handle: str
    started_at: datetime
    attempts: int = 1


class PushedVariant(BaseModel):
    model_config = ConfigDict(defer_build=True)

    sku_id: str
    sku_attr: str
    variant_id: str
    price: Decimal
    compare_at: Decimal | None = None
    cost: Decimal
    quantity: int


class ImportedProduct(BaseModel):
    """One AliExpress product in a shop: a draft in the import list, then the store product it became."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    shop: str
    product_id: str  # AliExpress's; also the key (one import per product per shop)
    status: ProductStatus = ProductStatus.DRAFT
    source_url: str | None = None
    supplier: SupplierProduct
    # ds.product.get's result as AliExpress sent it (zlib, base64): a better parser can read it again later.
    raw_z: str | None = Field(default=None, repr=False)
    edits: DraftEdits = Field(default_factory=DraftEdits)
    shipping_cost: Decimal | None = None  # ds.freight.query's cheapest fee to ship_to (store currency)
    shipping_service: str | None = None  # that option's code (logistics_service_name)
    push: PushIntent | None = None
    store_product_id: str | None = None
    store_handle: str | None = None
    published: bool = False
    variants: list[PushedVariant] = Field(default_factory=list)
    next_check_at: datetime | None = None  # due for monitoring (pushed products only)
    checked_at: datetime | None = None
    log: list[LogEntry] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 0

    def record(self, kind: str, message: str, at: datetime | None = None) -> None:
        self.log.append(LogEntry(at=at or utcnow(), kind=kind, message=message))
        del self.log[:-LOG_KEEP]

    def title(self) -> str:
        return self.edits.title or self.supplier.title

    def raw_result(self) -> dict[str, Any] | None:
        if not self.raw_z:
            return None
        value: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(self.raw_z)))
        return value


def pack_raw(result: dict[str, Any]) -> str:
    return base64.b64encode(zlib.compress(json.dumps(result, separators=(",", ":")).encode(), 6)).decode()
