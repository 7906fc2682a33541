"""Sync runs: the run lock, the run's counters, the per-message "done" markers, and the work queue.

  pk = "SYNCRUN#<run id>", sk = "RUN"               the run (lock): started/ended, initial pending count
  pk = "SYNCRUN#<run id>", sk = "CNT#<k>"           counters (examined/changed/failed/stalled, pending delta)
  pk = "SYNCRUN#<run id>", sk = "SHOP#<shop>#<k>"   the same counters for one shop

A scheduled run's id is its time slot ("2026-11-26T12:00"): claiming it is one conditional PutItem, so a
schedule delivered twice starts one run. Workers count with `ADD` (k = hash of the message's unit id);
each counter item keeps the set of units it counted and the ADD is conditioned on the unit not being in
it, so a message redelivered after a crash is counted once. `pending` = messages not yet done: the
starter's count, plus each message's (children it enqueued - 1). The end is recorded by the worker whose
commit brings the sum to 0 (it reads the counter items right after its own ADD, strongly consistent).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from pydantic import BaseModel, Field

from shared.data.dynamo import conditional_write, from_item

RUN_SK = "RUN"
COUNTER_SHARDS = 16
# Markers and shop counters are kept 30 days (TTL); the RUN item too, long enough to read history.
KEEP_SECONDS = 30 * 24 * 3600


class Counts(BaseModel):
    examined: int = 0
    changed: int = 0
    failed: int = 0
    stalled: int = 0

    def add(self, other: Counts) -> None:
        self.examined += other.examined
        self.changed += other.changed
        self.failed += other.failed
        self.stalled += other.stalled

    def nonzero(self) -> dict[str, int]:
        return {k: v for k, v in self.model_dump().items() if v}


class SyncRun(BaseModel):
    run_id: str
    kind: str = "scheduled"
    started_at: datetime
    ended_at: datetime | None = None
    enqueued: bool = False
    pending: int = 0
    totals: Counts = Field(default_factory=Counts)
    shops: dict[str, Counts] = Field(default_factory=dict)


def run_pk(run_id: str) -> str:
    return f"SYNCRUN#{run_id}"


class SyncRunRepository:
    def __init__(self, table: Any) -> None:
        self._table = table

    def claim(self, run_id: str, *, kind: str, started_at: datetime, pending: int) -> bool:
        """Create the run; False when it already exists (a duplicate delivery of the same slot)."""
        return conditional_write(
            self._table.put_item,
            Item={"pk": run_pk(run_id), "sk": RUN_SK, "entity": "sync_run", "run_id": run_id, "kind": kind,
                  "started_at": started_at.isoformat(), "pending": pending, "enqueued": False,
                  "examined": 0, "changed": 0, "failed": 0, "stalled": 0,
                  "expires_at": int(started_at.timestamp()) + KEEP_SECONDS},
            ConditionExpression=Attr("pk").not_exists())

    def take_over(self, run_id: str, *, claimed_before: datetime, now: datetime) -> bool:
        """Take over a run whose starter died before enqueuing it (claimed long ago, still not enqueued)."""
        return conditional_write(
            self._table.update_item,
            Key={"pk": run_pk(run_id), "sk": RUN_SK},
            UpdateExpression="SET taken_over_at = :now",
            ConditionExpression=Attr("enqueued").eq(False) & Attr("started_at").lt(claimed_before.isoformat())
            & (Attr("taken_over_at").not_exists() | Attr("taken_over_at").lt(claimed_before.isoformat())),
            ExpressionAttributeValues={":now": now.isoformat()})

    def mark_enqueued(self, run_id: str) -> None:
        self._table.update_item(Key={"pk": run_pk(run_id), "sk": RUN_SK}, UpdateExpression="SET enqueued = :t",
                                ExpressionAttributeValues={":t": True})

    def commit(self, run_id: str, unit_id: str, counts: Counts, by_shop: dict[str, Counts], *,
               pending_delta: int, now: datetime) -> tuple[bool, int]:
        """Count one finished message, once. Returns (counted, pending messages left in the whole run).

        No transaction (and no read-then-write): every counter item remembers the units it has counted, and
        each `ADD` is conditioned on the unit not being in that item's set. A redelivered message, or one
        that died half-way through counting, adds only what is missing. Counter items are spread over
        COUNTER_SHARDS by unit id so the sets stay small (≈ 1,600 units per item for a million orders).
        """
        shard = _counter_shard(unit_id)
        for shop, values in sorted(by_shop.items()):
            if values.nonzero():
                self._add_once(run_id, f"SHOP#{shop}#{shard:02d}", unit_id, values.nonzero(), now)
        adds = {**counts.nonzero(), "pending": pending_delta}
        counted = self._add_once(run_id, f"CNT#{shard:02d}", unit_id, adds, now)
        return counted, self.pending(run_id)

    def _add_once(self, run_id: str, sk: str, unit_id: str, adds: dict[str, int], now: datetime) -> bool:
        names = {f"#{k}": k for k in adds}
        values: dict[str, Any] = {f":{k}": v for k, v in adds.items()}
        values.update({":unit": unit_id, ":units": {unit_id}, ":exp": int(now.timestamp()) + KEEP_SECONDS})
        terms = ", ".join(f"#{k} :{k}" for k in adds)
        return conditional_write(
            self._table.update_item,
            Key={"pk": run_pk(run_id), "sk": sk},
            UpdateExpression=f"ADD {terms}, #units :units SET expires_at = if_not_exists(expires_at, :exp)",
            ConditionExpression="attribute_not_exists(#units) OR NOT contains(#units, :unit)",
            ExpressionAttributeNames={**names, "#units": "units"},
            ExpressionAttributeValues=values)

    def pending(self, run_id: str) -> int:
        """Messages not yet done: the run's initial count plus every counter shard's delta.

        A BatchGetItem by key of the RUN and CNT# items (a fixed, small set), strongly consistent.
        """
        keys = [{"pk": run_pk(run_id), "sk": RUN_SK}] + [
            {"pk": run_pk(run_id), "sk": f"CNT#{k:02d}"} for k in range(COUNTER_SHARDS)]
        client = self._table.meta.client
        request: dict[str, Any] = {self._table.name: {
            "Keys": keys, "ConsistentRead": True, "ProjectionExpression": "#p",
            "ExpressionAttributeNames": {"#p": "pending"}}}
        total = 0
        while request:
            response = client.batch_get_item(RequestItems=request)
            total += sum(int(i.get("pending", 0)) for i in response.get("Responses", {}).get(self._table.name, []))
            request = response.get("UnprocessedKeys") or {}
        return total

    def ended(self, run_id: str) -> bool:
        item = self._table.get_item(Key={"pk": run_pk(run_id), "sk": RUN_SK}, ConsistentRead=True,
                                    ProjectionExpression="ended_at").get("Item")
        return bool(item and item.get("ended_at"))

    def finish_if_done(self, run_id: str, now: datetime, pending: int | None = None) -> bool:
        """Record the end once no message is pending; True for the one caller that recorded it."""
        if (pending if pending is not None else self.pending(run_id)) > 0:
            return False
        return conditional_write(
            self._table.update_item,
            Key={"pk": run_pk(run_id), "sk": RUN_SK},
            UpdateExpression="SET ended_at = :now",
            ConditionExpression=Attr("pk").exists() & Attr("ended_at").not_exists(),
            ExpressionAttributeValues={":now": now.isoformat()})

    def _query(self, run_id: str, low: str, high: str, projection: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        names = [n.strip() for n in projection.split(",")]
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(run_pk(run_id)) & Key("sk").between(low, high),
            "ConsistentRead": True, "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(names))),
            "ExpressionAttributeNames": {f"#p{i}": n for i, n in enumerate(names)}}
        while True:
            response = self._table.query(**kwargs)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get(self, run_id: str) -> SyncRun | None:
        fields = list(Counts.model_fields)
        projection = ", ".join(["sk", "pending", "kind", "started_at", "ended_at", "enqueued", *fields])
        # "CNT#…" < "RUN" < "SHOP#…": one query reads the run, its counter shards and its shop counters.
        items = [from_item(i) for i in self._query(run_id, "CNT#", "SHOP#\uffff", projection)]
        run_item = next((i for i in items if i["sk"] == RUN_SK), None)
        if run_item is None:
            return None
        totals = Counts()
        shops: dict[str, Counts] = {}
        pending = 0
        for item in items:
            sk = str(item["sk"])
            values = Counts(**{k: item.get(k, 0) for k in fields})
            pending += int(item.get("pending", 0))
            if sk.startswith("CNT#"):
                totals.add(values)
            elif sk.startswith("SHOP#"):
                shops.setdefault(sk[5:].rpartition("#")[0], Counts()).add(values)
        return SyncRun(run_id=run_id, kind=run_item.get("kind", "scheduled"), started_at=run_item["started_at"],
                       ended_at=run_item.get("ended_at"), enqueued=bool(run_item.get("enqueued")),
                       pending=pending, totals=totals, shops=shops)


def _counter_shard(unit_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(unit_id.encode(), digest_size=2).digest(), "big") % COUNTER_SHARDS


class SyncQueue:
    """The sync work queue (SQS). Messages are small JSON documents; see shared/logic/sync_runs.py."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self.queue_url = queue_url
        self._client = client

    def send(self, messages: Sequence[dict[str, Any]]) -> None:
        """SendMessageBatch in tens; entries SQS refuses are sent again (a few times), then it raises."""
        for start in range(0, len(messages), 10):
            pending = {str(i): json.dumps(m, separators=(",", ":"))
                       for i, m in enumerate(messages[start:start + 10])}
            for _ in range(5):
                if not pending:
                    break
                response = self._client.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": k, "MessageBody": v} for k, v in pending.items()])
                pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
            if pending:
                raise RuntimeError(f"SQS refused {len(pending)} sync messages")
