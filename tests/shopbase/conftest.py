"""Fixtures for the ShopBase client and simulator tests: a simulator on 127.0.0.1 (port 0), a shop,
clients with a recorded sleep, and a tiny webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from shopbase_testkit import SECRET, SHOP, TOKEN, Received, Receiver, SleepRecorder

from shared.shopbase.client import ShopBaseClient
from shared.shopbase.throttle import LeakyBucketThrottle, reset_throttles
from simulators.shopbase import ShopBaseSimulator

# The team's reference folder sits beside the repo (as in tests/conftest.py).
ORDER_FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "shopbase" / "order_paid.json"
)


@pytest.fixture
def fixture_order() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ORDER_FIXTURE.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def sim() -> Iterator[ShopBaseSimulator]:
    reset_throttles()
    with ShopBaseSimulator(seed=1234) as simulator:
        simulator.create_shop(SHOP, access_token=TOKEN, webhook_secret=SECRET)
        yield simulator
    reset_throttles()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(sim: ShopBaseSimulator, sleeps: SleepRecorder) -> Callable[..., ShopBaseClient]:
    """A client of `acme` on the simulator; a private throttle unless one is passed."""

    def factory(**overrides: Any) -> ShopBaseClient:
        kwargs: dict[str, Any] = {
            "access_token": TOKEN,
            "base_url": sim.shop_url(SHOP),
            "sleep": sleeps,
            "timeout": (1.0, 2.0),
            "throttle": LeakyBucketThrottle(30, 2.0),
        }
        kwargs.update(overrides)
        return ShopBaseClient(kwargs.pop("shop", SHOP), **kwargs)

    return factory


@pytest.fixture
def client(make_client: Callable[..., ShopBaseClient]) -> ShopBaseClient:
    return make_client()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recv = state["r"]
            with recv.lock:
                recv.received.append(Received(self.path, dict(self.headers.items()), body))
                status = recv.script.pop(0) if recv.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state["r"]
    server.shutdown()
    server.server_close()
