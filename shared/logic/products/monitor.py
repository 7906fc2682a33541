"""Monitoring of pushed products: a daily schedule (and "refresh now") re-reads each one with ds.product.get,
within the fleet's AliExpress rate budget, and applies the shop's rules (like ShopBase's own app):

- product gone (605, empty answer, offline) → unpublish, or quantity 0 on every variant (rule `product_gone`);
- variant gone or out of stock → that variant's quantity 0; stock changed → the store quantity follows;
- cost changed → re-price by the rules (`cost_change: reprice`) or only note it (`notify`);
- a product that comes back is restocked (republishing it stays the seller's decision).
Each change goes to the product's log (what the seller reads) with one PUT of the store product.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.logic.products.importer import ProductRemoved, fetch_supplier_product
from shared.logic.products.listing import build_listing
from shared.logic.products.store_push import CHECK_EVERY, _shopbase_failure, product_not_found, store_client
from shared.models.errors import Conflict, DomainError
from shared.models.product import ImportedProduct, ProductRules, ProductStatus, PushedVariant, pack_raw
from shared.models.shop import ShopSettings
from shared.shopbase.errors import ShopBaseError, ShopBaseNotFound

if TYPE_CHECKING:
    from shared.data.products import ProductRepository
    from shared.data.shops import ShopRepository
    from shared.logic.accounts import AliExpressAccounts
    from shared.shopbase.client import ShopBaseClient

RETRY_FAILED_AFTER = timedelta(hours=1)


@dataclass
class RefreshReport:
    product_id: str
    changes: list[str] = field(default_factory=list)
    store_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "changes": self.changes}


@dataclass
class RunReport:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    stopped_early: bool = False


class ProductMonitor:
    def __init__(self, products: ProductRepository, accounts: AliExpressAccounts, shops: ShopRepository,
                 clients: Callable[[str], ShopBaseClient], clock: Callable[[], float] = time.time) -> None:
        self.products = products
        self.accounts = accounts
        self.shops = shops
        self.clients = clients
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ------------------------------------------------------------ one product

    def refresh(self, shop: str, product_id: str) -> RefreshReport:
        product = self.products.get(shop, product_id)
        if product is None:
            raise product_not_found(product_id)
        if product.status is ProductStatus.DRAFT:
            raise Conflict(f"product {product_id} is a draft: only pushed products are monitored",
                           code="NOT_PUSHED")
        rules = self.products.get_rules(shop)
        settings = self.shops.get_settings(shop) or ShopSettings(shop=shop)
        report = RefreshReport(product_id)
        now = self._now()
        try:
            fresh = fetch_supplier_product(self.accounts, shop, product_id, settings, rules)
        except ProductRemoved as gone:
            self._gone(product, rules, gone.message, report, now)
            return report
        client = store_client(self.clients, shop)
        was_gone = product.status is ProductStatus.GONE
        candidate = product.model_copy(update={"supplier": fresh.product})
        if fresh.shipping_cost is not None:
            candidate.shipping_cost = fresh.shipping_cost
        listing = build_listing(candidate, rules.pricing)
        priced = {v.sku_id: v for v in listing.variants}
        variant_changes: list[dict[str, Any]] = []
        updated: list[PushedVariant] = []
        log: list[tuple[str, str]] = []
        for pushed in product.variants:
            sku = fresh.product.sku(pushed.sku_id)
            change: dict[str, Any] = {}
            new = pushed.model_copy()
            if sku is None:
                if pushed.quantity != 0:
                    change["inventory_quantity"] = 0
                    log.append(("variant_gone", f"SKU {pushed.sku_id} is gone from AliExpress: quantity set to 0"))
                new.quantity = 0
            else:
                if sku.sku_attr != pushed.sku_attr:
                    log.append(("sku_changed", f"SKU {pushed.sku_id} changed its attributes on AliExpress "
                                               f"({pushed.sku_attr!r} → {sku.sku_attr!r}); orders stop until remapped"))
                stock = max(0, sku.stock)
                if stock != pushed.quantity:
                    change["inventory_quantity"] = stock
                    kind = "out_of_stock" if stock == 0 else "stock"
                    log.append((kind, f"SKU {pushed.sku_id}: stock {pushed.quantity} → {stock}"))
                    new.quantity = stock
                fresh_variant = priced.get(pushed.sku_id)
                if fresh_variant is not None and fresh_variant.cost != pushed.cost:
                    if rules.monitoring.cost_change == "reprice":
                        if fresh_variant.price != pushed.price:
                            change["price"] = str(fresh_variant.price)
                            change["compare_at_price"] = str(fresh_variant.compare_at) \
                                if fresh_variant.compare_at else None
                        log.append(("repriced", f"SKU {pushed.sku_id}: cost {pushed.cost} → {fresh_variant.cost}, "
                                                f"price {pushed.price} → {fresh_variant.price}"))
                        new.price, new.compare_at = fresh_variant.price, fresh_variant.compare_at
                        new.cost = fresh_variant.cost
                    else:
                        log.append(("cost_changed", f"SKU {pushed.sku_id}: cost {pushed.cost} → {fresh_variant.cost} "
                                                    f"(price kept at {pushed.price}; re-apply the rules to re-price)"))
                        new.cost = fresh_variant.cost
            if change:
                variant_changes.append({"id": int(pushed.variant_id), **change})
            updated.append(new)
        body: dict[str, Any] = {}
        if variant_changes:
            body["variants"] = variant_changes
        if was_gone:  # republishing stays the seller's decision
            log.append(("back", "AliExpress sells the product again: quantities follow its stock"))
        if body:
            self._put(client, product, body)
            report.store_calls += 1

        def apply(current: ImportedProduct) -> ImportedProduct:
            current.supplier = fresh.product
            if fresh.raw is not None:
                current.raw_z = pack_raw(fresh.raw)
            if fresh.shipping_cost is not None:
                current.shipping_cost = fresh.shipping_cost
            current.variants = updated
            current.status = ProductStatus.PUSHED
            if "published" in body:
                current.published = bool(body["published"])
            current.checked_at, current.next_check_at = now, now + CHECK_EVERY
            for kind, message in log:
                current.record(kind, message, now)
            return current

        self.products.mutate(shop, product_id, apply)
        report.changes = [message for _, message in log]
        return report

    def _put(self, client: ShopBaseClient, product: ImportedProduct, body: dict[str, Any]) -> None:
        assert product.store_product_id is not None
        try:
            client.update_product(int(product.store_product_id), body)
        except ShopBaseNotFound as error:
            raise Conflict(f"the store product {product.store_product_id} was deleted in ShopBase",
                           code="STORE_PRODUCT_DELETED") from error
        except ShopBaseError as error:
            raise _shopbase_failure(error) from error

    def _gone(self, product: ImportedProduct, rules: ProductRules, why: str, report: RefreshReport,
              now: datetime) -> None:
        if product.status is ProductStatus.GONE:
            def seen(current: ImportedProduct) -> ImportedProduct:
                current.checked_at, current.next_check_at = now, now + CHECK_EVERY
                return current

            self.products.mutate(product.shop, product.product_id, seen)
            return
        client = store_client(self.clients, product.shop)
        if rules.monitoring.product_gone == "unpublish":
            body: dict[str, Any] = {"published": False}
            what = "unpublished"
        else:
            body = {"variants": [{"id": int(v.variant_id), "inventory_quantity": 0} for v in product.variants]}
            what = "every variant's quantity set to 0"
        self._put(client, product, body)
        report.store_calls += 1

        def apply(current: ImportedProduct) -> ImportedProduct:
            current.status = ProductStatus.GONE
            if "published" in body:
                current.published = False
            else:
                current.variants = [v.model_copy(update={"quantity": 0}) for v in current.variants]
            current.checked_at, current.next_check_at = now, now + CHECK_EVERY
            current.record("product_gone", f"{why}: the store product was {what}", now)
            return current

        self.products.mutate(product.shop, product.product_id, apply)
        report.changes = [f"{why}: the store product was {what}"]

    # ------------------------------------------------------------ the daily run

    def run_due(self, *, time_left: Callable[[], float] | None = None, reserve_s: float = 20.0) -> RunReport:
        """Every product due (DueIndex, shard by shard) of every shop whose monitoring is on; stops early when
        `time_left()` falls under `reserve_s` (the next run, or the next invocation, goes on from there)."""
        report = RunReport()
        now = self._now()
        enabled: dict[str, bool] = {}
        for shard in range(self.products.shards):
            start: dict[str, Any] | None = None
            while True:
                due, start = self.products.due(shard, now, limit=50, start=start)
                for item in due:
                    if time_left is not None and time_left() < reserve_s:
                        report.stopped_early = True
                        return report
                    if item.shop not in enabled:
                        enabled[item.shop] = self.products.get_rules(item.shop).monitoring.enabled
                    if not enabled[item.shop]:
                        self._postpone(item.shop, item.product_id, now + CHECK_EVERY)
                        continue
                    try:
                        changed = self.refresh(item.shop, item.product_id).changes
                    except DomainError:
                        report.failed += 1
                        self._postpone(item.shop, item.product_id, now + RETRY_FAILED_AFTER)
                        continue
                    report.checked += 1
                    report.changed += 1 if changed else 0
                if not start:
                    break
        return report

    def _postpone(self, shop: str, product_id: str, until: datetime) -> None:
        def change(current: ImportedProduct) -> ImportedProduct:
            current.next_check_at = until
            return current

        self.products.mutate(shop, product_id, change)
