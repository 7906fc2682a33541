"""One store order over two suppliers: each AliExpress order's items come from its child orders + the links."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.aliexpress.models import TradeOrder
from shared.logic.order_sync import child_line_ids
from shared.models.order import LineItem, Order, OrderStatus
from shared.models.shop import Link


def test_child_orders_map_to_store_line_items_through_links() -> None:
    order = Order(shop="s", order_id="1", status=OrderStatus.AWAITING_PAYMENT,
                  created_at=datetime(2026, 11, 1, tzinfo=UTC),
                  line_items=[LineItem(id="a", variant_id="v1", quantity=1),
                              LineItem(id="b", variant_id="v2", quantity=2),
                              LineItem(id="c", variant_id="v3", quantity=1)])
    links = {"v1": Link(shop="s", variant_id="v1", product_id="100", sku_id="1"),
             "v2": Link(shop="s", variant_id="v2", product_id="200"),
             "v3": Link(shop="s", variant_id="v3", product_id="100", sku_id="2")}
    trade = TradeOrder.model_validate({"order_status": "WAIT_SELLER_SEND_GOODS", "child_order_list": {
        "aeop_child_order_info": [{"product_id": 100, "sku_id": "2", "product_count": 1},
                                  {"product_id": "200", "product_count": 2}]}})
    assert child_line_ids(order, trade, lambda: links) == ["b", "c"]
    other = TradeOrder.model_validate({"order_status": "WAIT_SELLER_SEND_GOODS", "child_order_list": [
        {"product_id": "100", "sku_id": "1", "product_count": 1}]})
    assert child_line_ids(order, other, lambda: links) == ["a"]
