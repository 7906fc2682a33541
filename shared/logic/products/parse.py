"""The tolerant reader of `aliexpress.ds.product.get` results (quirks in the product-import notes §2).

- lists come wrapped (`{"ae_item_sku_info_d_t_o": [...]}`), bare (one object for a one-element list) or plain;
- `sku_attr` can be missing: then the SKU's `id` (which holds the same `propId:valueId#name` form), else it is
  rebuilt from the SKU's properties, else "" for a product with a single SKU;
- numbers come as strings or numbers; image URLs `;`-joined; the base `currency_code` (often CNY) differs from
  the SKUs' (the target currency), and the SKUs' is the one prices are in;
- the seller's custom value name (`property_value_definition_name`) is shown, the ids kept;
- "Ships From" is one more SKU property (it multiplies variants);
- an offline product, or one without a SKU, is unavailable.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from shared.aliexpress.models import unwrap_list
from shared.models.product import OptionValue, SupplierOption, SupplierProduct, SupplierSku

AVAILABLE_STATUSES = frozenset({"", "onselling"})
MAX_DESCRIPTION_CHARS = 100_000  # the item stays far below DynamoDB's 400 KB


class ProductUnavailable(ValueError):
    """AliExpress has the id but does not sell the product (offline, no SKU)."""


class UnreadableProduct(ValueError):
    """The result is not a product we can read (a field of the wrong type); the message names it."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _decimal(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(_text(value))
    except InvalidOperation:
        raise UnreadableProduct(f"{what} is not a number: {_text(value)[:20]!r}") from None
    if not amount.is_finite() or amount < 0:
        raise UnreadableProduct(f"{what} is not a positive amount")
    return amount


def _int(value: Any) -> int:
    try:
        return max(0, int(Decimal(_text(value) or "0")))
    except InvalidOperation:
        return 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _images(media: dict[str, Any]) -> list[str]:
    raw = media.get("image_urls")
    urls = raw.split(";") if isinstance(raw, str) else [str(u) for u in unwrap_list(raw)]
    return list(dict.fromkeys(u.strip() for u in urls if u and u.strip()))


def _properties(sku: dict[str, Any]) -> list[dict[str, Any]]:
    holder = sku.get("ae_sku_property_dtos", sku.get("sku_property_list"))
    return [p for p in unwrap_list(holder) if isinstance(p, dict)]


def _sku_attr(sku: dict[str, Any], props: list[dict[str, Any]]) -> str:
    attr = _text(sku.get("sku_attr"))
    if attr:
        return attr
    same_form = _text(sku.get("id"))
    if ":" in same_form:
        return same_form
    parts = []
    for p in props:
        pair = f"{_text(p.get('sku_property_id'))}:{_text(p.get('property_value_id'))}"
        custom = _text(p.get("property_value_definition_name"))
        parts.append(f"{pair}#{custom}" if custom else pair)
    return ";".join(parts)


def parse_product(result: dict[str, Any], *, ship_to: str) -> SupplierProduct:
    """A SupplierProduct from ds.product.get's `result`; ProductUnavailable / UnreadableProduct otherwise."""
    base = _dict(result.get("ae_item_base_info_dto"))
    product_id = _text(base.get("product_id"))
    if not base or not product_id:
        raise ProductUnavailable("AliExpress returned no product")
    status = _text(base.get("product_status_type"))
    if status.lower() not in AVAILABLE_STATUSES:
        raise ProductUnavailable(f"AliExpress product {product_id} is {status}, not on sale")
    raw_skus = [s for s in unwrap_list(result.get("ae_item_sku_info_dtos")) if isinstance(s, dict)]
    if not raw_skus:
        raise ProductUnavailable(f"AliExpress product {product_id} has no SKU on sale")

    options: dict[str, SupplierOption] = {}
    skus: list[SupplierSku] = []
    currencies: list[str] = []
    for n, raw in enumerate(raw_skus):
        props = _properties(raw)
        values: dict[str, str] = {}
        image = None
        for p in props:
            prop_id, value_id = _text(p.get("sku_property_id")), _text(p.get("property_value_id"))
            if not prop_id or not value_id:
                continue
            option = options.setdefault(prop_id, SupplierOption(
                property_id=prop_id, name=_text(p.get("sku_property_name")) or f"Option {len(options) + 1}"))
            values[prop_id] = value_id
            if not any(v.value_id == value_id for v in option.values):
                standard = _text(p.get("sku_property_value")) or None
                shown = _text(p.get("property_value_definition_name")) or standard or value_id
                option.values.append(OptionValue(value_id=value_id, name=shown, standard_name=standard,
                                                 image=_text(p.get("sku_image")) or None))
            image = image or _text(p.get("sku_image")) or None
        sku_id = _text(raw.get("sku_id")) or _text(raw.get("id")) or str(n)
        currency = _text(raw.get("currency_code")).upper()
        if currency:
            currencies.append(currency)
        cost_field = next((f for f in ("offer_sale_price", "offer_bulk_sale_price", "sku_price")
                           if _text(raw.get(f))), None)
        if cost_field is None:
            raise UnreadableProduct(f"SKU {sku_id} of product {product_id} has no price")
        list_price = _text(raw.get("sku_price"))
        stock_field = next((f for f in ("ipm_sku_stock", "sku_available_stock") if _text(raw.get(f))), None)
        skus.append(SupplierSku(
            sku_id=sku_id, sku_attr=_sku_attr(raw, props), cost=_decimal(raw[cost_field], f"SKU {sku_id} price"),
            list_price=_decimal(list_price, f"SKU {sku_id} sku_price") if list_price else None,
            currency=currency, stock=_int(raw.get(stock_field)) if stock_field else 0, values=values, image=image))
    if len(skus) == 1 and not skus[0].values and ":" not in skus[0].sku_attr:
        skus[0].sku_attr = ""  # a single-SKU product orders with an empty sku_attr
    if len(set(currencies)) > 1:
        raise UnreadableProduct(f"the SKUs of product {product_id} come in several currencies: "
                                f"{', '.join(sorted(set(currencies)))}")
    currency = currencies[0] if currencies else _text(base.get("currency_code")).upper() or "USD"
    for sku in skus:
        sku.currency = sku.currency or currency
    _unique_value_names(list(options.values()))
    store = _dict(result.get("ae_store_info"))
    return SupplierProduct(
        product_id=product_id, title=_text(base.get("subject"))[:255] or f"AliExpress product {product_id}",
        description_html=_text(base.get("detail"))[:MAX_DESCRIPTION_CHARS],
        base_currency=_text(base.get("currency_code")).upper() or None, currency=currency, status=status or None,
        images=_images(_dict(result.get("ae_multimedia_info_dto"))), options=list(options.values()), skus=skus,
        store_id=_text(store.get("store_id")) or None, store_name=_text(store.get("store_name")) or None,
        ship_to=ship_to.upper())


def _unique_value_names(options: list[SupplierOption]) -> None:
    """Two value ids with the same custom name would be one store value: tell them apart."""
    for option in options:
        seen: dict[str, int] = {}
        for value in option.values:
            key = value.name.lower()
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                value.name = f"{value.name} ({seen[key]})"
