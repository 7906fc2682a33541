"""The HTTP plumbing both API clients share: pooled session, "never sent", backoff, call counter."""

from __future__ import annotations

import random
import socket
import threading

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from shared.http_client import Backoff, CallCounter, may_resend, never_sent, pooled_session


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_pooled_session_is_one_per_api_and_never_retries_by_itself() -> None:
    first = pooled_session("test-api", pool_connections=2, pool_maxsize=3, headers={"User-Agent": "ua/1"})
    again = pooled_session("test-api", pool_connections=9, pool_maxsize=9)
    other = pooled_session("test-other-api", pool_connections=2, pool_maxsize=3)
    assert first is again and first is not other
    assert first.headers["User-Agent"] == "ua/1"
    for scheme in ("https://x.example", "http://x.example"):
        adapter = first.get_adapter(scheme)
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        assert adapter.max_retries.total == 0
        assert adapter._pool_maxsize == 3  # type: ignore[attr-defined]


def test_refused_connection_was_never_sent() -> None:
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=2)
    assert never_sent(info.value)


def test_never_sent_shapes() -> None:
    refused = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    assert never_sent(requests.exceptions.ConnectTimeout())
    assert never_sent(requests.exceptions.ConnectionError(MaxRetryError(None, "/", reason=refused)))  # type: ignore[arg-type]
    assert never_sent(requests.exceptions.ConnectionError(refused))
    # It may have reached the server: a read timeout, a connection broken mid-way, anything unexplained.
    read = ReadTimeoutError(None, "/", "read timed out")  # type: ignore[arg-type]
    assert not never_sent(requests.exceptions.ReadTimeout(read))
    assert not never_sent(requests.exceptions.ConnectionError(ConnectionResetError("reset by peer")))
    assert not never_sent(requests.exceptions.ConnectionError())


@pytest.mark.parametrize(
    ("idempotent", "sent", "expected"),
    [(True, True, True), (True, False, True), (False, False, True), (False, True, False)],
)
def test_may_resend(idempotent: bool, sent: bool, expected: bool) -> None:
    assert may_resend(idempotent=idempotent, sent=sent) is expected


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_between_floor_and_capped_ceiling(attempt: int, seed: int) -> None:
    full = Backoff(0.5, 8.0, rng=random.Random(seed))
    equal = Backoff(0.5, 8.0, floor=0.5, rng=random.Random(seed))
    ceiling = min(8.0, 0.5 * 2**attempt)
    assert 0 <= full.delay(attempt) <= ceiling
    assert ceiling / 2 <= equal.delay(attempt) <= ceiling


def test_backoff_is_what_each_client_computed_before() -> None:
    # AliExpress: uniform(0, ceiling); ShopBase: ceiling / 2 + uniform(0, ceiling / 2). Same stream, same waits.
    for attempt in range(6):
        ceiling = min(8.0, 0.5 * 2**attempt)
        full = random.Random(attempt).uniform(0, ceiling)
        assert Backoff(0.5, 8.0, rng=random.Random(attempt)).delay(attempt) == full
        expected = ceiling / 2 + random.Random(attempt).uniform(0, ceiling / 2)
        assert Backoff(0.5, 8.0, floor=0.5, rng=random.Random(attempt)).delay(attempt) == expected


def test_call_counter_counts_from_many_threads() -> None:
    calls: CallCounter[tuple[str, str]] = CallCounter()

    def hammer() -> None:
        for _ in range(2000):
            calls.add(("GET", "/x"))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == {("GET", "/x"): 16_000} and calls[("POST", "/x")] == 0
