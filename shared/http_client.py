"""HTTP plumbing shared by the API clients (`shared.aliexpress`, `shared.shopbase`).

What both clients do the same way lives here: the process-wide pooled session, the answer to "can the
server have seen this request?", exponential backoff with jitter, and the per-key attempt counter.
The retry *decisions* stay in each client: only the client knows which of its calls are idempotent.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

Timeout = float | tuple[float, float]
DEFAULT_TIMEOUT: Timeout = (3.05, 10)  # (connect, read) seconds

K = TypeVar("K", bound=Hashable)

_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def pooled_session(
    name: str, *, pool_connections: int, pool_maxsize: int, headers: Mapping[str, str] | None = None
) -> requests.Session:
    """The process-wide pooled session of one API, built on its first use: one per container, so warm
    invocations reuse TLS connections. The pool settings and headers apply on creation only."""
    with _sessions_lock:
        session = _sessions.get(name)
        if session is None:
            session = requests.Session()
            # Retries are the client's (it knows what is idempotent): urllib3 must not retry behind its back.
            adapter = HTTPAdapter(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers.update(headers or {})
            _sessions[name] = session
        return session


def never_sent(exc: requests.exceptions.RequestException) -> bool:
    """True when the connection could not even be opened, so the server cannot have seen the request:
    resending it is safe even for a call that is not idempotent."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # requests wraps urllib3's MaxRetryError(reason=...)
    return isinstance(reason, NewConnectionError)


def may_resend(*, idempotent: bool, sent: bool) -> bool:
    """A call that got no answer may go again when repeating it is harmless or when it never left."""
    return idempotent or not sent


@dataclass
class Backoff:
    """Exponential backoff with jitter: retry `n` waits at most `min(cap, base * 2**n)` seconds.

    `floor` is the share of that ceiling always waited: 0 is full jitter (a fleet failing together
    spreads out the most), 0.5 is "equal jitter" (never retry almost at once).
    """

    base: float
    cap: float
    floor: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2**attempt)
        low = ceiling * self.floor
        return low + self.rng.uniform(0, ceiling - low)


class CallCounter(Counter[K]):
    """HTTP attempts per key, retries included (what a provider's quota is spent on). Thread-safe `add`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    def add(self, key: K) -> None:
        with self._lock:
            self[key] += 1
