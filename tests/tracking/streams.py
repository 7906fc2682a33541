"""The orders stream, read back from moto, and a synchronous event source mapping around a handler.

moto stores an event source mapping but never runs it, so this does what Lambda would: the template's
FilterCriteria (moto's EventBridge/Lambda pattern matcher), batches of BatchSize, ReportBatchItemFailures
(resume from the lowest failed sequence number), BisectBatchOnFunctionError on a function error,
MaximumRetryAttempts, and an on-failure list that receives pointers only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.events.models import EventPattern

from local.streams import event_json
from local.template import load_template


class StreamTap:
    """Reads the table's stream with describe_stream / get_shard_iterator / get_records, as Lambda events."""

    def __init__(self, table_name: str) -> None:
        self.arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._client = boto3.client("dynamodbstreams")
        self._iterators: dict[str, str | None] = {}
        self._refresh()

    def _refresh(self) -> None:
        shards = self._client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self._client.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        """Every record written since the last read, in stream order, shaped like a Lambda event record."""
        self._refresh()
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            while iterator:
                response = self._client.get_records(ShardIterator=iterator, Limit=1000)
                batch = response.get("Records", [])
                for raw in batch:
                    record = event_json(raw)
                    record["eventSourceARN"] = self.arn
                    records.append(record)
                iterator = response.get("NextShardIterator")
                if not batch:
                    break
            self._iterators[shard_id] = iterator
        return records


@dataclass
class Mapping:
    """One function's DynamoDB event source mapping, from the template."""

    handler: Callable[[dict[str, Any], Any], Any]
    context: Any
    patterns: list[EventPattern]
    batch_size: int
    max_retries: int
    bisect: bool
    report_failures: bool
    on_failure: list[dict[str, Any]] = field(default_factory=list)
    invocations: int = 0
    function_errors: int = 0
    delivered: int = 0

    @classmethod
    def from_template(cls, function_id: str, handler: Callable[[dict[str, Any], Any], Any], context: Any,
                      event: str = "OrdersStream") -> Mapping:
        props = load_template()["Resources"][function_id]["Properties"]["Events"][event]["Properties"]
        patterns = [EventPattern.load(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
        return cls(handler=handler, context=context, patterns=patterns, batch_size=int(props["BatchSize"]),
                   max_retries=int(props["MaximumRetryAttempts"]),
                   bisect=bool(props.get("BisectBatchOnFunctionError")),
                   report_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []))

    def accepts(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(p.matches_event(record) for p in self.patterns)  # type: ignore[arg-type]

    def deliver(self, records: Iterable[dict[str, Any]]) -> None:
        selected = [r for r in records if self.accepts(r)]
        for start in range(0, len(selected), self.batch_size):
            self._run(selected[start:start + self.batch_size])

    def _run(self, batch: list[dict[str, Any]]) -> None:
        work: list[tuple[list[dict[str, Any]], int]] = [(batch, 0)]
        while work:
            records, retries = work.pop(0)
            self.invocations += 1
            try:
                result = self.handler({"Records": records}, self.context)
                error = False
                failed = [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]
            except Exception:
                error, failed = True, [r["dynamodb"]["SequenceNumber"] for r in records]
                self.function_errors += 1
            if not failed:
                self.delivered += len(records)
                continue
            lowest = min(failed, key=int)
            index = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == lowest)
            self.delivered += index
            rest = records[index:]
            if retries >= self.max_retries:
                # Lambda's on-failure destination: the batch's coordinates, never the records.
                self.on_failure.append({"startSequenceNumber": rest[0]["dynamodb"]["SequenceNumber"],
                                        "endSequenceNumber": rest[-1]["dynamodb"]["SequenceNumber"],
                                        "batchSize": len(rest)})
                continue
            if error and self.bisect and len(rest) > 1:
                half = len(rest) // 2
                work[:0] = [(rest[:half], retries + 1), (rest[half:], retries + 1)]
            else:
                work.insert(0, (rest, retries + 1))


def pump(tap: StreamTap, *mappings: Mapping, rounds: int = 50) -> list[dict[str, Any]]:
    """Deliver the stream to every mapping until the consumers stop writing; returns all records seen."""
    seen: list[dict[str, Any]] = []
    for _ in range(rounds):
        records = tap.read()
        if not records:
            return seen
        seen.extend(records)
        for mapping in mappings:
            mapping.deliver(records)
    raise AssertionError(f"the stream did not settle in {rounds} rounds")


def as_json(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)
