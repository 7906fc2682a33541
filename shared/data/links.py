"""Store variant → AliExpress product links: pk "SHOP#<shop>", sk "LINK#<variant id>"."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from shared.data.dynamo import from_item, to_item
from shared.data.orders import shop_pk
from shared.models.shop import Link

LINK_PREFIX = "LINK#"
BATCH_GET_LIMIT = 100  # DynamoDB BatchGetItem keys per request


def link_sk(variant_id: str) -> str:
    return f"{LINK_PREFIX}{variant_id}"


def _decode(item: dict[str, Any]) -> Link:
    return Link.model_validate({k: v for k, v in from_item(item).items() if k not in ("pk", "sk", "entity")})


class LinkRepository:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, shop: str, variant_id: str) -> Link | None:
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": link_sk(variant_id)}).get("Item")
        return _decode(item) if item else None

    def put(self, link: Link) -> None:
        item = to_item(link.model_dump(mode="json"))
        item.update(pk=shop_pk(link.shop), sk=link_sk(link.variant_id), entity="link")
        self._table.put_item(Item=item)

    def put_many(self, links: list[Link]) -> None:
        """Several links in BatchWriteItem calls of 25 (a pushed product's variants; re-putting is harmless)."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for link in links:
                item = to_item(link.model_dump(mode="json"))
                item.update(pk=shop_pk(link.shop), sk=link_sk(link.variant_id), entity="link")
                batch.put_item(Item=item)

    def delete(self, shop: str, variant_id: str) -> bool:
        """True when a link was there."""
        response = self._table.delete_item(Key={"pk": shop_pk(shop), "sk": link_sk(variant_id)},
                                           ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    def list_links(self, shop: str) -> list[Link]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(shop_pk(shop)) & Key("sk").begins_with(LINK_PREFIX)}
        links: list[Link] = []
        while True:
            response = self._table.query(**kwargs)
            links.extend(_decode(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return links
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def batch_get(self, shop: str, variant_ids: list[str]) -> dict[str, Link]:
        """The links of these variants (all line items of an order), absent ones left out."""
        wanted = list(dict.fromkeys(variant_ids))
        found: dict[str, Link] = {}
        client = self._table.meta.client
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [{"pk": shop_pk(shop), "sk": link_sk(v)} for v in wanted[start:start + BATCH_GET_LIMIT]]
            pending: dict[str, Any] = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
            while pending:
                response = client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table.name, []):
                    link = _decode(item)
                    found[link.variant_id] = link
                pending = response.get("UnprocessedKeys") or {}
        return found
