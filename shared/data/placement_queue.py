"""PlaceOrdersQueue (SQS): one message per order to place, {"shop": …, "order_id": …}.

Standard queue: a message may arrive twice, which placement tolerates (the claim on the order decides).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

import boto3

from shared.data.dynamo import BOTO_CONFIG

SEND_BATCH_LIMIT = 10  # SQS SendMessageBatch entries per request
MAX_DELAY_SECONDS = 900  # SQS DelaySeconds upper bound


class QueueSendFailed(RuntimeError):
    """SQS refused some messages; the caller must not report them as queued."""


class PlacementQueue:
    def __init__(self, url: str, client: Any | None = None) -> None:
        self.url = url
        self._client = client if client is not None else boto3.client("sqs", config=BOTO_CONFIG)

    def send(self, shop: str, order_ids: list[str], delay_seconds: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds)))
        for start in range(0, len(order_ids), SEND_BATCH_LIMIT):
            chunk = order_ids[start:start + SEND_BATCH_LIMIT]
            entries = [{"Id": str(n), "MessageBody": json.dumps({"shop": shop, "order_id": oid}),
                        "DelaySeconds": delay} for n, oid in enumerate(chunk)]
            response = self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
            if response.get("Failed"):
                failed = [chunk[int(f["Id"])] for f in response["Failed"]]
                raise QueueSendFailed(f"SQS refused {len(failed)} placement message(s)")


@lru_cache(maxsize=1)
def default_queue() -> PlacementQueue | None:
    """The queue named by PLACE_ORDERS_QUEUE_URL; None where no queue is deployed (then nothing is deferred)."""
    url = os.environ.get("PLACE_ORDERS_QUEUE_URL", "").strip()
    return PlacementQueue(url) if url else None
