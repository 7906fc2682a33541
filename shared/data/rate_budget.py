"""The fleet-wide AliExpress call budget: one item holding a schedule of call slots, split into lanes.

  pk = "RATE#<name>#<grid>", sk = "RATE"   l<j> = the next free slot of lane j   expires_at = TTL

The budget (`shared/logic/rate_budget.py`) spaces calls on one grid: slot k is at k / rate seconds (epoch
time), `rate` a little below what AliExpress allows. The grid is dealt out in `lanes` interleaved lanes:
lane j holds the slots k = q * lanes + j, and `l<j>` is the first lane slot q not yet handed out. A worker
takes a run of one lane's slots (one slot, or a batch a lane's stride apart, which a worker making one call at
a time can use in turn) with one conditional write:

- `ADD l<j> :n` if `first <= l<j> <= last`: the counter is in the future and within the horizon. Concurrent
  writers never refuse each other on this path: each gets the next run of the lane.
- `SET l<j> = first + n` if the lane is lagging (`l<j> < first` or not yet there: nobody took its recent
  slots): the slots already past are skipped, never handed out, and the counter only moves forward.

A refused write answers the item as it is (`ALL_OLD`), a granted one the item after it (`ALL_NEW`): every
answer carries every lane's counter, and `lanes` reads them (a strongly consistent GetItem). `<grid>` names
the spacing and the lane count, so containers configured with another rate never share (and misread) a
counter. The item's TTL is pushed forward by every write: it expires `KEEP_SECONDS` after the last take.

The per-window counter (`take`) limits "sync now" of single orders per minute and per shop (`WindowLimit`):
  pk = "RATE#sync-now#<shop>#<epoch minute>", sk = "RATE"   used = passes in that window
and one conditional write per shop spaces whole-shop syncs (`IntervalGate`):
  pk = "SHOP#<shop>", sk = "SYNCNOW"   last_at = when the last one passed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from shared.data.dynamo import condition_failed
from shared.data.orders import shop_pk

# Kept a few minutes for inspection (and the tests), then DynamoDB's TTL removes them.
KEEP_SECONDS = 300


@dataclass(frozen=True)
class LaneTake:
    """The answer to one write: lane slots `start .. start + count - 1` taken (count 0: refused), and every
    lane's counter as the item now holds it (lanes nobody has taken from yet are missing)."""

    start: int
    count: int
    lanes: dict[int, int] = field(default_factory=dict)


class RateBudgetStore:
    """The AliExpress budget's slot lanes (`take_slots`), and permits per time window (`take`, `window_seconds`:
    60 for a per-minute limit)."""

    def __init__(self, table: Any, name: str = "aliexpress", window_seconds: int = 1) -> None:
        self._table = table
        self.name = name
        self.window_seconds = window_seconds

    # ------------------------------------------------------------------ the budget's lanes

    def lanes_key(self, grid: str) -> dict[str, str]:
        return {"pk": f"RATE#{self.name}#{grid}", "sk": "RATE"}

    def take_slots(self, grid: str, lane: int, count: int, first: int, last: int, *, lagging: bool,
                   now: float) -> LaneTake:
        """One conditional write: `count` slots of `lane`, none before lane slot `first`, starting no later than
        `last` (the horizon). `lagging`: the caller believes the counter is behind `first` (from an earlier
        answer), so it tries the path that skips the past slots; either way a wrong guess is refused, not
        granted, and the answer tells the truth for the next try."""
        attr = f"l{lane}"
        request: dict[str, Any] = {
            "Key": self.lanes_key(grid),
            "ExpressionAttributeNames": {"#l": attr},
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        expires = int(now) + KEEP_SECONDS
        if lagging:
            request.update(
                UpdateExpression="SET #l = :target, expires_at = :exp",
                ConditionExpression="attribute_not_exists(#l) OR #l < :first",
                ExpressionAttributeValues={":target": first + count, ":first": first, ":exp": expires})
        else:
            request.update(
                UpdateExpression="ADD #l :n SET expires_at = :exp",
                ConditionExpression="#l BETWEEN :first AND :last",
                ExpressionAttributeValues={":n": count, ":first": first, ":last": last, ":exp": expires})
        try:
            item = self._table.update_item(**request)["Attributes"]
        except ClientError as error:
            if not condition_failed(error):
                raise
            return LaneTake(0, 0, _lanes(_plain(error.response.get("Item") or {})))
        lanes = _lanes(item)
        return LaneTake(lanes[lane] - count, count, lanes)

    def lanes(self, grid: str) -> dict[int, int]:
        """Every lane's counter, read strongly consistent (the budget reads when its last answer is stale)."""
        item = self._table.get_item(Key=self.lanes_key(grid), ConsistentRead=True).get("Item") or {}
        return _lanes(item)

    # ------------------------------------------------------------------ a counter per window

    def key(self, second: int) -> dict[str, str]:
        return {"pk": f"RATE#{self.name}#{second}", "sk": "RATE"}

    def take(self, second: int, wanted: int, cap: int, not_before: int = 0) -> range:
        """Indices (0-based, within the window) of the permits taken: up to `wanted`, empty when full.

        `not_before`: the first index still usable. When the counter lags behind it, the lagging indices are
        skipped, not handed out. Usually one write; a contended or lagging counter costs one or two more (a
        failed write returns the current count, so no extra read).
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
            # The counter lags behind: move it forward past the stale indices, conditionally.
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


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    """A refused write's item comes in DynamoDB's wire form ({"N": "12"}); only the lane counters matter."""
    return {name: value["N"] for name, value in raw.items() if isinstance(value, dict) and "N" in value}


def _lanes(item: dict[str, Any]) -> dict[int, int]:
    return {int(name[1:]): int(value) for name, value in item.items()
            if name.startswith("l") and name[1:].isdigit()}


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
