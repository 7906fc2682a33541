"""DynamoDB stream → function, with the event source mapping semantics moto stores but never applies.

Per mapping (one function's `DynamoDB` event): StartingPosition, BatchSize, FilterCriteria (moto's own
EventBridge/Lambda pattern matcher; non-matching records are dropped, as Lambda does), MaximumRetryAttempts
(-1 = until the record expires), BisectBatchOnFunctionError, ReportBatchItemFailures (resume from the lowest
failed sequence number), MaximumRecordAgeInSeconds, and DestinationConfig.OnFailure (an SQS queue receives
the batch's metadata, never the records) — then the shard moves on.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern

from local.functions import FunctionError, LocalFunction

log = logging.getLogger("local.streams")


@dataclass(frozen=True)
class StreamMappingConfig:
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "LATEST"
    max_retry_attempts: int = -1
    max_record_age: int = -1
    bisect: bool = False
    report_item_failures: bool = False
    filters: tuple[EventPattern, ...] = ()
    on_failure_arn: str | None = None
    enabled: bool = True

    @classmethod
    def from_properties(cls, props: dict[str, Any]) -> StreamMappingConfig:
        patterns = tuple(EventPattern.load(f["Pattern"] if isinstance(f["Pattern"], str) else json.dumps(f["Pattern"]))
                         for f in (props.get("FilterCriteria") or {}).get("Filters", []))
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return cls(
            stream_arn=props["Stream"],
            batch_size=int(props.get("BatchSize", 100)),
            starting_position=str(props.get("StartingPosition", "LATEST")),
            max_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            max_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
            bisect=bool(props.get("BisectBatchOnFunctionError", False)),
            report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            filters=patterns,
            on_failure_arn=on_failure,
            enabled=bool(props.get("Enabled", True)),
        )

    def accepts(self, record: dict[str, Any]) -> bool:
        # Several patterns are ORed; no FilterCriteria means every record.
        return not self.filters or any(p.matches_event(record) for p in self.filters)  # type: ignore[arg-type]


@dataclass
class MappingStats:
    records_read: int = 0
    records_filtered_out: int = 0
    batches: int = 0
    invocations: int = 0
    failed_invocations: int = 0
    records_succeeded: int = 0
    records_sent_to_on_failure: int = 0
    on_failure_messages: int = 0
    batch_sizes: list[int] = field(default_factory=list)


def event_json(value: Any) -> Any:
    """boto3 decodes a few fields the Lambda event carries as JSON (timestamps, binary attributes)."""
    if isinstance(value, dict):
        return {k: event_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [event_json(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    record = event_json(raw)
    record["eventSourceARN"] = stream_arn
    record.setdefault("eventSource", "aws:dynamodb")
    record.setdefault("awsRegion", "us-east-1")
    record.setdefault("eventVersion", "1.1")
    record["dynamodb"].setdefault("ApproximateCreationDateTime", int(time.time()))
    return record


def failed_sequence_numbers(result: Any, batch: list[dict[str, Any]]) -> list[str] | None:
    """The failed items of a ReportBatchItemFailures answer; None when the answer is unusable (whole batch)."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return []
    known = {r["dynamodb"]["SequenceNumber"] for r in batch}
    failed = []
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in known:
            return None  # Lambda treats a malformed or unknown identifier as a failure of the whole batch
        failed.append(str(identifier))
    return failed


class StreamMapping:
    """One poller thread per (function, stream) mapping."""

    def __init__(self, name: str, function: LocalFunction, config: StreamMappingConfig, streams_client: Any,
                 sqs_client: Any, queue_urls_by_arn: dict[str, str], *, poll_interval: float = 0.2,
                 retry_delay: float = 0.2, max_retry_delay: float = 2.0) -> None:
        self.name = name
        self.function = function
        self.config = config
        self.stats = MappingStats()
        self._streams = streams_client
        self._sqs = sqs_client
        self._queue_urls = queue_urls_by_arn
        self._poll_interval = poll_interval
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._parked = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self._buffers: dict[str, deque[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        # Position the iterators now, so records written right after start() are seen with LATEST.
        self._refresh_shards()
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.name}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def pause(self) -> None:
        """Stop reading after the current batch (like disabling the mapping); records wait in the stream."""
        self._parked.clear()
        self._running.clear()
        if self._thread is not None and self._thread.is_alive():
            self._parked.wait(timeout=10)

    def resume(self) -> None:
        self._running.set()

    def is_idle(self) -> bool:
        """True when the last poll found nothing to deliver (used to wait for quiescence)."""
        return self._idle.is_set()

    # ------------------------------------------------------------------ polling
    def _refresh_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.config.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            position = "TRIM_HORIZON" if self.config.starting_position == "TRIM_HORIZON" else "LATEST"
            self._iterators[shard_id] = self._streams.get_shard_iterator(
                StreamArn=self.config.stream_arn, ShardId=shard_id, ShardIteratorType=position)["ShardIterator"]
            self._buffers[shard_id] = deque()

    def _run(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.is_set():
            if not self._running.is_set():
                self._parked.set()
                self._idle.set()
                self._stop.wait(self._poll_interval)
                continue
            try:
                if time.monotonic() - refreshed > 5:
                    self._refresh_shards()
                    refreshed = time.monotonic()
                worked = False
                for shard_id in list(self._iterators):
                    worked |= self._poll_shard(shard_id)
            except Exception:
                log.exception("stream mapping %s: poll failed", self.name)
                worked = False
            if worked:
                self._idle.clear()
            else:
                self._idle.set()
                self._stop.wait(self._poll_interval)

    def _read(self, shard_id: str) -> None:
        iterator = self._iterators.get(shard_id)
        if iterator is None:
            return
        response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
        self._iterators[shard_id] = response.get("NextShardIterator")
        for raw in response.get("Records", []):
            self.stats.records_read += 1
            record = lambda_record(raw, self.config.stream_arn)
            if self.config.accepts(record):
                self._buffers[shard_id].append(record)
            else:
                self.stats.records_filtered_out += 1

    def _poll_shard(self, shard_id: str) -> bool:
        buffer = self._buffers[shard_id]
        if len(buffer) < self.config.batch_size:
            self._read(shard_id)
        if not buffer:
            return False
        self._idle.clear()  # busy from here until a poll finds nothing (wait_idle relies on it)
        batch = [buffer.popleft() for _ in range(min(self.config.batch_size, len(buffer)))]
        self.stats.batches += 1
        self._deliver(shard_id, batch)
        return True

    # ------------------------------------------------------------------ delivery semantics
    def _deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> None:
        """Deliver until the batch succeeds or is given up; then the shard moves on past it."""
        # (records, retries so far). Bisecting pushes the two halves; their retries count on.
        work: deque[tuple[list[dict[str, Any]], int]] = deque([(batch, 0)])
        while work and not self._stop.is_set():
            records, retries = work.popleft()
            records = self._drop_expired(shard_id, records, retries)
            if not records:
                continue
            self.stats.invocations += 1
            self.stats.batch_sizes.append(len(records))
            try:
                result = self.function.invoke({"Records": records})
                failed = failed_sequence_numbers(result, records) if self.config.report_item_failures else []
                function_error = False
            except FunctionError:
                failed, function_error = None, True
            if failed == []:
                self.stats.records_succeeded += len(records)
                continue
            self.stats.failed_invocations += 1
            if failed:
                # Resume from the lowest failed sequence number: what came before it succeeded.
                lowest = min(failed, key=int)
                index = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == lowest)
                self.stats.records_succeeded += index
                records = records[index:]
            if self._exhausted(retries):
                self._send_to_on_failure(shard_id, records, "RetryAttemptsExhausted", retries + 1,
                                         "Unhandled" if function_error else None)
                continue
            self._backoff(retries)
            if function_error and self.config.bisect and len(records) > 1:
                half = len(records) // 2
                work.appendleft((records[half:], retries + 1))
                work.appendleft((records[:half], retries + 1))
            else:
                work.appendleft((records, retries + 1))

    def _exhausted(self, retries: int) -> bool:
        limit = self.config.max_retry_attempts
        return limit >= 0 and retries >= limit

    def _backoff(self, retries: int) -> None:
        self._stop.wait(min(self._max_retry_delay, self._retry_delay * (2 ** retries)))

    def _drop_expired(self, shard_id: str, records: list[dict[str, Any]], retries: int) -> list[dict[str, Any]]:
        if self.config.max_record_age < 0:
            return records
        now = time.time()
        expired = [r for r in records
                   if now - float(r["dynamodb"]["ApproximateCreationDateTime"]) > self.config.max_record_age]
        if expired:
            self._send_to_on_failure(shard_id, expired, "RecordAgeExceeded", retries, None)
        return [r for r in records if r not in expired]

    def _send_to_on_failure(self, shard_id: str, records: list[dict[str, Any]], condition: str,
                            invoke_count: int, function_error: str | None) -> None:
        self.stats.records_sent_to_on_failure += len(records)
        log.warning("stream mapping %s: giving up on %d record(s) (%s)", self.name, len(records), condition)
        arn = self.config.on_failure_arn
        if not arn:
            return
        url = self._queue_urls.get(arn)
        if url is None:
            log.error("stream mapping %s: OnFailure destination %s is not a local queue", self.name, arn)
            return
        created = [float(r["dynamodb"]["ApproximateCreationDateTime"]) for r in records]
        message = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.function.arn,
                               "condition": condition, "approximateInvokeCount": invoke_count},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                **({"functionError": function_error} if function_error else {})},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": datetime.fromtimestamp(min(created), UTC).isoformat(),
                "approximateArrivalOfLastRecord": datetime.fromtimestamp(max(created), UTC).isoformat(),
                "batchSize": len(records),
                "streamArn": self.config.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
        self.stats.on_failure_messages += 1
