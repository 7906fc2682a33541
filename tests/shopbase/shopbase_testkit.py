"""Helpers shared by the ShopBase tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import requests

SHOP = "acme"
TOKEN = "shpat_test_token_0123456789"
SECRET = "whsec_test_secret"


def admin(shop_url: str, method: str, path: str, json: Any = None) -> requests.Response:
    """A raw Admin API call on the simulator, for the routes the client does not call (orders, PUT
    fulfillment, DELETE webhook): they stay the simulator's."""
    session = requests.Session()
    session.trust_env = False
    with session:
        headers = {"X-ShopBase-Access-Token": TOKEN}
        return session.request(method, shop_url + path, json=json, headers=headers, timeout=5)


class SleepRecorder:
    """Injected `sleep`: records, does not wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records webhook POSTs; answers the statuses in `script` in turn, then 200."""

    url: str
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.02)):
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            deadline.wait(0.02)
        with self.lock:
            return list(self.received)
