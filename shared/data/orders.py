"""Orders in the single table. Every write is one conditional write guarded by the order's version.

Keys (see docs/data-model.md):
  pk = "SHOP#<shop>", sk = "ORDER#<order id, zero-padded>"        one order (any other id: "ORDER#~<id>")
  TabIndex:  tab_pk = "<shop>#<status>", tab_sk = "<created_at>#<order id>"   a shop's tab, newest first
  SyncIndex: sync_pk = "SYNC#<shard>", sync_sk = "<shop>#<order id>"          sparse: orders needing a sync
  DateIndex: date_pk = "<shop>", date_sk = "<created_at>#<order id>"           every tab by date (date ranges)
  AttentionIndex: attn_pk = "<shop>", attn_sk = "<due>#<order id>"             sparse: needs attention from `due`
  Find*Index: find_pk = "<shop>", find_<kind> = "<term>#<order id>"          search (shared.data.search_terms)

No key is ever parsed back into an order id: a tab page reads its orders by the table keys the index projects,
and a sync candidate's shop ends at the first "#" (a shop handle has none), so an id of any shape round-trips.
Page cursors are opaque and authenticated (`PageCursors`): the key of the last item read, signed with HMAC for one
shop and one tab; anything else is refused before DynamoDB sees it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from shared.data.dynamo import condition_failed, from_item, to_item
from shared.data.search_terms import FIND_ATTRIBUTES, find_keys
from shared.lifecycle import SYNC_STATUSES
from shared.models.attention import attention_due
from shared.models.errors import BadRequest, Invalid, TooLarge, Unavailable
from shared.models.order import MAX_ORDER_ID_CHARS, Order, OrderStatus

TAB_INDEX = "TabIndex"
SYNC_INDEX = "SyncIndex"
DATE_INDEX = "DateIndex"
ATTENTION_INDEX = "AttentionIndex"
# DynamoDB's hard limit is 400 KB; keep a margin for attribute names and index keys.
COMPRESS_ABOVE_BYTES = 300_000
MAX_ITEM_BYTES = 390_000
DERIVED_ATTRIBUTES = ("pk", "sk", "entity", "tab_pk", "tab_sk", "sync_pk", "sync_sk", "push_pending",
                      "notify_pending", "line_items_z", "date_pk", "date_sk", "attn_pk", "attn_sk", *FIND_ATTRIBUTES)

_deserializer = TypeDeserializer()
_DATETIME = TypeAdapter(datetime)


class OrderTooLarge(TooLarge):
    """The order does not fit in one DynamoDB item even compressed; `field` names its largest part."""


class ConcurrentUpdate(RuntimeError):
    """Another writer kept changing the order; the caller may retry later."""


class InvalidCursor(BadRequest):
    """A pagination cursor we did not issue for this shop and tab (malformed, tampered, or another's)."""

    def __init__(self, message: str = "cursor is not valid; start again from the first page") -> None:
        super().__init__(message)


class CursorKeyMissing(Unavailable):
    """No key to sign or check page cursors with: pages fail closed."""


NO_CURSOR_KEY = ("order pages cannot be continued: no cursor signing key is configured (it is derived from the "
                 "app secret's state_signing_key)")


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


_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,19}")


def order_sk(order_id: str) -> str:
    """One key per id, never two ids per key. A ShopBase id (digits, no leading zero) is zero-padded so the main
    table sorts a shop's orders by id (ShopBase ids only grow); any other id is kept as it is, after them
    ("5" and "05" would pad alike)."""
    if _CANONICAL_ID.fullmatch(order_id):
        return f"ORDER#{order_id.zfill(20)}"
    return f"ORDER#~{order_id}"


def storable_order_id(order_id: str) -> bool:
    """Whether an id fits the table's keys (DynamoDB's sort keys hold 1,024 bytes); no other can exist."""
    return 0 < len(order_id) <= MAX_ORDER_ID_CHARS


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
        date_pk=order.shop,
        date_sk=f"{data['created_at']}#{order.order_id}",
        push_pending=sum(1 for p in order.packages if p.needs_push),
        notify_pending=sum(1 for p in order.packages if p.needs_notify),
    )
    if order.status in SYNC_STATUSES and not order.fulfilled_in_store:
        item["sync_pk"] = sync_pk(sync_shard(order.shop, order.order_id, sync_shards))
        item["sync_sk"] = f"{order.shop}#{order.order_id}"
    item.update(find_keys(order))
    due = attention_due(order)
    if due is not None:
        item["attn_pk"] = order.shop
        item["attn_sk"] = f"{index_time(due)}#{order.order_id}"
    size = len(json.dumps(item, default=str))
    if size > COMPRESS_ABOVE_BYTES:
        # Very large orders (hundreds of line items): keep line items compressed in one binary attribute.
        raw = json.dumps(data["line_items"], separators=(",", ":")).encode()
        item["line_items_z"] = zlib.compress(raw, 9)
        item.pop("line_items", None)
        size = size - len(json.dumps(data["line_items"])) + len(item["line_items_z"])
    if size > MAX_ITEM_BYTES:
        largest = max(data, key=lambda name: len(json.dumps(data[name], default=str)))
        raise OrderTooLarge(f"order {order.order_id} is too large to store: {size} bytes, more than one "
                            f"DynamoDB item holds (its largest part is {largest})", field=largest)
    return item


def index_time(moment: datetime) -> str:
    """A time as the indexes' sort keys hold it: the order's own JSON form of a datetime (ISO 8601, UTC, "Z")."""
    return str(_DATETIME.dump_python(moment, mode="json"))


def decode_order(item: dict[str, Any]) -> Order:
    data = from_item({k: v for k, v in item.items() if k != "line_items_z"})
    if "line_items_z" in item:
        blob = item["line_items_z"]
        data["line_items"] = json.loads(zlib.decompress(bytes(getattr(blob, "value", blob))))
    for name in DERIVED_ATTRIBUTES:
        data.pop(name, None)
    return Order.model_validate(data)


class PageCursors:
    """Opaque, authenticated page cursors: `<base64url of the last key read>.<base64url of its HMAC-SHA256>`.

    The MAC covers the shop and the tab, so a cursor is good only for the listing that issued it; `key` gives the
    signing key when a cursor is issued or read (CursorKeyMissing, a 503, if there is none: pages fail closed).
    """

    LABEL = b"dropship order page cursor v1"
    MAX_CHARS = 1024
    _SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")

    def __init__(self, key: Callable[[], bytes] | None) -> None:
        self._key = key

    def issue(self, shop: str, tab: str, last_key: dict[str, Any]) -> str:
        payload = _unpadded(json.dumps(from_item(last_key), sort_keys=True).encode())
        return f"{payload}.{self._mac(shop, tab, payload)}"

    def read(self, shop: str, tab: str, cursor: str,
             valid: Callable[[dict[str, str]], bool] | None = None) -> dict[str, Any]:
        """The start key a cursor stands for; InvalidCursor for anything this shop's tab did not issue.

        `tab` names the listing (a tab, or a search or filter view: shared.data.order_search); `valid` checks the
        decoded key of a listing other than a tab (its table's and index's key attributes, this shop's)."""
        if len(cursor) > self.MAX_CHARS or not self._SHAPE.fullmatch(cursor):
            raise InvalidCursor()
        payload, _, mac = cursor.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(shop, tab, payload).encode()):
            raise InvalidCursor()
        try:
            key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error) as error:
            raise InvalidCursor() from error
        # Signed by us, so well-formed; checked anyway: a cursor only ever continues this shop's tab.
        if valid is not None:
            if not (isinstance(key, dict) and all(isinstance(v, str) for v in key.values()) and valid(key)):
                raise InvalidCursor()
            return key
        expected = {"pk", "sk"} if tab == "all" else {"pk", "sk", "tab_pk", "tab_sk"}
        if (not isinstance(key, dict) or set(key) != expected or not all(isinstance(v, str) for v in key.values())
                or key["pk"] != shop_pk(shop) or not key["sk"].startswith("ORDER#")
                or (tab != "all" and key["tab_pk"] != f"{shop}#{tab}")):
            raise InvalidCursor()
        return key

    def _mac(self, shop: str, tab: str, payload: str) -> str:
        message = json.dumps([shop, tab, payload]).encode()
        return _unpadded(hmac.new(self._signing_key(), message, hashlib.sha256).digest())

    def _signing_key(self) -> bytes:
        try:
            key = self._key() if self._key is not None else b""
        except (GetParameterError, TransformParameterError, LookupError, ValueError) as error:  # no secret or key
            raise CursorKeyMissing(NO_CURSOR_KEY) from error
        if not key:
            raise CursorKeyMissing(NO_CURSOR_KEY)
        return key


def derive_cursor_key(state_signing_key: str) -> bytes:
    """The page cursors' key, derived from the app secret's state key with its own label (so a cursor's MAC is
    never an OAuth state's)."""
    return hmac.new(state_signing_key.encode(), PageCursors.LABEL, hashlib.sha256).digest()


class OrderRepository:
    def __init__(self, table: Any, sync_shards: int = 16, cursor_key: Callable[[], bytes] | None = None) -> None:
        self._table = table
        self._sync_shards = sync_shards
        self._cursors = PageCursors(cursor_key)

    @property
    def table(self) -> Any:
        return self._table

    @property
    def cursors(self) -> PageCursors:
        return self._cursors

    def get(self, shop: str, order_id: str, *, consistent: bool = True) -> Order | None:
        if not storable_order_id(order_id):
            return None  # no key could hold it, so no such order exists
        response = self._table.get_item(Key={"pk": shop_pk(shop), "sk": order_sk(order_id)},
                                        ConsistentRead=consistent)
        item = response.get("Item")
        return decode_order(item) if item else None

    def mutate(self, shop: str, order_id: str, change: Callable[[Order | None], Order | None], *,
               assume_absent: bool = False, known: Order | None = None, max_attempts: int = 8) -> Mutation:
        """Apply `change` to the stored order with optimistic locking.

        `change` gets the current order (None if absent) and returns the new one, or None for "no write".
        With `assume_absent` the first attempt skips the read and writes with attribute_not_exists:
        a new order costs one conditional write. With `known` (the order as the caller just read it) the first
        attempt skips the read too: a stale copy only loses the version check. On a lost race, DynamoDB returns
        the current item with the failure (ReturnValuesOnConditionCheckFailure), so a retry needs no extra read.
        """
        if not storable_order_id(order_id):
            if change(None) is None:
                return Mutation(order=None, written=False)
            raise Invalid(f"order id must be 1 to {MAX_ORDER_ID_CHARS} characters", field="order_id")
        current = known if known is not None else None if assume_absent else self.get(shop, order_id)
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
        tab = "all" if status is None else status.value
        if cursor:
            kwargs["ExclusiveStartKey"] = self._cursors.read(shop, tab, cursor)
        response = self._table.query(**kwargs)
        items = response.get("Items", [])
        if status is None:
            orders = [decode_order(item) for item in items]
        else:
            # The index projects keys only, the table's among them: the page reads its orders by those (one
            # BatchGet), never by an id parsed out of tab_sk.
            keys = [{"pk": item["pk"], "sk": item["sk"]} for item in items]
            orders = self.batch_get(keys) if keys else []
        last = response.get("LastEvaluatedKey")
        return OrderPage(orders=orders, cursor=self._cursors.issue(shop, tab, last) if last else None)

    def batch_get(self, keys: list[dict[str, Any]]) -> list[Order]:
        """The orders at these table keys (at most 100), in the keys' order; missing ones are left out."""
        found: dict[tuple[str, str], Order] = {}
        # The resource's client (de)serialises DynamoDB types itself.
        client = self._table.meta.client
        pending: dict[str, Any] = {self._table.name: {"Keys": keys}}
        while pending:
            response = client.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(self._table.name, []):
                found[(str(item["pk"]), str(item["sk"]))] = decode_order(item)
            pending = response.get("UnprocessedKeys") or {}
        return [found[k] for k in ((str(key["pk"]), str(key["sk"])) for key in keys) if k in found]

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
            shop, _, order_id = str(item["sync_sk"]).partition("#")  # a shop handle has no "#"; an id may
            pairs.append((shop, order_id))
        return pairs, response.get("LastEvaluatedKey")

    def iter_sync_candidates(self, shard: int, page_size: int = 500) -> Iterator[tuple[str, str]]:
        cursor: dict[str, Any] | None = None
        while True:
            pairs, cursor = self.sync_candidates(shard, limit=page_size, cursor=cursor)
            yield from pairs
            if not cursor:
                return


def _unpadded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _deserialize(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in raw.items()}

