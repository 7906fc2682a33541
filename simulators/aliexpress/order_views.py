"""How an order looks from outside at a moment `now`: the control snapshot, order.get's result and
tracking.get's result (documented shapes). A package's tracking number stays hidden until it is assigned."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulators.aliexpress.config import DAY
from simulators.aliexpress.orders import SimOrder, SimPackage
from simulators.aliexpress.render import Shape, money


def snapshot(o: SimOrder, now: float) -> dict[str, Any]:
    """The order as control calls return it (ids as strings)."""
    return {
        "order_id": str(o.order_id),
        "out_order_id": o.out_order_id,
        "user_id": o.user_id,
        "store_id": o.store_id,
        "order_status": o.order_status,
        "logistics_status": o.logistics_status,
        "created_at": o.created_at,
        "paid_at": o.paid_at,
        "finished_at": o.finished_at,
        "address": o.address,
        "lines": [
            {
                "product_id": ln.product_id,
                "sku_id": ln.sku_id,
                "sku_attr": ln.sku_attr,
                "quantity": ln.quantity,
                "unshipped": o.unshipped[i],
                "end_reason": ln.end_reason,
            }
            for i, ln in enumerate(o.lines)
        ],
        "packages": [
            {
                "mail_no": pkg.mail_no if now >= pkg.mail_no_at else "",
                "shipped_at": pkg.shipped_at,
                "items": [
                    {"sku_id": o.lines[i].sku_id, "product_id": o.lines[i].product_id, "quantity": q}
                    for i, q in pkg.items
                ],
            }
            for pkg in o.packages
        ],
    }


def order_result(o: SimOrder, now: float, shape: Shape) -> dict[str, Any]:
    """aliexpress.trade.ds.order.get's result."""
    children = []
    for ln in o.lines:
        child: dict[str, Any] = {
            "product_id": shape.num_id(ln.product_id),
            "sku_id": ln.sku_id,
            "product_name": ln.title,
            "product_count": shape.num(ln.quantity),
            "product_price": money(ln.unit_price),
            "actual_fee": money(ln.unit_price * ln.quantity),
        }
        if ln.end_reason:
            child["end_reason"] = ln.end_reason
            child["end_reason_desc"] = ln.end_reason_desc
        children.append(child)
    result: dict[str, Any] = {
        "gmt_create": _fmt_time(o.created_at),
        "order_status": o.order_status,
        "logistics_status": o.logistics_status,
        "order_amount": money(o.amount),
        "user_order_amount": money(o.amount),
        "store_info": {
            "store_id": shape.num_id(o.store_id),
            "store_name": o.store_name,
            "store_url": f"https://www.aliexpress.com/store/{o.store_id}",
        },
        "child_order_list": shape.lst(children, f"{shape.prefix}child_order_info"),
    }
    if o.paid_at is None and o.order_status == "PLACE_ORDER_SUCCESS" and o.plan.pay_timeout is not None:
        left = max(0, int(o.created_at + o.plan.pay_timeout - now))
        result["pay_timeout_second"] = shape.num(left)
    if o.paid_at is not None:
        result["order_paidtime_string"] = _fmt_time(o.paid_at)
    logistics = [
        {"logistics_no": pkg.mail_no, "logistics_service": pkg.logistics_service}
        for pkg in o.packages
        if now >= pkg.mail_no_at
    ]
    if logistics:
        result["logistics_info_list"] = shape.lst(logistics, f"{shape.prefix}order_logistics_info")
    return result


def tracking_result(o: SimOrder, now: float, shape: Shape) -> dict[str, Any]:
    """aliexpress.ds.order.tracking.get's result: one tracking line per package, or "not found"."""
    if not o.packages:
        return {"ret": False, "msg": "TRACKING DATA NOT FOUND", "code": "1001"}
    lines = [_package(o, pkg, now, shape) for pkg in o.packages]
    return {
        "ret": True,
        "msg": "",
        "code": "",
        "data": {"tracking_detail_line_list": shape.lst(lines, "tracking_detail")},
    }


def _package(o: SimOrder, pkg: SimPackage, now: float, shape: Shape) -> dict[str, Any]:
    has_number = now >= pkg.mail_no_at
    nodes = [(pkg.shipped_at, "Shipment info received", "The seller has shipped your package")]
    if has_number:
        nodes.append((pkg.mail_no_at, "Tracking number assigned", "The carrier accepted the package"))
    for offset, name, desc in (
        (1 * DAY, "Departed from sorting center", "Your package left the sorting center"),
        (4 * DAY, "Arrived at destination country", "Your package arrived at local Facility."),
    ):
        if now >= pkg.shipped_at + offset:
            nodes.append((pkg.shipped_at + offset, name, desc))
    if o.finished_at is not None and o.logistics_status == "BUYER_ACCEPT_GOODS":
        nodes.append((o.finished_at, "Delivered", "Your package was delivered"))
    nodes.sort(key=lambda n: n[0], reverse=True)  # newest first
    mail_no = pkg.mail_no if has_number else ""
    return {
        "mail_no": mail_no,
        "carrier_name": pkg.carrier_name,
        "cp_name": pkg.cp_name,
        "cp_website_url": f"https://global.cainiao.com/newDetail.htm?mailNoList={mail_no}" if mail_no else "",
        "eta_time_stamps": shape.num(int((pkg.shipped_at + 12 * DAY) * 1000)),
        "detail_node_list": shape.lst(
            [
                {"time_stamp": shape.num(int(t * 1000)), "tracking_detail_desc": d, "tracking_name": n}
                for t, n, d in nodes
            ],
            "detail_node",
        ),
        "package_item_list": shape.lst(
            [
                {
                    "item_id": shape.num_id(o.lines[i].product_id),
                    "sku_id": o.lines[i].sku_id,
                    "sku_desc": o.lines[i].sku_desc,
                    "quantity": shape.num(q),
                    "item_title": o.lines[i].title,
                }
                for i, q in pkg.items
            ],
            "package_item",
        ),
    }


def _fmt_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
