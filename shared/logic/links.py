"""Linking a store variant to an AliExpress SKU, checked against aliexpress.ds.product.get first."""

from __future__ import annotations

from typing import Protocol

from shared.aliexpress.errors import AliExpressError, BusinessError
from shared.aliexpress.models import Product, ProductSku
from shared.logic.accounts import (
    RECONNECT_ATTENTION,
    TRANSIENT_ERRORS,
    AliExpressAccounts,
    AliExpressDisconnected,
    AliExpressFailed,
)
from shared.models.errors import Conflict, Invalid, Unavailable
from shared.models.order import utcnow
from shared.models.shop import Link

# ds.product.get rsp_codes that mean "this product cannot be linked", with what the seller reads.
PRODUCT_REFUSALS = {
    "605": "AliExpress product {product_id} does not exist (ITEM_ID_NOT_FOUND): check the product id.",
    "602": "AliExpress product {product_id} is not sold to {country}: pick another product or ship-to country.",
}


# Which request field the seller must change, per refusal code (the product id otherwise).
REFUSED_FIELD = {"602": "ship_to_country", "SKU_NOT_FOUND": "sku_attr"}


class LinkWriter(Protocol):
    def put(self, link: Link) -> None: ...


class LinkRefused(Invalid):
    """The link cannot be made; the message is for the seller, `code` is AliExpress's (or SKU_NOT_FOUND)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, field=REFUSED_FIELD.get(code, "product_id"), code=code)
        self.code = code


def _attr_key(sku_attr: str) -> tuple[str, ...]:
    # "14:193#Black;5:100014064" and "5:100014064;14:193" name the same SKU: compare property ids only.
    parts = (p.split("#", 1)[0].strip() for p in sku_attr.split(";"))
    return tuple(sorted(p for p in parts if p))


def find_sku(product: Product, sku_attr: str) -> ProductSku | None:
    if not sku_attr.strip():
        # An empty sku_attr only names a SKU when the product has exactly one.
        return product.skus[0] if len(product.skus) == 1 else None
    key = _attr_key(sku_attr)
    return next((sku for sku in product.skus if _attr_key(sku.sku_attr) == key), None)


def link_variant(accounts: AliExpressAccounts, repo: LinkWriter, shop: str, variant_id: str, *,
                 product_id: str, sku_attr: str, shipping_service: str | None = None,
                 ship_to_country: str = "US") -> Link:
    """Check the SKU exists on AliExpress, then store the link.

    LinkRefused (Invalid) for anything the seller must fix; Conflict (code ALIEXPRESS_DISCONNECTED) when the
    shop must reconnect AliExpress; Unavailable when AliExpress did not answer; AliExpressFailed otherwise.
    """
    product = _product(accounts, shop, product_id, ship_to_country)
    sku = find_sku(product, sku_attr)
    if sku is None:
        known = ", ".join(repr(s.sku_attr) for s in product.skus[:20]) or "none"
        what = "needs a sku_attr (it has several SKUs)" if not sku_attr.strip() else f"has no SKU {sku_attr!r}"
        raise LinkRefused(f"AliExpress product {product_id} {what}; its SKUs: {known}.", "SKU_NOT_FOUND")
    link = Link(shop=shop, variant_id=variant_id, product_id=str(product.product_id), sku_attr=sku.sku_attr,
                sku_id=sku.sku_id, shipping_service=shipping_service or None, store_id=product.store_id,
                product_title=product.subject or None, updated_at=utcnow())
    repo.put(link)
    return link


def _product(accounts: AliExpressAccounts, shop: str, product_id: str, ship_to_country: str) -> Product:
    try:
        return accounts.call(shop, lambda client, token: client.get_product(token, product_id, ship_to_country))
    except AliExpressDisconnected as error:
        raise Conflict(RECONNECT_ATTENTION, code="ALIEXPRESS_DISCONNECTED") from error
    except TRANSIENT_ERRORS as error:
        raise Unavailable("AliExpress did not answer; try again in a moment", code=error.code) from error
    except BusinessError as error:
        template = PRODUCT_REFUSALS.get(error.code)
        if template is None:
            raise LinkRefused(f"AliExpress could not check product {product_id} ({error.code}: {error.message}).",
                              error.code) from error
        raise LinkRefused(template.format(product_id=product_id, country=ship_to_country), error.code) from error
    except AliExpressError as error:
        raise AliExpressFailed(f"AliExpress refused the product check ({error.code})", error.code) from error
