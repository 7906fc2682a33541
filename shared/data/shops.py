"""Per-shop settings in the table: item pk="SHOP#<shop>", sk="SETTINGS" = ShopSettings.

(The shop's secrets live in Secrets Manager: shared.data.secrets.)
"""

from __future__ import annotations

from typing import Any

from shared.data.dynamo import from_item, to_item
from shared.data.orders import shop_pk
from shared.models.shop import ShopSettings

SETTINGS_SK = "SETTINGS"


class ShopRepository:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get_settings(self, shop: str) -> ShopSettings | None:
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": SETTINGS_SK}).get("Item")
        if not item:
            return None
        data = from_item(item)
        return ShopSettings.model_validate(data)

    def put_settings(self, settings: ShopSettings) -> None:
        item = to_item(settings.model_dump(mode="json"))
        item.update(pk=shop_pk(settings.shop), sk=SETTINGS_SK, entity="shop")
        self._table.put_item(Item=item)

    def update_settings(self, shop: str, **changes: Any) -> ShopSettings:
        """Set some fields of a shop's settings in one write (creating the item if needed)."""
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": value for i, value in enumerate(changes.values())}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(changes)))
        response = self._table.update_item(
            Key={"pk": shop_pk(shop), "sk": SETTINGS_SK},
            UpdateExpression=f"SET {sets}, #shop = :shop, #entity = :entity",
            ExpressionAttributeNames={**names, "#shop": "shop", "#entity": "entity"},
            ExpressionAttributeValues={**values, ":shop": shop, ":entity": "shop"},
            ReturnValues="ALL_NEW",
        )
        return ShopSettings.model_validate(from_item(response["Attributes"]))

