"""The store listing a draft becomes: the supplier's data with the seller's edits, priced by the shop's rules,
and checked against ShopBase's limits (before any call) and the push safety checks."""

from __future__ import annotations

from decimal import Decimal

from shared.logic.products.pricing import price_for, to_cents, to_store_currency
from shared.logic.products.sanitize import clean_description
from shared.models.product import (
    ImportedProduct,
    Listing,
    ListingOption,
    ListingVariant,
    PricingRules,
    SupplierOption,
)

# ShopBase's limits: 500 variants and 500 images per product (confirmed); 3 options (assumed, Shopify's).
MAX_VARIANTS = 500
MAX_IMAGES = 500
MAX_OPTIONS = 3
LOW_STOCK = 5
LOW_PRICE = Decimal("1")


def value_key(property_id: str, value_id: str) -> str:
    return f"{property_id}:{value_id}"


def kept_options(product: ImportedProduct) -> list[SupplierOption]:
    edits = product.edits
    return [o for o in product.supplier.options if o.property_id not in edits.dropped_options]


def option_name(product: ImportedProduct, option: SupplierOption) -> str:
    return product.edits.option_names.get(option.property_id, option.name)


def value_name(product: ImportedProduct, property_id: str, value_id: str) -> str:
    renamed = product.edits.value_names.get(value_key(property_id, value_id))
    if renamed:
        return renamed
    option = next((o for o in product.supplier.options if o.property_id == property_id), None)
    value = next((v for v in option.values if v.value_id == value_id), None) if option else None
    return value.name if value else value_id


def build_listing(product: ImportedProduct, rules: PricingRules) -> Listing:
    supplier, edits = product.supplier, product.edits
    dropped = set(edits.dropped_values)
    options = kept_options(product)
    problems: list[str] = []
    warnings: list[str] = []
    variants: list[ListingVariant] = []
    used: dict[str, list[str]] = {o.property_id: [] for o in options}
    shipping = product.shipping_cost or Decimal("0")
    for sku in supplier.skus:
        if any(sku.values.get(pid) != keep for pid, keep in edits.dropped_options.items() if pid in sku.values):
            continue
        if any(value_key(pid, vid) in dropped for pid, vid in sku.values.items()):
            continue
        if any(o.property_id not in sku.values for o in options):
            warnings.append(f"SKU {sku.sku_id} has no value for every option and is left out")
            continue
        cost = to_store_currency(sku.cost, sku.currency, rules)
        list_price = to_store_currency(sku.list_price, sku.currency, rules) if sku.list_price else None
        price, compare_at = price_for(cost, rules, shipping=shipping, list_price=list_price)
        if sku.sku_id in edits.prices:
            price = to_cents(edits.prices[sku.sku_id])
            compare_at = compare_at if compare_at is not None and compare_at > price else None
        for o in options:
            if sku.values[o.property_id] not in used[o.property_id]:
                used[o.property_id].append(sku.values[o.property_id])
        variants.append(ListingVariant(
            sku_id=sku.sku_id, sku_attr=sku.sku_attr,
            options=[value_name(product, o.property_id, sku.values[o.property_id]) for o in options],
            cost=cost, shipping=shipping if rules.include_shipping else Decimal("0"), price=price,
            compare_at=compare_at, stock=sku.stock, image=sku.image))
    listing_options = [ListingOption(name=option_name(product, o),
                                     values=[value_name(product, o.property_id, v.value_id) for v in o.values
                                             if v.value_id in used[o.property_id]])
                       for o in options]
    images = list(edits.images) if edits.images is not None else list(supplier.images)
    description = edits.description_html if edits.description_html is not None else \
        clean_description(supplier.description_html)
    listing = Listing(title=product.title().strip(), body_html=description, options=listing_options,
                      variants=variants, images=images, currency=rules.store_currency)
    problems.extend(limit_problems(product, listing))
    problems.extend(safety_problems(listing))
    warnings.extend(safety_warnings(listing, rules))
    listing.problems, listing.warnings = problems, warnings
    return listing


def limit_problems(product: ImportedProduct, listing: Listing) -> list[str]:
    """ShopBase's limits, each with what to drop."""
    found = []
    axes = " x ".join(f"{o.name} {len(o.values)}" for o in listing.options)
    ships_from = next((option_name(product, o) for o in kept_options(product) if o.ships_from), None)
    hint = (f'drop the option "{ships_from}" keeping one warehouse, or remove values' if ships_from
            else "remove values of an option")
    if len(listing.variants) > MAX_VARIANTS:
        found.append(f"ShopBase allows {MAX_VARIANTS} variants per product and this one has "
                     f"{len(listing.variants)} ({axes}): {hint}.")
    if len(listing.options) > MAX_OPTIONS:
        names = ", ".join(o.name for o in listing.options)
        found.append(f"ShopBase allows {MAX_OPTIONS} options per product and this one has {len(listing.options)} "
                     f"({names}): drop {len(listing.options) - MAX_OPTIONS}"
                     + (f' (e.g. "{ships_from}", keeping one warehouse)' if ships_from else "") + ".")
    if len(listing.images) > MAX_IMAGES:
        found.append(f"ShopBase allows {MAX_IMAGES} images per product and this one has {len(listing.images)}: "
                     f"choose at most {MAX_IMAGES}.")
    return found


def safety_problems(listing: Listing) -> list[str]:
    """What push refuses (like DSers): nothing to sell, a price below cost, a zero price, no stock."""
    found = []
    if not listing.title:
        found.append("The product needs a title.")
    if not listing.variants:
        found.append("No variant is left: restore some values.")
        return found
    for v in listing.variants:
        label = " / ".join(v.options) or "the product"
        if v.price <= 0:
            found.append(f"{label}: the price is zero.")
        elif v.price < v.cost + v.shipping:
            found.append(f"{label}: the price {v.price} is below its cost {v.cost + v.shipping}.")
    if all(v.stock <= 0 for v in listing.variants):
        found.append("No variant is in stock on AliExpress.")
    return found


def safety_warnings(listing: Listing, rules: PricingRules) -> list[str]:
    found = []
    for v in listing.variants:
        label = " / ".join(v.options) or "the product"
        if v.price > 0 and v.price >= v.cost + v.shipping and v.margin < rules.thin_margin:
            found.append(f"{label}: thin margin ({(v.margin * 100).quantize(Decimal('0.1'))}% at {v.price} for "
                         f"a cost of {v.cost + v.shipping}).")
        if 0 < v.stock < LOW_STOCK:
            found.append(f"{label}: only {v.stock} in stock on AliExpress.")
        if 0 < v.price < LOW_PRICE:
            found.append(f"{label}: priced under {LOW_PRICE} {listing.currency}.")
    return found
