"""ProductsTable (issue 12): imported products and the per-shop product rules. No stream: product writes stay off
the orders stream.

Items: pk "SHOP#<shop>", sk "PRODUCT#<AliExpress product id>" (one per product per shop, which is what makes
"not imported twice" one conditional write) and sk "RULES" (pricing and monitoring rules).

Derived attributes (written by `encode_product`, never by hand):
- `list_pk` "<shop>#<status>", `list_sk` "<updated_at>#<product id>"  → ListIndex (a shop's drafts / pushed
  products newest first; INCLUDE projection of the summary fields: a page is one Query).
- `store_pk` "<shop>#<store product id>" (pushed only) → StoreIndex (store product → AliExpress product).
- `due_pk` "DUE#<shard>", `due_sk` "<next check, ISO>#<shop>#<product id>" (pushed and monitored only)
  → DueIndex: sparse and sharded, what is due for monitoring across shops without a scan or a hot partition.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from shared.data.dynamo import condition_failed, conditional_write, from_item, to_item
from shared.models.errors import BadRequest, Conflict, TooLarge
from shared.models.product import ImportedProduct, ProductRules, ProductStatus

PRODUCT_PREFIX = "PRODUCT#"
RULES_SK = "RULES"
LIST_INDEX, STORE_INDEX, DUE_INDEX = "ListIndex", "StoreIndex", "DueIndex"
SUMMARY_FIELDS = ("product_id", "status", "title", "variant_count", "cost_min", "cost_max", "store_product_id",
                  "published", "updated_at", "source_url")
MAX_ITEM_BYTES = 350_000  # DynamoDB's limit is 400 KB; keep a margin for the derived attributes
_DERIVED = ("pk", "sk", "entity", "list_pk", "list_sk", "store_pk", "due_pk", "due_sk")


def shop_pk(shop: str) -> str:
    return f"SHOP#{shop}"


def product_sk(product_id: str) -> str:
    return f"{PRODUCT_PREFIX}{product_id}"


def due_shard(shop: str, product_id: str, shards: int) -> int:
    digest = hashlib.blake2b(f"{shop}#{product_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_product(product: ImportedProduct, shards: int) -> dict[str, Any]:
    item = to_item(product.model_dump(mode="json"))
    costs = [s.cost for s in product.supplier.skus]
    item.update(pk=shop_pk(product.shop), sk=product_sk(product.product_id), entity="product",
                list_pk=f"{product.shop}#{product.status.value}",
                list_sk=f"{_iso(product.updated_at)}#{product.product_id}",
                title=product.title(), variant_count=len(product.supplier.skus),
                cost_min=str(min(costs)) if costs else None, cost_max=str(max(costs)) if costs else None)
    item = {k: v for k, v in item.items() if v is not None}
    if product.store_product_id:
        item["store_pk"] = f"{product.shop}#{product.store_product_id}"
    if product.status is ProductStatus.PUSHED and product.next_check_at is not None:
        item["due_pk"] = f"DUE#{due_shard(product.shop, product.product_id, shards)}"
        item["due_sk"] = f"{_iso(product.next_check_at)}#{product.shop}#{product.product_id}"
    size = len(json.dumps(item, default=str))
    if size > MAX_ITEM_BYTES:
        raise TooLarge(f"product {product.product_id} is too large to store ({size // 1000} KB): shorten its "
                       "description or drop images", field="description_html")
    return item


def decode_product(item: dict[str, Any]) -> ImportedProduct:
    # The summary fields that are not the model's (title, counts, cost range) are ignored by the model.
    return ImportedProduct.model_validate({k: v for k, v in from_item(item).items() if k not in _DERIVED})


class InvalidCursor(BadRequest):
    def __init__(self) -> None:
        super().__init__("cursor is not valid; start again from the first page", field="cursor")


class ProductCursors:
    """Opaque, authenticated cursors of the product list (the orders page's scheme, its own label)."""

    LABEL = b"dropship product page cursor v1"

    def __init__(self, key: Callable[[], bytes] | None) -> None:
        self._key = key

    def _mac(self, shop: str, status: str, payload: str) -> str:
        if self._key is None:
            from shared.models.errors import Unavailable

            raise Unavailable("no cursor signing key")
        key = hmac.new(self._key(), self.LABEL, hashlib.sha256).digest()
        digest = hmac.new(key, json.dumps([shop, status, payload]).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, shop: str, status: str, last_key: dict[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).rstrip(b"=").decode()
        return f"{payload}.{self._mac(shop, status, payload)}"

    def read(self, shop: str, status: str, cursor: str) -> dict[str, Any]:
        payload, _, mac = cursor.partition(".")
        if len(cursor) > 1024 or not payload or not hmac.compare_digest(mac.encode(),
                                                                        self._mac(shop, status, payload).encode()):
            raise InvalidCursor()
        try:
            key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error) as error:
            raise InvalidCursor() from error
        if (not isinstance(key, dict) or set(key) != {"pk", "sk", "list_pk", "list_sk"}
                or key["pk"] != shop_pk(shop) or key["list_pk"] != f"{shop}#{status}"):
            raise InvalidCursor()
        return key


@dataclass
class ProductPage:
    rows: list[dict[str, Any]]
    cursor: str | None


@dataclass
class Due:
    shop: str
    product_id: str


class ProductRepository:
    def __init__(self, table: Any, *, shards: int = 8, cursor_key: Callable[[], bytes] | None = None) -> None:
        self._table = table
        self.shards = shards
        self._cursors = ProductCursors(cursor_key)

    # ------------------------------------------------------------ products

    def get(self, shop: str, product_id: str) -> ImportedProduct | None:
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": product_sk(product_id)},
                                    ConsistentRead=True).get("Item")
        return decode_product(item) if item else None

    def create(self, product: ImportedProduct) -> bool:
        """Store a new import; False when this shop already has the product (nothing written)."""
        product.version = 1
        return conditional_write(self._table.put_item, Item=encode_product(product, self.shards),
                                 ConditionExpression=Attr("pk").not_exists())

    def save(self, product: ImportedProduct) -> ImportedProduct:
        """Write `product` over the version it was read at; Conflict when someone wrote in between."""
        expected = product.version
        changed = product.model_copy(update={"version": expected + 1})
        try:
            self._table.put_item(Item=encode_product(changed, self.shards),
                                 ConditionExpression=Attr("version").eq(expected))
        except ClientError as error:
            if condition_failed(error):
                raise Conflict(f"product {product.product_id} changed meanwhile; read it again",
                               code="CHANGED") from error
            raise
        return changed

    def mutate(self, shop: str, product_id: str, change: Callable[[ImportedProduct], ImportedProduct | None],
               max_attempts: int = 5) -> ImportedProduct | None:
        """Apply `change` (None: no write) with optimistic locking, retried on a lost race; None when absent."""
        for _ in range(max_attempts):
            current = self.get(shop, product_id)
            if current is None:
                return None
            changed = change(current.model_copy(deep=True))
            if changed is None:
                return current
            try:
                return self.save(changed)
            except Conflict:
                continue
        raise Conflict(f"product {product_id} kept changing; try again", code="CHANGED")

    def delete(self, shop: str, product_id: str) -> bool:
        response = self._table.delete_item(Key={"pk": shop_pk(shop), "sk": product_sk(product_id)},
                                           ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    def list_page(self, shop: str, status: ProductStatus, *, limit: int = 50,
                  cursor: str | None = None) -> ProductPage:
        """A shop's products in one status, newest first: one Query of ListIndex (summaries projected)."""
        kwargs: dict[str, Any] = {"IndexName": LIST_INDEX, "ScanIndexForward": False, "Limit": limit,
                                  "KeyConditionExpression": Key("list_pk").eq(f"{shop}#{status.value}")}
        if cursor:
            kwargs["ExclusiveStartKey"] = self._cursors.read(shop, status.value, cursor)
        response = self._table.query(**kwargs)
        rows = [{k: v for k, v in from_item(item).items() if k in SUMMARY_FIELDS}
                for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return ProductPage(rows, self._cursors.issue(shop, status.value, last) if last else None)

    def by_store_product(self, shop: str, store_product_id: str) -> str | None:
        """The AliExpress product id behind a store product (StoreIndex, keys only)."""
        response = self._table.query(IndexName=STORE_INDEX,
                                     KeyConditionExpression=Key("store_pk").eq(f"{shop}#{store_product_id}"),
                                     Limit=1)
        items = response.get("Items", [])
        return str(items[0]["sk"]).removeprefix(PRODUCT_PREFIX) if items else None

    def due(self, shard: int, now: datetime, *, limit: int = 100,
            start: dict[str, Any] | None = None) -> tuple[list[Due], dict[str, Any] | None]:
        """Products of every shop due for monitoring in one shard (DueIndex, keys only), oldest due first."""
        kwargs: dict[str, Any] = {"IndexName": DUE_INDEX, "Limit": limit,
                                  "KeyConditionExpression": Key("due_pk").eq(f"DUE#{shard}")
                                  & Key("due_sk").lt(_iso(now))}
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        found = []
        for item in response.get("Items", []):
            shop = str(item["pk"]).removeprefix("SHOP#")
            found.append(Due(shop, str(item["sk"]).removeprefix(PRODUCT_PREFIX)))
        return found, response.get("LastEvaluatedKey")

    def pushed(self, shop: str) -> list[ImportedProduct]:
        """Every pushed product of a shop (for re-applying pricing rules): ListIndex, then the items."""
        ids: list[str] = []
        cursor: str | None = None
        while True:
            page = self.list_page(shop, ProductStatus.PUSHED, limit=100, cursor=cursor)
            ids.extend(str(row["product_id"]) for row in page.rows)
            cursor = page.cursor
            if not cursor:
                break
        return [p for p in (self.get(shop, pid) for pid in ids) if p is not None]

    # ------------------------------------------------------------ rules

    def get_rules(self, shop: str) -> ProductRules:
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": RULES_SK}).get("Item")
        if not item:
            return ProductRules(shop=shop)
        return ProductRules.model_validate({k: v for k, v in from_item(item).items()
                                            if k not in ("pk", "sk", "entity")})

    def put_rules(self, rules: ProductRules) -> None:
        item = to_item(rules.model_dump(mode="json"))
        item.update(pk=shop_pk(rules.shop), sk=RULES_SK, entity="product_rules")
        self._table.put_item(Item=item)
