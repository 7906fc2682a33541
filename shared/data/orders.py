"""Orders in the single table. Every write is one conditional write guarded by the order's version.

Keys (see docs/data-model.md):
  pk = "SHOP#<shop>", sk = "ORDER#<order id, zero-padded>"        one order
  TabIndex:  tab_pk = "<shop>#<status>", tab_sk = "<created_at>#<order id>"   a shop's tab, newest first
  SyncIndex: sync_pk = "SYNC#<shard>", sync_sk = "<shop>#<order id>"          sparse: orders needing a sync
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from shared.data.dynamo import condition_failed, from_item, to_item
from shared.lifecycle import SYNC_STATUSES
from shared.models.errors import BadRequest
from shared.models.order import Order, OrderStatus

TAB_INDEX = "TabIndex"
SYNC_INDEX = "SyncIndex"
# DynamoDB's hard limit is 400 KB; keep a margin for attribute names and index keys.
COMPRESS_ABOVE_BYTES = 300_000
MAX_ITEM_BYTES = 390_000
DERIVED_ATTRIBUTES = ("pk", "sk", "entity", "tab_pk", "tab_sk", "sync_pk", "sync_sk", "push_pending",
                      "notify_pending", "line_items_z")

_deserializer = TypeDeserializer()


class OrderTooLarge(ValueError):
    """The order does not fit in one DynamoDB item even compressed."""


class ConcurrentUpdate(RuntimeError):
    """Another writer kept changing the order; the caller may retry later."""


class InvalidCursor(BadRequest):
    """A pagination cursor that is malformed or belongs to another shop."""


@dataclass(frozen=True)
class Mutation:
    order: Order | None  # the order as stored after the call
    written: bool  # False when the change function asked for no write


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    cursor: str | None


def shop_pk(shop: str) -> str:
    return f"SHOP#{shop}"


def order_sk(order_id: str) -> str:
    # Zero-padded so the main table sorts a shop's orders by id (ShopBase ids only grow).
    return f"ORDER#{order_id.zfill(20)}"


def sync_shard(shop: str, order_id: str, shards: int) -> int:
    digest = hashlib.blake2b(f"{shop}#{order_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % shards


def sync_pk(shard: int) -> str:
    return f"SYNC#{shard:03d}"


def encode_order(order: Order, sync_shards: int) -> dict[str, Any]:
    """The stored item: the model plus derived keys. Raises OrderTooLarge past DynamoDB's limit."""
    data = order.model_dump(mode="json")
    item = to_item(data)
    item.update(
        pk=shop_pk(order.shop),
        sk=order_sk(order.order_id),
        entity="order",
        tab_pk=f"{order.shop}#{order.status.value}",
        tab_sk=f"{data['created_at']}#{order.order_id}",
        push_pending=sum(1 for p in order.packages if p.needs_push),
        notify_pending=sum(1 for p in order.packages if p.needs_notify),
    )
    if order.status in SYNC_STATUSES and not order.fulfilled_in_store:
        item["sync_pk"] = sync_pk(sync_shard(order.shop, order.order_id, sync_shards))
        item["sync_sk"] = f"{order.shop}#{order.order_id}"
    size = len(json.dumps(item, default=str))
    if size > COMPRESS_ABOVE_BYTES:
        # Very large orders (hundreds of line items): keep line items compressed in one binary attribute.
        raw = json.dumps(data["line_items"], separators=(",", ":")).encode()
        item["line_items_z"] = zlib.compress(raw, 9)
        item.pop("line_items", None)
        size = size - len(json.dumps(data["line_items"])) + len(item["line_items_z"])
    if size > MAX_ITEM_BYTES:
        raise OrderTooLarge(f"order {order.order_id} needs {size} bytes, more than one DynamoDB item holds")
    return item


def decode_order(item: dict[str, Any]) -> Order:
    data = from_item({k: v for k, v in item.items() if k != "line_items_z"})
    if "line_items_z" in item:
        blob = item["line_items_z"]
        data["line_items"] = json.loads(zlib.decompress(bytes(getattr(blob, "value", blob))))
    for name in DERIVED_ATTRIBUTES:
        data.pop(name, None)
    return Order.model_validate(data)


class OrderRepository:
    def __init__(self, table: Any, sync_shards: int = 16) -> None:
        self._table = table
        self._sync_shards = sync_shards

    def get(self, shop: str, order_id: str, *, consistent: bool = True) -> Order | None:
        response = self._table.get_item(Key={"pk": shop_pk(shop), "sk": order_sk(order_id)},
                                        ConsistentRead=consistent)
        item = response.get("Item")
        return decode_order(item) if item else None

    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None], *,
               assume_absent: bool = False, max_attempts: int = 8) -> Mutation:
        """Apply `change` to the stored order with optimistic locking.

        `change` gets the current order (None if absent) and returns the new one, or None for "no write".
        With `assume_absent` the first attempt skips the read and writes with attribute_not_exists:
        a new order costs one conditional write. On a lost race, DynamoDB returns the current item
        with the failure (ReturnValuesOnConditionCheckFailure), so a retry needs no extra read.
        """
        current = None if assume_absent else self.get(shop, order_id)
        for _ in range(max_attempts):
            changed = change(current.model_copy(deep=True) if current else None)
            if changed is None:
                return Mutation(order=current, written=False)
            if changed.shop != shop or changed.order_id != order_id:
                raise ValueError("a change may not move an order to another key")
            changed.version = (current.version if current else 0) + 1
            condition = Attr("pk").not_exists() if current is None else Attr("version").eq(current.version)
            try:
                self._table.put_item(Item=encode_order(changed, self._sync_shards), ConditionExpression=condition,
                                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
                return Mutation(order=changed, written=True)
            except ClientError as error:
                if not condition_failed(error):
                    raise
                old = error.response.get("Item")
                current = decode_order(_deserialize(old)) if old else self.get(shop, order_id)
        raise ConcurrentUpdate(f"order {order_id} kept changing under {max_attempts} attempts")

    def list_orders(self, shop: str, status: OrderStatus | None = None, *, limit: int = 50,
                    cursor: str | None = None) -> OrderPage:
        """One page of a shop's orders, newest first; `status` None is the All tab."""
        if status is None:
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": Key("pk").eq(shop_pk(shop)) & Key("sk").begins_with("ORDER#")}
        else:
            kwargs = {"IndexName": TAB_INDEX,
                      "KeyConditionExpression": Key("tab_pk").eq(f"{shop}#{status.value}")}
        kwargs.update(ScanIndexForward=False, Limit=limit)
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, shop)
        response = self._table.query(**kwargs)
        items = response.get("Items", [])
        if status is None:
            orders = [decode_order(item) for item in items]
        else:
            # The index projects keys only; the page reads its orders from the table (one BatchGet).
            ids = [str(item["tab_sk"]).rpartition("#")[2] for item in items]
            orders = self._batch_get(shop, ids) if ids else []
        last = response.get("LastEvaluatedKey")
        return OrderPage(orders=orders, cursor=_encode_cursor(last) if last else None)

    def _batch_get(self, shop: str, order_ids: list[str]) -> list[Order]:
        keys = [{"pk": shop_pk(shop), "sk": order_sk(oid)} for oid in order_ids]
        found: dict[str, Order] = {}
        # The resource's client (de)serialises DynamoDB types itself.
        client = self._table.meta.client
        pending: dict[str, Any] = {self._table.name: {"Keys": keys}}
        while pending:
            response = client.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(self._table.name, []):
                order = decode_order(item)
                found[order.order_id] = order
            pending = response.get("UnprocessedKeys") or {}
        return [found[oid] for oid in order_ids if oid in found]

    def count_by_status(self, shop: str) -> dict[OrderStatus, int]:
        """Orders per tab: one COUNT query per status on TabIndex (reads keys only)."""
        counts: dict[OrderStatus, int] = {}
        for status in OrderStatus:
            total = 0
            kwargs: dict[str, Any] = {"IndexName": TAB_INDEX, "Select": "COUNT",
                                      "KeyConditionExpression": Key("tab_pk").eq(f"{shop}#{status.value}")}
            while True:
                response = self._table.query(**kwargs)
                total += int(response.get("Count", 0))
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            counts[status] = total
        return counts

    def sync_candidates(self, shard: int, *, limit: int = 500,
                        cursor: dict[str, Any] | None = None) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        """One page of (shop, order id) needing an AliExpress sync, from one shard of the sparse index."""
        kwargs: dict[str, Any] = {"IndexName": SYNC_INDEX, "Limit": limit,
                                  "KeyConditionExpression": Key("sync_pk").eq(sync_pk(shard))}
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        response = self._table.query(**kwargs)
        pairs = []
        for item in response.get("Items", []):
            shop, _, order_id = str(item["sync_sk"]).rpartition("#")
            pairs.append((shop, order_id))
        return pairs, response.get("LastEvaluatedKey")

    def iter_sync_candidates(self, shard: int, page_size: int = 500) -> Iterator[tuple[str, str]]:
        cursor: dict[str, Any] | None = None
        while True:
            pairs, cursor = self.sync_candidates(shard, limit=page_size, cursor=cursor)
            yield from pairs
            if not cursor:
                return


def _deserialize(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in raw.items()}


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(from_item(key), sort_keys=True).encode()).decode()


def _decode_cursor(cursor: str, shop: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor("cursor is not valid") from error
    # A cursor is only ever honoured for the shop it was issued to.
    if not isinstance(key, dict) or key.get("pk") != shop_pk(shop) or not all(
            isinstance(v, str) for v in key.values()):
        raise InvalidCursor("cursor is not valid")
    return key
