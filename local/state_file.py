"""The running stack's state file (`.local-state/stack.json`), shared between processes.

Written atomically: a temporary file in the same folder, created 0600 (it holds the demo shop's seller
token), flushed to disk, then renamed over the old one. A reader sees the old file or the new one, never a
partial one, and no other user can read it at any moment.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODE = 0o600


class StateFileMissing(FileNotFoundError):
    """No state file appeared before the reader's deadline."""


def write_json_atomic(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600 and O_EXCL: never world-readable, never someone else's file.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, MODE)  # in case a umask or filesystem widened it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's content, or None when it does not exist (yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)  # a rename is atomic: a partial file here is a bug, not a race to retry
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def wait_for_json(path: Path, timeout: float, until: Callable[[dict[str, Any]], bool] = lambda _: True,
                  *, poll: float = 0.1, alive: Callable[[], bool] = lambda: True) -> dict[str, Any]:
    """Wait until the file exists and `until(content)` holds; a clear error after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while True:
        last = read_json(path)
        if last is not None and until(last):
            return last
        if time.monotonic() >= deadline or not alive():
            break
        time.sleep(poll)
    if last is None:
        raise StateFileMissing(f"{path} did not appear within {timeout:g} s")
    raise TimeoutError(f"{path} exists but did not reach the expected state within {timeout:g} s")
