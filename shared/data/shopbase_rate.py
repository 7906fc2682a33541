"""ShopBase's per-shop rate limit, shared by every container (issue 11): one item per shop in the table.

  pk = "SHOP#<shop>", sk = "SBRATE"   tat = the shop's theoretical arrival time (epoch seconds, to the µs),
                                      expires_at = the table's TTL (an idle shop's item goes; none = idle)

The GCRA itself is `shared.shopbase.throttle.SharedShopThrottle`; this is its store. Every change is one
conditional UpdateItem, which answers with the TAT it wrote, or, when refused, the current one
(ReturnValuesOnConditionCheckFailure), so the limiter never reads.

The item has no `entity`: the stream consumers' filters (entity = order) drop its stream records.

The limiter's table has its own client (`rate_table`): one attempt and a retry within about two seconds
instead of the data path's five with backoff, because a failing write is not worth waiting for (the limiter
then paces on the container's own bucket), and its calls stay apart from the data path's (which the
per-push call counts of tests/tracking and tests/products read).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.data.dynamo import condition_failed
from shared.data.dynamo import table as dynamo_table
from shared.data.orders import shop_pk

SORT_KEY = "SBRATE"
RATE_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=1, read_timeout=1)
_MICROSECOND = Decimal("0.000001")


def rate_table(name: str) -> Any:
    """The table `name` on a client of its own, with the limiter's short timeouts and retries (the wiring)."""
    return dynamo_table(name, RATE_CONFIG)


def _number(value: float, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return Decimal(repr(value)).quantize(_MICROSECOND, rounding=rounding)


class ShopBaseRateStore:
    """The shops' TATs (`shared.shopbase.throttle.ShopRateStore`)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    @property
    def table(self) -> Any:
        return self._table

    @staticmethod
    def key(shop: str) -> dict[str, str]:
        return {"pk": shop_pk(shop), "sk": SORT_KEY}

    def advance(self, shop: str, interval: float, not_before: float, keep_until: int) -> tuple[bool, float | None]:
        """TAT += interval if TAT >= not_before (a busy shop): (True, new TAT), else (False, current TAT)."""
        return self._update(
            shop,
            UpdateExpression="ADD tat :interval SET expires_at = :keep",
            ConditionExpression=Attr("tat").gte(_number(not_before)),
            ExpressionAttributeValues={":interval": _number(interval, ROUND_CEILING), ":keep": int(keep_until)},
        )

    def set_if_below(self, shop: str, tat: float, below: float, keep_until: int) -> tuple[bool, float | None]:
        """TAT = tat if there is none or TAT < below (an idle shop; a 429): (True, tat), else (False, current)."""
        return self._update(
            shop,
            UpdateExpression="SET tat = :tat, expires_at = :keep",
            ConditionExpression=Attr("tat").not_exists() | Attr("tat").lt(_number(below)),
            ExpressionAttributeValues={":tat": _number(tat, ROUND_CEILING), ":keep": int(keep_until)},
        )

    def tat(self, shop: str) -> float | None:
        """The shop's TAT now (a consistent read; tests and diagnostics, never the limiter)."""
        item = self._table.get_item(Key=self.key(shop), ConsistentRead=True).get("Item")
        return float(item["tat"]) if item and "tat" in item else None

    def _update(self, shop: str, **request: Any) -> tuple[bool, float | None]:
        try:
            response = self._table.update_item(
                Key=self.key(shop), ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **request)
        except ClientError as error:
            if not condition_failed(error):
                raise  # throttled, denied, unavailable: the limiter falls back to the container's bucket
            raw = (error.response.get("Item") or {}).get("tat", {}).get("N")
            return False, float(raw) if raw is not None else None
        return True, float(response["Attributes"]["tat"])
