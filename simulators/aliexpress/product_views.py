"""How `aliexpress.ds.product.get` and `aliexpress.ds.freight.query` answer (product import, issue 12).

The shapes follow the real responses quoted in the product-import notes: lists wrapped in `ae_*_d_t_o` objects
(or bare objects with `bare_single`), numbers as strings with `numbers_as_strings`, `;`-joined image URLs, a base
`currency_code` (CNY) different from the SKUs' target currency, `sku_price` (the "origin" price) beside
`offer_sale_price` (what the buyer pays), SKU properties with the seller's custom name
(`property_value_definition_name`), "Ships From" as one more SKU property, and SKUs without `sku_attr`
(only `id`) for products seeded with `omit_sku_attr`. Freight fees are decimals in `shipping_fee_cent`
(despite the name), and a destination the product does not ship to answers `code 505`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.aliexpress.catalog import SimProduct, SimSku
from simulators.aliexpress.protocol import json_param, missing_parameter
from simulators.aliexpress.render import Shape

SHIPS_FROM_PROPERTY = "200007763"
DEFAULT_PROPERTY_NAMES = {"14": "Color", "5": "Size", "200000828": "Length", SHIPS_FROM_PROPERTY: "Ships From",
                          "200000639": "Plug Type"}
# Fixed exchange rates of the simulated platform, per 1 USD.
RATES = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "BRL": Decimal("5.00"),
         "CAD": Decimal("1.36"), "AUD": Decimal("1.52")}
CENT = Decimal("0.01")


def convert(amount: Decimal, source: str, target: str) -> Decimal:
    if source == target or source not in RATES or target not in RATES:
        return amount
    return (amount / RATES[source] * RATES[target]).quantize(CENT, rounding=ROUND_HALF_UP)


def _properties(p: SimProduct, sku: SimSku, shape: Shape) -> list[dict[str, Any]]:
    names = {**DEFAULT_PROPERTY_NAMES, **(p.property_names or {})}
    props = []
    for part in (x for x in sku.sku_attr.split(";") if x.strip()):
        pair, _, custom = part.partition("#")
        prop_id, _, value_id = pair.partition(":")
        prop: dict[str, Any] = {
            "sku_property_id": shape.num_id(prop_id.strip()),
            "sku_property_name": names.get(prop_id.strip(), f"Property {prop_id.strip()}"),
            "property_value_id": shape.num_id(value_id.strip()),
            "sku_property_value": custom or f"Value {value_id.strip()}",
        }
        if custom:
            prop["property_value_definition_name"] = custom
        image = (sku.images or {}).get(value_id.strip())
        if image:
            prop["sku_image"] = image
        props.append(prop)
    return props


def product_result(p: SimProduct, country: str, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
    target = (params.get("target_currency") or p.currency).strip().upper() or p.currency
    currency = target if target in RATES and p.currency in RATES else p.currency
    skus = []
    for s in p.skus:
        price = convert(s.price, p.currency, currency)
        listed = convert(s.list_price if s.list_price is not None else s.price, p.currency, currency)
        sku: dict[str, Any] = {
            "sku_id": s.sku_id,
            "id": s.sku_attr or s.sku_id,
            "offer_sale_price": str(price),
            "offer_bulk_sale_price": str(price),
            "sku_price": str(listed),
            "sku_available_stock": shape.num(max(0, s.stock)),
            "ipm_sku_stock": shape.num(max(0, s.stock)),
            "sku_stock": s.stock > 0,
            "currency_code": currency,
        }
        if not p.omit_sku_attr:
            sku["sku_attr"] = s.sku_attr
        props = _properties(p, s, shape)
        if props:
            sku["ae_sku_property_dtos"] = shape.lst(props, "ae_sku_property_d_t_o")
        skus.append(sku)
    return {
        "ae_item_base_info_dto": {
            "product_id": shape.num_id(p.product_id),
            "subject": p.subject,
            "detail": p.detail,
            "product_status_type": p.status,
            "currency_code": p.base_currency,
            "category_id": shape.num(200000001),
            "gmt_modified": "2026-11-30 03:06:52",
            "sales_count": "481",
        },
        "ae_item_sku_info_dtos": shape.lst(skus, "ae_item_sku_info_d_t_o"),
        "ae_multimedia_info_dto": {"image_urls": ";".join(p.image_urls)},
        "ae_store_info": {
            "store_id": shape.num_id(p.store_id),
            "store_name": p.store_name,
            "store_country_code": "CN",
        },
        "logistics_info_dto": {"ship_to_country": country, "delivery_time": shape.num(7)},
        "package_info_dto": {"gross_weight": "0.160", "package_length": 15, "package_width": 14,
                             "package_height": 8},
    }


def freight_result(products: Mapping[str, SimProduct], params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
    req = json_param(params, "queryDeliveryReq", required=True)
    for name in ("productId", "shipToCountry", "quantity"):
        if not str(req.get(name) or "").strip():
            raise missing_parameter(f"queryDeliveryReq.{name}")
    p = products.get(str(req["productId"]).strip())
    country = str(req["shipToCountry"]).strip().upper()
    if p is None or not p.ships_to(country):
        return {"msg": "DELIVERY_NOT_AVAILABLE_TO_YOUR_ADDRESS", "code": shape.num(505), "success": False}
    quantity = max(1, int(str(req["quantity"]).strip() or "1"))
    currency = str(req.get("currency") or "USD").strip().upper()
    options = []
    for n, service in enumerate(p.logistics_services):
        fee = Decimal((p.freight or {}).get(service, "0" if n == 0 else "3.50")) * quantity
        fee = convert(fee, "USD", currency)
        options.append({
            "code": service,
            "company": service.replace("_", " ").title(),
            "ship_from_country": "CN",
            "min_delivery_days": shape.num(7 + 3 * n),
            "max_delivery_days": shape.num(15 + 5 * n),
            "guaranteed_delivery_days": shape.num(30),
            "free_shipping": fee == 0,
            "mayHavePFS": False,
            "shipping_fee_cent": str(fee.quantize(CENT)),
            "shipping_fee_format": f"{currency} ${fee.quantize(CENT)}",
            "tracking": True,
        })
    return {"success": True, "code": shape.num(200),
            "delivery_options": shape.lst(options, "delivery_option_d_t_o")}
