"""Items of the orders table as the stream shows them: what an image (new or old) says about an order.

Images come as the Powertools record gives them (`DynamoDBRecord.dynamodb.new_image`): DynamoDB types already
turned into Python values, numbers as Decimal. Only what the stream consumers read is decoded: the order's key
and its packages (not the whole order: a large order keeps its line items compressed in a binary attribute).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.data.dynamo import from_item
from shared.models.order import Package

ORDER_ENTITY = "order"


def order_key(image: Mapping[str, Any]) -> tuple[str, str] | None:
    """(shop, order id) of an order image; None for other items (shop settings, ledger records).
    ValueError for an order image without a text shop and order id (a record that cannot be processed)."""
    if image.get("entity") != ORDER_ENTITY:
        return None
    shop, order_id = image.get("shop"), image.get("order_id")
    if not isinstance(shop, str) or not isinstance(order_id, str):
        raise ValueError("order image without shop/order_id")
    return shop, order_id


def image_packages(image: Mapping[str, Any]) -> list[Package]:
    """The packages an image holds ([] for an absent image, e.g. the old image of an INSERT)."""
    return [Package.model_validate(from_item(dict(raw))) for raw in image.get("packages") or []]
