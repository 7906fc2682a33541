"""The fleet-wide AliExpress call budget: one counter item per wall-clock second.

  pk = "RATE#<name>#<epoch second>", sk = "RATE"   used = permits handed out for that second

A permit is taken with one atomic `ADD used :n` conditioned on `used <= :cap - :n`, so however many
workers race, the sum handed out for a second never exceeds the cap. Each second is its own partition
key (no hot partition across seconds); items expire through the table's TTL.

The same counter, per minute and per shop, limits "sync now" of single orders (`WindowLimit`):
  pk = "RATE#sync-now#<shop>#<epoch minute>", sk = "RATE"
and one conditional write per shop spaces whole-shop syncs (`IntervalGate`):
  pk = "SHOP#<shop>", sk = "SYNCNOW"   last_at = when the last one passed
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from shared.data.dynamo import condition_failed
from shared.data.orders import shop_pk

# Kept a few minutes for inspection (and the tests), then DynamoDB's TTL removes them.
KEEP_SECONDS = 300


class RateBudgetStore:
    """Permits per time window (`window_seconds`, 1 for the AliExpress budget; 60 for a per-minute limit)."""

    def __init__(self, table: Any, name: str = "aliexpress", window_seconds: int = 1) -> None:
        self._table = table
        self.name = name
        self.window_seconds = window_seconds

    def key(self, second: int) -> dict[str, str]:
        return {"pk": f"RATE#{self.name}#{second}", "sk": "RATE"}

    def take(self, second: int, wanted: int, cap: int, not_before: int = 0) -> range:
        """Indices (0-based, within the window) of the permits taken: up to `wanted`, empty when full.

        `not_before`: the first index still in the future (the caller paces index i at second + i/cap).
        When the counter lags behind it (nobody called for a while), the lagging indices are skipped, not
        handed out: stale permits used at once would bunch calls. Usually one write; a contended or lagging
        counter costs one or two more (a failed write returns the current count, so no extra read).
        """
        expires = (second + 1) * self.window_seconds + KEEP_SECONDS
        wanted = min(wanted, cap - not_before)
        for _ in range(6):
            if wanted <= 0:
                return range(0)
            condition = Attr("used").between(not_before, cap - wanted)
            if not_before == 0:
                condition = Attr("used").not_exists() | condition
            try:
                response = self._table.update_item(
                    Key=self.key(second),
                    UpdateExpression="ADD used :n SET expires_at = if_not_exists(expires_at, :exp)",
                    ConditionExpression=condition,
                    ExpressionAttributeValues={":n": wanted, ":exp": expires},
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                used_now = int(response["Attributes"]["used"])
                return range(used_now - wanted, used_now)
            except ClientError as error:
                if not condition_failed(error):
                    raise
                raw = (error.response.get("Item") or {}).get("used", {}).get("N")
            used = int(raw) if raw is not None else None
            if used is not None and used >= not_before:
                wanted = min(wanted, cap - used)  # full (→ empty) or only the remainder left
                continue
            # The counter lags behind the clock: move it forward past the stale indices, conditionally.
            try:
                self._table.update_item(
                    Key=self.key(second),
                    UpdateExpression="SET used = :target, expires_at = if_not_exists(expires_at, :exp)",
                    ConditionExpression=Attr("used").not_exists() if used is None else Attr("used").eq(used),
                    ExpressionAttributeValues={":target": not_before + wanted, ":exp": expires})
            except ClientError as error:
                if not condition_failed(error):
                    raise
                continue  # someone else moved it: try again with the normal path
            return range(not_before, not_before + wanted)
        return range(0)

    def used(self, second: int) -> int:
        item = self._table.get_item(Key=self.key(second), ConsistentRead=True).get("Item")
        return int(item["used"]) if item else 0


class WindowLimit:
    """At most `cap` passes per key in each window of `window_seconds` (sync now: orders per shop a minute)."""

    def __init__(self, table: Any, name: str, window_seconds: int = 60) -> None:
        self._table = table
        self.name = name
        self.window_seconds = window_seconds

    def pass_once(self, key: str, now: float, cap: int) -> float:
        """0 when the caller may go (counted); else the seconds until the next window opens."""
        window = int(now // self.window_seconds)
        counter = RateBudgetStore(self._table, name=f"{self.name}#{key}", window_seconds=self.window_seconds)
        if len(counter.take(window, 1, cap)):
            return 0.0
        return (window + 1) * self.window_seconds - now


class IntervalGate:
    """At most one pass per `min_interval` per shop: one conditional write on `last_at` (sk = `name`)."""

    def __init__(self, table: Any, name: str = "SYNCNOW") -> None:
        self._table = table
        self.name = name

    def pass_once(self, shop: str, now: float, min_interval: float) -> float:
        """0 when the caller may go (recorded); else the seconds until it may."""
        try:
            self._table.update_item(
                Key={"pk": shop_pk(shop), "sk": self.name},
                UpdateExpression="SET last_at = :now, expires_at = :exp",
                ConditionExpression=Attr("last_at").not_exists() | Attr("last_at").lte(
                    Decimal(str(round(now - min_interval, 3)))),
                ExpressionAttributeValues={":now": Decimal(str(round(now, 3))),
                                           ":exp": int(now + min_interval + KEEP_SECONDS)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if not condition_failed(error):
                raise
            last = (error.response.get("Item") or {}).get("last_at", {}).get("N")
            return max(1.0, float(last) + min_interval - now) if last is not None else min_interval
        return 0.0
