"""Import list: AliExpress products (by URL or id, one or many) become drafts, read with ds.product.get for the
shop's ship-to country, language and currency, spending the fleet's AliExpress rate budget (the client's
before_call hook). A product already imported or pushed is never imported twice (a read first, so no AliExpress
call is spent on it, then one conditional write, so two racing imports store one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.aliexpress.errors import AliExpressError, BusinessError
from shared.logic.accounts import RECONNECT_ATTENTION, TRANSIENT_ERRORS, AliExpressDisconnected
from shared.logic.products.parse import ProductUnavailable, UnreadableProduct, parse_product
from shared.logic.products.urls import product_id_from
from shared.models.errors import Conflict, DomainError, Invalid, Unavailable, UpstreamFailed
from shared.models.product import ImportedProduct, ProductRules, SupplierProduct, pack_raw
from shared.models.shop import ShopSettings

if TYPE_CHECKING:
    from shared.data.products import ProductRepository
    from shared.data.shops import ShopRepository
    from shared.logic.accounts import AliExpressAccounts

MAX_PER_REQUEST = 20  # one request stays within API Gateway's 30 s at the fleet's AliExpress rate

UNAVAILABLE_CODES = {"605": "does not exist on AliExpress (ITEM_ID_NOT_FOUND) or was removed",
                     "EMPTY_RESULT": "is not available on AliExpress any more (empty answer)",
                     "602": "is not sold to {country}"}


class ProductRemoved(Invalid):
    """AliExpress does not sell this product (605, empty answer, offline, not to this country)."""


@dataclass
class ImportOutcome:
    input: str
    product_id: str | None
    outcome: str  # imported | already_imported | failed
    status: str | None = None  # the product's status when already there
    error: str | None = None
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Fetched:
    product: SupplierProduct
    shipping_cost: Decimal | None
    shipping_service: str | None
    raw: dict[str, Any] | None = None  # ds.product.get's result as sent


def fetch_supplier_product(accounts: AliExpressAccounts, shop: str, product_id: str, settings: ShopSettings,
                           rules: ProductRules, *, with_freight: bool | None = None) -> Fetched:
    """ds.product.get (+ ds.freight.query with `include_shipping`) as domain errors: ProductRemoved,
    Conflict ALIEXPRESS_DISCONNECTED, Unavailable (AliExpress did not answer), UpstreamFailed."""
    ship_to, currency = settings.import_ship_to, rules.pricing.store_currency
    try:
        result, _ = accounts.call(shop, lambda client, token: client.product_result(
            token, product_id, ship_to, target_currency=currency, target_language=settings.import_language))
        product = parse_product(result, ship_to=ship_to)
        cost = service = None
        if with_freight if with_freight is not None else rules.pricing.include_shipping:
            options = accounts.call(shop, lambda client, token: client.query_freight(
                token, product_id, product.skus[0].sku_id, ship_to, currency=currency))
            if options:
                cost, service = options[0].fee, options[0].code
    except AliExpressDisconnected as error:
        raise Conflict(RECONNECT_ATTENTION, code="ALIEXPRESS_DISCONNECTED") from error
    except TRANSIENT_ERRORS as error:
        raise Unavailable("AliExpress did not answer; try again in a moment", code=error.code) from error
    except BusinessError as error:
        if error.api_name == "aliexpress.ds.freight.query":
            raise ProductRemoved(f"AliExpress product {product_id} does not ship to {ship_to} "
                                 f"({error.code}: {error.message})", field="urls", code=error.code) from error
        reason = UNAVAILABLE_CODES.get(error.code)
        if reason is None:
            raise UpstreamFailed(f"AliExpress could not read product {product_id} ({error.code}: {error.message})",
                                 code=error.code) from error
        raise ProductRemoved(f"AliExpress product {product_id} {reason.format(country=ship_to)}", field="urls",
                             code=error.code) from error
    except ProductUnavailable as error:
        raise ProductRemoved(str(error), field="urls", code="UNAVAILABLE") from error
    except UnreadableProduct as error:
        raise UpstreamFailed(f"AliExpress answered product {product_id} in a shape we cannot read: {error}",
                             code="UNREADABLE") from error
    except AliExpressError as error:
        raise UpstreamFailed(f"AliExpress refused to read product {product_id} ({error.code})",
                             code=error.code) from error
    return Fetched(product, cost, service, result)


class ProductImporter:
    def __init__(self, products: ProductRepository, accounts: AliExpressAccounts, shops: ShopRepository,
                 clock: Callable[[], float] = time.time) -> None:
        self.products = products
        self.accounts = accounts
        self.shops = shops
        self.clock = clock

    def import_many(self, shop: str, inputs: list[str]) -> list[ImportOutcome]:
        """Every line is checked first (one that is not an AliExpress product URL or id refuses the request:
        nothing is read or written); then each product is imported on its own."""
        if not inputs:
            raise Invalid("send one or more AliExpress product URLs or ids", field="urls")
        if len(inputs) > MAX_PER_REQUEST:
            raise Invalid(f"at most {MAX_PER_REQUEST} products per request ({len(inputs)} sent)", field="urls")
        ids = [product_id_from(text) for text in inputs]
        settings = self.shops.get_settings(shop) or ShopSettings(shop=shop)
        rules = self.products.get_rules(shop)
        outcomes: list[ImportOutcome] = []
        seen: set[str] = set()
        for text, product_id in zip(inputs, ids, strict=True):
            if product_id in seen:
                outcomes.append(ImportOutcome(text, product_id, "already_imported", error="listed twice"))
                continue
            seen.add(product_id)
            outcomes.append(self._import_one(shop, text, product_id, settings, rules))
        return outcomes

    def _import_one(self, shop: str, text: str, product_id: str, settings: ShopSettings,
                    rules: ProductRules) -> ImportOutcome:
        existing = self.products.get(shop, product_id)
        if existing is not None:
            return ImportOutcome(text, product_id, "already_imported", status=existing.status.value)
        try:
            fetched = fetch_supplier_product(self.accounts, shop, product_id, settings, rules)
        except (Conflict, Unavailable):
            raise  # the whole shop is concerned (reconnect) or AliExpress is down: say it once
        except DomainError as error:
            return ImportOutcome(text, product_id, "failed", error=error.message,
                                 code=str(error.details.get("code") or type(error).__name__))
        now = datetime.fromtimestamp(self.clock(), UTC)
        product = ImportedProduct(shop=shop, product_id=product_id, source_url=text[:2048], supplier=fetched.product,
                                  raw_z=pack_raw(fetched.raw) if fetched.raw is not None else None,
                                  shipping_cost=fetched.shipping_cost, shipping_service=fetched.shipping_service,
                                  created_at=now, updated_at=now)
        product.record("imported", f"Imported from AliExpress ({len(fetched.product.skus)} SKUs, ship to "
                                   f"{fetched.product.ship_to}, prices in {fetched.product.currency})", now)
        if not self.products.create(product):
            current = self.products.get(shop, product_id)
            return ImportOutcome(text, product_id, "already_imported",
                                 status=current.status.value if current else None)
        return ImportOutcome(text, product_id, "imported", status=product.status.value)
