"""PlaceOrdersQueue (SQS): one message per order to place, {"shop": …, "order_id": …}.

Standard queue: a message may arrive twice, which placement tolerates (the claim on the order decides).
"""

from __future__ import annotations

import json
from typing import Any

SEND_BATCH_LIMIT = 10  # SQS SendMessageBatch entries per request
MAX_DELAY_SECONDS = 900  # SQS DelaySeconds upper bound


class QueueSendFailed(RuntimeError):
    """SQS refused some messages; the caller must not report them as queued."""


class PlacementQueue:
    def __init__(self, url: str, client: Any) -> None:
        self.url = url
        self._client = client

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
