"""The product catalog: seeded products and their SKUs (price, stock, where they ship), and product.get."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.aliexpress.protocol import BusinessFailure, ControlError, missing_parameter
from simulators.aliexpress.render import Shape

DEFAULT_LOGISTICS_SERVICES = ("CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD", "AE_STANDARD_SHIPPING")


@dataclass
class SimSku:
    sku_id: str
    sku_attr: str
    price: Decimal
    stock: int
    sku_desc: str
    list_price: Decimal | None = None  # `sku_price`: AliExpress's "origin" price, often inflated (product import)
    images: dict[str, str] | None = None  # property value id -> sku_image


@dataclass
class SimProduct:
    product_id: str
    store_id: str
    store_name: str
    subject: str
    skus: list[SimSku]
    ship_to: frozenset[str] | None
    logistics_services: tuple[str, ...]
    currency: str = "USD"
    status: str = "onSelling"
    image_urls: tuple[str, ...] = ()
    # Product import (issue 12): what product.get also shows, and the quirks of real responses it can show.
    detail: str = ""
    property_names: dict[str, str] | None = None  # property id -> name ("14": "Color", "200007763": "Ships From")
    base_currency: str = "CNY"
    omit_sku_attr: bool = False  # Example A: SKUs carry only `id` (no `sku_attr`)
    freight: dict[str, str] | None = None  # logistics service -> shipping fee (decimal string) for freight.query

    def ships_to(self, country: str) -> bool:
        return self.ship_to is None or country.upper() in self.ship_to


def new_product(
    product_id: str | int,
    *,
    store_id: str | int,
    store_name: str,
    subject: str,
    skus: Iterable[Mapping[str, Any]] | None,
    ship_to: Iterable[str] | None,
    logistics_services: Iterable[str] | None,
    currency: str,
    image_urls: Iterable[str] | None,
    **extra: Any,
) -> SimProduct:
    """A product from SimState.seed_product's arguments (the defaults are there), with generated SKU ids, SKU
    descriptions and image URLs where none are given."""
    pid = str(product_id)
    sku_specs = list(skus) if skus is not None else [{"sku_attr": "", "price": "9.99", "stock": 1000}]
    sim_skus = []
    for n, spec in enumerate(sku_specs):
        attr = str(spec.get("sku_attr", ""))
        sim_skus.append(
            SimSku(
                sku_id=str(spec.get("sku_id") or f"{12000000000000000 + int(pid[-6:] or 0) * 100 + n}"),
                sku_attr=attr,
                price=Decimal(str(spec.get("price", "9.99"))),
                stock=int(spec.get("stock", 1000)),
                sku_desc=str(spec.get("sku_desc", attr.split("#", 1)[-1] if "#" in attr else "")),
                list_price=Decimal(str(spec["list_price"])) if spec.get("list_price") is not None else None,
                images=dict(spec["images"]) if spec.get("images") else None,
            )
        )
    return SimProduct(
        product_id=pid,
        store_id=str(store_id),
        store_name=store_name,
        subject=subject,
        skus=sim_skus,
        ship_to=frozenset(c.upper() for c in ship_to) if ship_to is not None else None,
        logistics_services=tuple(logistics_services or DEFAULT_LOGISTICS_SERVICES),
        currency=currency,
        image_urls=tuple(image_urls or (f"https://ae01.alicdn.com/kf/{pid}.jpg",)),
        detail=str(extra.get("detail") or ""),
        property_names={str(k): str(v) for k, v in (extra.get("property_names") or {}).items()} or None,
        base_currency=str(extra.get("base_currency") or "CNY"),
        omit_sku_attr=bool(extra.get("omit_sku_attr", False)),
        freight={str(k): str(v) for k, v in (extra.get("freight") or {}).items()} or None,
    )


def product_dict(p: SimProduct) -> dict[str, Any]:
    """A product as the control API shows it."""
    return {
        "product_id": p.product_id,
        "store_id": p.store_id,
        "store_name": p.store_name,
        "subject": p.subject,
        "skus": [{"sku_id": s.sku_id, "sku_attr": s.sku_attr, "price": str(s.price), "stock": s.stock} for s in p.skus],
        "ship_to": sorted(p.ship_to) if p.ship_to is not None else None,
        "logistics_services": list(p.logistics_services),
    }


class Catalog:
    """Products by id. Not locked: SimState holds its lock around every call."""

    def __init__(self) -> None:
        self._products: dict[str, SimProduct] = {}

    def add(self, product: SimProduct) -> None:
        """Add, or replace the product with the same id."""
        self._products[product.product_id] = product

    def get(self, product_id: str) -> SimProduct | None:
        return self._products.get(product_id)

    def all(self) -> list[SimProduct]:
        return list(self._products.values())

    def adjust_stock(self, product_id: str, sku_id: str, delta: int) -> None:
        """Hold (negative) or release (positive) stock of a SKU, if the catalog still has it."""
        product = self._products.get(product_id)
        sku = next((s for s in product.skus if s.sku_id == sku_id), None) if product else None
        if sku is not None:
            sku.stock += delta

    def api_product_get(self, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        """aliexpress.ds.product.get: the product as seen from `ship_to_country` (rendered by product_views)."""
        from simulators.aliexpress.product_views import product_result

        pid = params.get("product_id", "").strip()
        country = params.get("ship_to_country", "").strip().upper()
        if not pid or not country:
            raise missing_parameter("product_id" if not pid else "ship_to_country")
        p = self._products.get(pid)
        if p is None:
            raise BusinessFailure(None, {"rsp_code": shape.num(605), "rsp_msg": "ITEM_ID_NOT_FOUND"})
        if not p.ships_to(country):
            raise BusinessFailure(None, {"rsp_code": shape.num(602), "rsp_msg": "ITEM_NOT_SELL_TO_SHIP_TO_COUNTRY"})
        return product_result(p, country, params, shape)

    def api_freight_query(self, params: Mapping[str, str], shape: Shape) -> dict[str, Any]:
        """aliexpress.ds.freight.query (rendered by product_views)."""
        from simulators.aliexpress.product_views import freight_result

        return freight_result(self._products, params, shape)

    # ------------------------------------------------------------ catalog changes (product import, issue 12)

    def _product(self, product_id: str | int) -> SimProduct:
        p = self._products.get(str(product_id))
        if p is None:
            raise ControlError(f"no product {product_id}")
        return p

    def _sku(self, product_id: str | int, sku_id: str | int) -> SimSku:
        p = self._product(product_id)
        sku = next((s for s in p.skus if s.sku_id == str(sku_id)), None)
        if sku is None:
            raise ControlError(f"product {product_id} has no SKU {sku_id}")
        return sku

    def change_price(self, product_id: str | int, sku_id: str | int, price: str) -> None:
        self._sku(product_id, sku_id).price = Decimal(str(price))

    def set_stock(self, product_id: str | int, sku_id: str | int, stock: int) -> None:
        self._sku(product_id, sku_id).stock = int(stock)

    def remove_sku(self, product_id: str | int, sku_id: str | int) -> None:
        p = self._product(product_id)
        sku = self._sku(product_id, sku_id)
        p.skus.remove(sku)

    def remove_product(self, product_id: str | int) -> None:
        """The supplier took the product down: product.get answers 605 from now on."""
        self._products.pop(str(self._product(product_id).product_id))
