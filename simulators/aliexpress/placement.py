"""aliexpress.ds.order.create: request validation (address, items, SKUs, stock, delivery method), one order
per store, the stock hold, and idempotency on the buyer's out_order_id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from simulators.aliexpress.catalog import Catalog, SimProduct, SimSku
from simulators.aliexpress.config import SimConfig
from simulators.aliexpress.orders import OrderBook, OrderPlan, SimLine, SimOrder
from simulators.aliexpress.protocol import BusinessFailure, json_param
from simulators.aliexpress.render import Shape
from simulators.aliexpress.tokens import SimAccount

ORDER_PARAM = "param_place_order_request4_open_api_d_t_o"
ADDRESS_FAIL = "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"
BUILD_FAIL = "ERROR_WHEN_BUILD_FOR_PLACE_ORDER"
_REQUIRED_ADDRESS = (
    ("address", "Please enter a street address"),
    ("city", "Please enter a city"),
    ("province", "Please enter a state/province/region"),
    ("country", "Please select a country/region"),
    ("full_name", "Please enter a contact name"),
)


class Placement:
    """Places orders into `book`, holding stock in `catalog`. Not locked: SimState holds its lock around every
    call."""

    def __init__(self, book: OrderBook, catalog: Catalog, now: Callable[[], float]) -> None:
        self._book = book
        self._catalog = catalog
        self._now = now
        self._recent: dict[tuple[str, str], tuple[float, list[int]]] = {}  # (user_id, out_order_id)

    def place(self, acct: SimAccount, params: Mapping[str, str], config: SimConfig) -> tuple[list[int], int]:
        """The order ids for this request, and how many of them are new (0 for an idempotent repeat)."""
        req = json_param(params, ORDER_PARAM, required=True)
        extend = json_param(params, "ds_extend_request", required=False)
        out_order_id = str(req.get("out_order_id") or "").strip()
        now = self._now()
        key = (acct.user_id, out_order_id)
        if out_order_id and key in self._recent:
            created, ids = self._recent[key]
            if now - created < config.idempotency_window:
                if config.repeat_mode == "repeated_error":
                    raise order_failure("REPEATED_ORDER_ERROR", "repeated order")
                return ids, 0
        raw_address = req.get("logistics_address")
        address: dict[str, Any] = raw_address if isinstance(raw_address, dict) else {}
        _validate_address(address)
        lines_by_store = self._order_lines(req.get("product_items"), str(address.get("country", "")))
        plan = OrderPlan.from_config(config)
        pay_now = config.auto_pay or _try_to_pay(extend)
        new_ids: list[int] = []
        for (store_id, store_name), lines in lines_by_store.items():
            for ln in lines:
                self._catalog.adjust_stock(ln.product_id, ln.sku_id, -ln.quantity)
            order = SimOrder(
                order_id=self._book.new_order_id(),
                out_order_id=out_order_id,
                user_id=acct.user_id,
                store_id=store_id,
                store_name=store_name,
                lines=lines,
                address=dict(address),
                created_at=now,
                plan=plan,
                packages_left=max(1, plan.packages),
                unshipped=[ln.quantity for ln in lines],
            )
            if pay_now:
                order.paid_at = now
            self._book.add(order)
            new_ids.append(order.order_id)
        if out_order_id:
            self._recent[key] = (now, new_ids)
        return new_ids, len(new_ids)

    def _order_lines(self, items: Any, country: str) -> dict[tuple[str, str], list[SimLine]]:
        """The request's items as order lines, grouped by (store_id, store_name); BusinessFailure if any is bad."""
        if not isinstance(items, list) or not items:
            raise order_failure(BUILD_FAIL, "product_items is empty")
        wanted: Counter[tuple[str, str]] = Counter()
        by_store: dict[tuple[str, str], list[SimLine]] = {}
        for item in items:
            if not isinstance(item, dict):
                raise order_failure(BUILD_FAIL, "bad product item")
            pid = str(item.get("product_id") or "").strip()
            product = self._catalog.get(pid)
            if product is None:
                raise order_failure(BUILD_FAIL, f"product {pid} does not exist")
            if not product.ships_to(country):
                raise order_failure("A001_ORDER_CANNOT_BE_PLACED", f"product {pid} cannot ship to {country}")
            sku = _match_sku(product, str(item.get("sku_attr") or ""))
            try:
                count = int(str(item.get("product_count")).strip())
            except ValueError:
                count = 0
            if count < 1:
                raise order_failure(BUILD_FAIL, "product_count must be >= 1")
            service = str(item.get("logistics_service_name") or "").strip()
            if service and service not in product.logistics_services:
                raise order_failure("DELIVERY_METHOD_NOT_EXIST", f"delivery method {service} does not exist")
            wanted[(pid, sku.sku_id)] += count
            if wanted[(pid, sku.sku_id)] > sku.stock:
                raise order_failure("INVENTORY_HOLD_ERROR", "inventory hold error: not enough stock")
            by_store.setdefault((product.store_id, product.store_name), []).append(
                SimLine(
                    product_id=pid,
                    sku_id=sku.sku_id,
                    sku_attr=sku.sku_attr,
                    sku_desc=sku.sku_desc,
                    title=product.subject,
                    quantity=count,
                    unit_price=sku.price,
                    logistics_service=service or product.logistics_services[0],
                )
            )
        return by_store


def order_failure(code: str, msg: str) -> BusinessFailure:
    return BusinessFailure({"error_msg": msg, "error_code": code, "is_success": False})


def order_list(ids: list[int], shape: Shape) -> dict[str, Any]:
    """order.create's result: the new (or, for a repeat, the earlier) order ids."""
    return {"is_success": True, "order_list": shape.lst([shape.num(i) for i in ids], "number")}


def _validate_address(address: Mapping[str, Any]) -> None:
    for name, msg in _REQUIRED_ADDRESS:
        if not str(address.get(name) or "").strip():
            raise order_failure(ADDRESS_FAIL, msg)
    if len(str(address["country"]).strip()) != 2:
        raise order_failure(ADDRESS_FAIL, "Please select a country/region")


def _match_sku(product: SimProduct, sku_attr: str) -> SimSku:
    if not sku_attr.strip():
        if len(product.skus) == 1:
            return product.skus[0]
        raise order_failure(BUILD_FAIL, f"product {product.product_id} needs a sku_attr")
    key = _attr_key(sku_attr)
    for sku in product.skus:
        if _attr_key(sku.sku_attr) == key:
            return sku
    raise order_failure(BUILD_FAIL, f"sku {sku_attr} does not exist")


def _attr_key(sku_attr: str) -> tuple[str, ...]:
    # "14:193#Black;5:100014064" and "5:100014064;14:193" name the same SKU: compare property ids only.
    parts = (p.split("#", 1)[0].strip() for p in sku_attr.split(";"))
    return tuple(sorted(p for p in parts if p))


def _try_to_pay(extend: Mapping[str, Any]) -> bool:
    payment = extend.get("payment")
    return isinstance(payment, dict) and str(payment.get("try_to_pay", "")).lower() == "true"
