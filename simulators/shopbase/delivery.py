"""Webhook delivery: signed POSTs to registered addresses, with the at-least-once misbehaviour of the
real platform on demand (duplicates, reordering, retries on non-2xx)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

import requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    shop: str
    topic: str
    address: str
    webhook_id: int
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    order_id: int | None = None
    duplicate: bool = False


@dataclass
class DeliveryResult:
    shop: str
    topic: str
    address: str
    webhook_id: int
    order_id: int | None
    status: int | None
    attempts: int
    ok: bool
    duplicate: bool
    error: str | None = None
    body: bytes = field(default=b"", repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "shop": self.shop,
            "topic": self.topic,
            "address": self.address,
            "webhook_id": self.webhook_id,
            "order_id": self.order_id,
            "status": self.status,
            "attempts": self.attempts,
            "ok": self.ok,
            "duplicate": self.duplicate,
            "error": self.error,
        }


@dataclass
class DeliveryOptions:
    duplicate_rate: float = 0.0  # fraction of deliveries sent twice
    reorder: bool = False  # shuffle each batch before sending
    max_attempts: int = 1  # attempts per delivery while the receiver answers non-2xx / fails
    retry_delay: float = 0.0  # seconds between attempts
    timeout: tuple[float, float] = (1.0, 5.0)  # Shopify: 1 s to connect, 5 s for the answer


class WebhookDeliverer:
    """Queue of pending deliveries. `deliver_pending()` sends them now (deterministic tests); with
    `background=True` a thread sends them as they come."""

    def __init__(self, options: DeliveryOptions | None = None, *, seed: int | None = None) -> None:
        self.options = options or DeliveryOptions()
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._queue: deque[Delivery] = deque()
        self._send_lock = threading.Lock()  # one batch at a time keeps reordering meaningful
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # deliver to the address given, never through a proxy
        self.history: deque[DeliveryResult] = deque(maxlen=2000)
        self.counts: Counter[str] = Counter()
        self.by_topic: Counter[str] = Counter()

    def configure(self, **changes: Any) -> None:
        with self._cond:
            if "timeout" in changes and changes["timeout"] is not None:
                changes["timeout"] = tuple(changes["timeout"])
            self.options = replace(self.options, **{k: v for k, v in changes.items() if v is not None})

    def enqueue(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        with self._cond:
            self._queue.extend(deliveries)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self.history.clear()
            self.counts.clear()
            self.by_topic.clear()

    def _take_batch(self) -> list[Delivery]:
        with self._cond:
            batch = list(self._queue)
            self._queue.clear()
            options = self.options
            duplicates = [
                replace(item, duplicate=True) for item in batch if self._rng.random() < options.duplicate_rate
            ]
            batch.extend(duplicates)  # a duplicate arrives later, like a platform retry
            if options.reorder:
                self._rng.shuffle(batch)
            return batch

    def deliver_pending(self) -> list[DeliveryResult]:
        """Send everything queued now; return one result per delivery (duplicates included)."""
        with self._send_lock:
            return [self._send(item) for item in self._take_batch()]

    def _send(self, item: Delivery) -> DeliveryResult:
        options = self.options
        status: int | None = None
        error: str | None = None
        attempts = 0
        while attempts < max(1, options.max_attempts):
            if attempts and options.retry_delay > 0 and self._stop.wait(options.retry_delay):
                break
            attempts += 1
            try:
                response = self._session.post(
                    item.address, data=item.body, headers=item.headers, timeout=options.timeout
                )
                status, error = response.status_code, None
                response.close()
            except requests.RequestException as exc:
                status, error = None, type(exc).__name__
            if status is not None and 200 <= status < 300:
                break
        ok = status is not None and 200 <= status < 300
        result = DeliveryResult(
            shop=item.shop,
            topic=item.topic,
            address=item.address,
            webhook_id=item.webhook_id,
            order_id=item.order_id,
            status=status,
            attempts=attempts,
            ok=ok,
            duplicate=item.duplicate,
            error=error,
            body=item.body,
        )
        with self._cond:
            self.history.append(result)
            self.counts["attempts"] += attempts
            self.counts["delivered" if ok else "failed"] += 1
            if item.duplicate:
                self.counts["duplicates"] += 1
            if ok:
                self.by_topic[item.topic] += 1
        if not ok:
            log.info("webhook %s to hook %d failed after %d attempts", item.topic, item.webhook_id, attempts)
        return result

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "delivered": self.counts["delivered"],
                "failed": self.counts["failed"],
                "attempts": self.counts["attempts"],
                "duplicates": self.counts["duplicates"],
                "pending": len(self._queue),
                "by_topic": dict(self.by_topic),
            }

    # --- background mode -------------------------------------------------------------------------

    def start_background(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="shopbase-sim-webhooks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._queue:
                    self._cond.wait(timeout=0.2)
                if not self._queue:
                    continue
            # Let a burst of events pile up a little, so reordering has something to shuffle.
            time.sleep(0.01)
            self.deliver_pending()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._session.close()
