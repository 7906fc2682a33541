"""Push a draft to ShopBase, exactly once, and link every store variant to its AliExpress SKU.

Never two store products for one draft, whatever fails between ShopBase creating the product and us recording it:
1. The listing is checked first (ShopBase's limits, no price below cost, no zero price, something in stock):
   a refusal makes no call and writes nothing.
2. A push intent is recorded on the product (one conditional write) with a handle of our own,
   `ae-<product id>-<random>`, and a tag `dsref-<handle>`, BEFORE `POST /admin/products.json`.
3. The POST creates the product with that handle. A timeout or 5xx (the outcome is unknown: ShopBase may have
   created it) → `GET /admin/products.json?handle=<handle>` finds it, or proves it was not created (then one
   more POST). A crash after the POST leaves the intent behind: the next push looks the handle up first.
4. Links (store variant → AliExpress product + SKU + shipping service) are written, then the product is
   recorded as pushed and the intent cleared. Re-running any step is harmless.
Requests go through the ShopBase client's per-shop leaky bucket (2 req/s, burst 30) and its 429 handling.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.logic.products.listing import build_listing
from shared.models.errors import (
    Conflict,
    DomainError,
    Invalid,
    LimitReached,
    NotFound,
    Unavailable,
    UpstreamFailed,
    shown,
)
from shared.models.product import (
    ImportedProduct,
    Listing,
    ProductRules,
    ProductStatus,
    PushedVariant,
    PushIntent,
)
from shared.models.shop import Link
from shared.shopbase.errors import (
    ShopBaseAuthError,
    ShopBaseError,
    ShopBaseNotFound,
    ShopBaseRateLimited,
    ShopBaseUnprocessable,
)

if TYPE_CHECKING:
    from shared.data.links import LinkRepository
    from shared.data.products import ProductRepository
    from shared.shopbase.client import ShopBaseClient
    from shared.shopbase.models import ShopBaseProduct

INTENT_TTL_SECONDS = 60  # longer than any push request runs (the seller API answers within 29 s)
CHECK_EVERY = timedelta(hours=24)
SKU_PREFIX = "AE-"


def product_not_found(product_id: str) -> NotFound:
    return NotFound(f"product {shown(product_id)}")


def variant_sku(sku_id: str) -> str:
    return f"{SKU_PREFIX}{sku_id}"


def listing_payload(product: ImportedProduct, listing: Listing, handle: str, publish: bool) -> dict[str, Any]:
    """The body of POST /admin/products.json: options, variants (prices as strings), images."""
    variants = []
    for v in listing.variants:
        variant: dict[str, Any] = {"sku": variant_sku(v.sku_id), "price": str(v.price),
                                   "inventory_quantity": max(0, v.stock), "inventory_management": "shopbase"}
        if v.compare_at is not None:
            variant["compare_at_price"] = str(v.compare_at)
        for n, value in enumerate(v.options):
            variant[f"option{n + 1}"] = value
        variants.append(variant)
    return {"title": listing.title, "body_html": listing.body_html, "handle": handle, "published": publish,
            "vendor": product.supplier.store_name or "", "tags": f"dropship, aliexpress-{product.product_id}, "
                                                                f"dsref-{handle}",
            "options": [{"name": o.name, "values": o.values} for o in listing.options],
            "variants": variants, "images": [{"src": src} for src in listing.images]}


@dataclass
class PushResult:
    product: ImportedProduct
    created: bool  # False: found after an unknown outcome, or already pushed (updated)
    warnings: list[str] = field(default_factory=list)
    links: int = 0


def store_client(clients: Callable[[str], ShopBaseClient], shop: str) -> ShopBaseClient:
    """The shop's ShopBase client; Conflict when the shop has no ShopBase access token (the app must be
    installed again), instead of a crash."""
    from shared.logic.push import ShopNotConnected

    try:
        return clients(shop)
    except ShopNotConnected as error:
        raise Conflict("the store has no ShopBase access token: install the app in the store again",
                       code="SHOPBASE_DISCONNECTED") from error


def refuse_listing(listing: Listing) -> None:
    if listing.problems:
        raise Invalid("the product cannot be pushed: " + " ".join(listing.problems), field="listing",
                      problems=listing.problems)


def _shopbase_failure(error: ShopBaseError) -> Exception:
    if isinstance(error, ShopBaseRateLimited):
        return LimitReached("ShopBase is rate limiting this store; try again shortly",
                            retry_after=error.retry_after or 2)
    if isinstance(error, ShopBaseAuthError):
        return Conflict("ShopBase refused the store's access token: reinstall the app in the store",
                        code="SHOPBASE_DISCONNECTED")
    if isinstance(error, ShopBaseUnprocessable):
        return UpstreamFailed(f"ShopBase refused the product: {error.errors}", code="SHOPBASE_REFUSED")
    if error.retryable:
        return Unavailable("ShopBase did not answer; push again: it is safe (the same product is found, never "
                           "created twice)", code="SHOPBASE_UNAVAILABLE")
    return UpstreamFailed(f"ShopBase failed ({error.status})", code="SHOPBASE_FAILED")


class ProductPusher:
    def __init__(self, products: ProductRepository, links: LinkRepository,
                 clients: Callable[[str], ShopBaseClient], clock: Callable[[], float] = time.time,
                 intent_ttl: float = INTENT_TTL_SECONDS) -> None:
        self.products = products
        self.links = links
        self.clients = clients
        self.clock = clock
        self.intent_ttl = intent_ttl

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ------------------------------------------------------------ push

    def push(self, shop: str, product_id: str, *, publish: bool = False) -> PushResult:
        product = self.products.get(shop, product_id)
        if product is None:
            raise product_not_found(product_id)
        rules = self.products.get_rules(shop)
        if product.status is ProductStatus.GONE:
            raise Conflict(f"AliExpress no longer sells product {product_id}: refresh it, or delete it",
                           code="PRODUCT_GONE")
        if product.status is ProductStatus.PUSHED:
            return self.update_store(product, rules, publish=publish)
        listing = build_listing(product, rules.pricing)
        refuse_listing(listing)
        client = store_client(self.clients, shop)  # before the intent: a shop without a token writes nothing
        product, resumed = self._intent(product)
        assert product.push is not None
        intent = product.push
        found = None if not resumed else self._find(client, intent.handle)
        created, was_created = (found, False) if found is not None else \
            self._create(client, product, listing, intent.handle, publish)
        return self._record(product, listing, created, publish, was_created)

    def _intent(self, product: ImportedProduct) -> tuple[ImportedProduct, bool]:
        """The product with the intent this push works under, recorded before any call (one conditional write on
        the version just read; re-read only on a lost race), and whether an earlier push left that intent."""
        now = self._now()
        resumed = False

        def change(current: ImportedProduct) -> ImportedProduct:
            nonlocal resumed
            resumed = False
            if current.status is not ProductStatus.DRAFT:
                raise Conflict(f"product {current.product_id} was pushed meanwhile", code="ALREADY_PUSHED")
            previous = current.push
            if previous is not None and (now - previous.started_at).total_seconds() < self.intent_ttl:
                raise Conflict(f"product {current.product_id} is being pushed by another request; try again in a "
                               "minute", code="PUSH_IN_PROGRESS")
            if previous is None:
                current.push = PushIntent(handle=f"ae-{current.product_id}-{secrets.token_hex(4)}", started_at=now)
            else:
                resumed = True
                current.push = previous.model_copy(update={"started_at": now, "attempts": previous.attempts + 1})
            return current

        return self._save(product, change), resumed

    def _save(self, product: ImportedProduct,
              change: Callable[[ImportedProduct], ImportedProduct | None]) -> ImportedProduct:
        """`change` applied to the version in hand and written conditionally; on a lost race, re-read and retried."""
        changed = change(product.model_copy(deep=True))
        if changed is None:
            return product
        try:
            return self.products.save(changed)
        except Conflict:
            saved = self.products.mutate(product.shop, product.product_id, change)
            if saved is None:
                raise product_not_found(product.product_id) from None
            return saved

    @staticmethod
    def _find(client: ShopBaseClient, handle: str) -> ShopBaseProduct | None:
        try:
            found = client.find_products_by_handle(handle)
        except ShopBaseError as error:
            raise _shopbase_failure(error) from error
        return next((p for p in found if p.handle == handle), None)

    def _create(self, client: ShopBaseClient, product: ImportedProduct, listing: Listing, handle: str,
                publish: bool) -> tuple[ShopBaseProduct, bool]:
        """(the store product, True when this POST's answer said so; False when found after an unknown outcome)."""
        payload = listing_payload(product, listing, handle, publish)
        for attempt in range(2):
            try:
                return client.create_product(payload), True
            except ShopBaseError as error:
                if not error.outcome_unknown:
                    raise _shopbase_failure(error) from error
                found = self._find(client, handle)  # did ShopBase create it before failing?
                if found is not None:
                    return found, False
                if attempt == 1:
                    raise _shopbase_failure(error) from error
        raise AssertionError("unreachable")

    def _record(self, product: ImportedProduct, listing: Listing, created: ShopBaseProduct, publish: bool,
                was_created: bool) -> PushResult:
        shop, product_id = product.shop, product.product_id
        by_sku = {v.sku: v for v in created.variants if v.sku}
        pushed: list[PushedVariant] = []
        for v in listing.variants:
            store_variant = by_sku.get(variant_sku(v.sku_id))
            if store_variant is None:
                raise UpstreamFailed(f"ShopBase's product {created.id} has no variant {variant_sku(v.sku_id)}",
                                     code="SHOPBASE_VARIANTS")
            pushed.append(PushedVariant(sku_id=v.sku_id, sku_attr=v.sku_attr, variant_id=store_variant.id,
                                        price=v.price, compare_at=v.compare_at, cost=v.cost, quantity=v.stock))
        now = self._now()
        service = product.edits.shipping_service or product.shipping_service
        first = listing.images[0] if listing.images else None
        images = {v.sku_id: v.image or first for v in listing.variants}  # the page's thumbnails
        self.links.put_many([Link(shop=shop, variant_id=p.variant_id, product_id=product_id, sku_attr=p.sku_attr,
                                  sku_id=p.sku_id, shipping_service=service, store_id=product.supplier.store_id,
                                  product_title=listing.title[:255], image_url=images.get(p.sku_id),
                                  updated_at=now) for p in pushed])

        def change(current: ImportedProduct) -> ImportedProduct | None:
            if current.status is ProductStatus.PUSHED and current.store_product_id == created.id:
                return None
            current.status = ProductStatus.PUSHED
            current.store_product_id, current.store_handle = created.id, created.handle
            current.published, current.variants, current.push = publish, pushed, None
            current.next_check_at = now + CHECK_EVERY
            current.updated_at = now
            how = "created" if was_created else "found after an unconfirmed create"
            current.record("pushed", f"Pushed to ShopBase as product {created.id} ({how}, "
                                     f"{'published' if publish else 'hidden'}); {len(pushed)} variants linked", now)
            return current

        saved = self._save(product, change)
        return PushResult(saved, created=was_created, warnings=listing.warnings, links=len(pushed))

    # ------------------------------------------------------------ already pushed: update, re-price

    def update_store(self, product: ImportedProduct, rules: ProductRules, *, publish: bool | None = None,
                     reason: str = "updated") -> PushResult:
        """PUT the listing's prices (and title, description, publish state) onto the store product."""
        listing = build_listing(product, rules.pricing)
        refuse_listing(listing)
        assert product.store_product_id is not None
        by_sku = {v.sku_id: v for v in listing.variants}
        changes: list[dict[str, Any]] = []
        updated: list[PushedVariant] = []
        for pushed in product.variants:
            fresh = by_sku.get(pushed.sku_id)
            if fresh is None:
                updated.append(pushed)
                continue
            if fresh.price != pushed.price or fresh.compare_at != pushed.compare_at:
                changes.append({"id": int(pushed.variant_id), "price": str(fresh.price),
                                "compare_at_price": str(fresh.compare_at) if fresh.compare_at else None})
            updated.append(pushed.model_copy(update={"price": fresh.price, "compare_at": fresh.compare_at,
                                                     "cost": fresh.cost}))
        body: dict[str, Any] = {"title": listing.title, "body_html": listing.body_html}
        if changes:
            body["variants"] = changes
        if publish is not None and publish != product.published:
            body["published"] = publish
        try:
            store_client(self.clients, product.shop).update_product(int(product.store_product_id), body)
        except ShopBaseNotFound as error:
            raise Conflict(f"the store product {product.store_product_id} was deleted in ShopBase",
                           code="STORE_PRODUCT_DELETED") from error
        except ShopBaseError as error:
            raise _shopbase_failure(error) from error
        now = self._now()

        def change(current: ImportedProduct) -> ImportedProduct:
            current.variants = updated
            if publish is not None:
                current.published = publish
            current.updated_at = now
            current.record("repriced" if changes else reason,
                           f"{len(changes)} variant price(s) changed in ShopBase" if changes else
                           "Title, description and visibility sent to ShopBase", now)
            return current

        saved = self.products.mutate(product.shop, product.product_id, change)
        assert saved is not None
        return PushResult(saved, created=False, warnings=listing.warnings)

    def reapply_rules(self, shop: str, limit: int = 50) -> dict[str, Any]:
        """The shop's pricing rules applied again to its pushed products (DSers applies them only at push)."""
        rules = self.products.get_rules(shop)
        done, failed = [], []
        for product in self.products.pushed(shop)[:limit]:
            try:
                self.update_store(product, rules, reason="rules_applied")
                done.append(product.product_id)
            except DomainError as error:  # one product's problem must not stop the others; reported
                failed.append({"product_id": product.product_id, "error": error.message[:300]})
        return {"repriced": done, "failed": failed}
