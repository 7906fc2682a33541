"""Function output goes where CloudWatch Logs would be: a log file, not the operator's terminal.

Functions run in threads of this process and Powertools writes JSON logs and EMF metrics to stdout, so
sys.stdout becomes a router: text written by a thread that is inside an invocation goes to the function
log; everything else (the CLI, the demo) to the real stdout. One router per process: Powertools' Logger keeps
the stream it saw when the handler module was imported, and modules are imported once.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

# A context variable, not a thread-local: a consumer's worker threads run in a copy of the invocation's
# context (shared.batch), so what they write goes to the function log too.
_inside: ContextVar[bool] = ContextVar("inside_function", default=False)


class _Router(io.TextIOBase):
    def __init__(self, default: IO[str]) -> None:
        self.default = default
        self.sink: IO[str] | None = None
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        sink = self.sink
        if sink is not None and _inside.get():
            with self._lock:
                sink.write(text)
            return len(text)
        return self.default.write(text)

    def flush(self) -> None:
        self.default.flush()
        sink = self.sink
        if sink is not None:
            with self._lock:
                sink.flush()

    def isatty(self) -> bool:
        return self.default.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.default, "encoding", "utf-8")


_router: _Router | None = None


def route_function_output(sink: IO[str]) -> None:
    """Send invocations' stdout to `sink` (install before handlers are imported)."""
    global _router
    current = sys.stdout
    if _router is None:
        _router = _Router(current)
    elif current is not _router:
        _router.default = current
    _router.sink = sink
    sys.stdout = _router


def restore_stdout() -> None:
    if _router is not None:
        _router.sink = None  # loggers still holding the router now write to the real stdout
        if sys.stdout is _router:
            sys.stdout = _router.default


@contextmanager
def inside_function() -> Iterator[None]:
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)
