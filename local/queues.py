"""SQS queue → function: BatchSize, ReportBatchItemFailures, ScalingConfig.MaximumConcurrency (that many
pollers, each with its own handler instance). Visibility timeouts, receive counts and redrive to a DLQ are
moto's: a failed message is simply not deleted, exactly as the Lambda poller does."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from local.functions import FunctionError, LocalFunction

log = logging.getLogger("local.queues")


@dataclass(frozen=True)
class QueueMappingConfig:
    queue_arn: str
    queue_url: str
    batch_size: int = 10
    max_concurrency: int = 2
    report_item_failures: bool = False
    enabled: bool = True

    @classmethod
    def from_properties(cls, props: dict[str, Any], queue_url: str, default_concurrency: int = 2
                        ) -> QueueMappingConfig:
        scaling = props.get("ScalingConfig") or {}
        return cls(
            queue_arn=props["Queue"],
            queue_url=queue_url,
            batch_size=int(props.get("BatchSize", 10)),
            max_concurrency=int(scaling.get("MaximumConcurrency", default_concurrency)),
            report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            enabled=bool(props.get("Enabled", True)),
        )


def _message_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, attr in raw.items():
        out[name] = {"stringValue": attr.get("StringValue"), "binaryValue": attr.get("BinaryValue"),
                     "stringListValues": [], "binaryListValues": [], "dataType": attr.get("DataType")}
    return out


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


class QueueMapping:
    def __init__(self, name: str, function: LocalFunction, config: QueueMappingConfig, sqs_client: Any, *,
                 wait_seconds: int = 0, poll_interval: float = 0.2) -> None:
        self.name = name
        self.function = function
        self.config = config
        self._sqs = sqs_client
        self._wait = wait_seconds  # long polling; 0: short polls with a pause between them
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._busy = 0
        self.invocations = 0
        self.failed_invocations = 0
        self.messages_deleted = 0
        self.max_parallel = 0  # the most invocations seen running at once

    def start(self) -> None:
        for index in range(max(1, self.config.max_concurrency)):
            thread = threading.Thread(target=self._run, name=f"sqs-{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._wait + 5)

    def is_idle(self) -> bool:
        with self._lock:
            return self._busy == 0

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        wait = self._wait
        while len(messages) < self.config.batch_size and not self._stop.is_set():
            response = self._sqs.receive_message(
                QueueUrl=self.config.queue_url, MaxNumberOfMessages=min(10, self.config.batch_size - len(messages)),
                WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"])
            received = response.get("Messages", [])
            if not received:
                break
            messages.extend(received)
            wait = 0  # a batch is what is there now, not what may come
        return messages

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive()
            except Exception:
                if not self._stop.is_set():
                    log.exception("queue mapping %s: receive failed", self.name)
                self._stop.wait(1)
                continue
            if messages:
                self._deliver(messages)
            elif self._wait == 0:
                self._stop.wait(self._poll_interval)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [lambda_record(m, self.config.queue_arn) for m in messages]
        with self._lock:
            self._busy += 1
            self.invocations += 1
            self.max_parallel = max(self.max_parallel, self._busy)
        try:
            try:
                result = self.function.invoke({"Records": records}, max_instances=self.config.max_concurrency)
            except FunctionError:
                with self._lock:
                    self.failed_invocations += 1
                return  # nothing deleted: every message comes back after its visibility timeout
            failed: set[str] = set()
            if self.config.report_item_failures and isinstance(result, dict):
                for item in result.get("batchItemFailures") or []:
                    identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
                    if identifier not in {r["messageId"] for r in records}:
                        with self._lock:
                            self.failed_invocations += 1
                        return  # an unusable answer fails the whole batch
                    failed.add(str(identifier))
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                chunk = done[start:start + 10]
                self._sqs.delete_message_batch(QueueUrl=self.config.queue_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
            with self._lock:
                self.messages_deleted += len(done)
                if failed:
                    self.failed_invocations += 1
        finally:
            with self._lock:
                self._busy -= 1
