"""The product catalog: seeded products and their SKUs (price, stock, where they ship), and product.get."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.aliexpress.protocol import BusinessFailure, missing_parameter
from simulators.aliexpress.render import Shape

DEFAULT_LOGISTICS_SERVICES = ("CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD", "AE_STANDARD_SHIPPING")


@dataclass
class SimSku:
    sku_id: str
    sku_attr: str
    price: Decimal
    stock: int
    sku_desc: str


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
        """aliexpress.ds.product.get: the product as seen from `ship_to_country`."""
        pid = params.get("product_id", "").strip()
        country = params.get("ship_to_country", "").strip().upper()
        if not pid or not country:
            raise missing_parameter("product_id" if not pid else "ship_to_country")
        p = self._products.get(pid)
        if p is None:
            raise BusinessFailure(None, {"rsp_code": shape.num(605), "rsp_msg": "ITEM_ID_NOT_FOUND"})
        if not p.ships_to(country):
            raise BusinessFailure(None, {"rsp_code": shape.num(602), "rsp_msg": "ITEM_NOT_SELL_TO_SHIP_TO_COUNTRY"})
        skus = [
            {
                "sku_id": s.sku_id,
                "sku_attr": s.sku_attr,
                "sku_price": str(s.price),
                "offer_sale_price": str(s.price),
                "sku_available_stock": shape.num(s.stock),
                "currency_code": p.currency,
            }
            for s in p.skus
        ]
        return {
            "ae_item_base_info_dto": {
                "product_id": shape.num_id(p.product_id),
                "subject": p.subject,
                "product_status_type": p.status,
                "currency_code": p.currency,
            },
            "ae_item_sku_info_dtos": shape.lst(skus, "ae_item_sku_info_d_t_o"),
            "ae_multimedia_info_dto": {"image_urls": ";".join(p.image_urls)},
            "ae_store_info": {
                "store_id": shape.num_id(p.store_id),
                "store_name": p.store_name,
                "store_country_code": "CN",
            },
            "logistics_info_dto": {"ship_to_country": country, "delivery_time": shape.num(7)},
        }
