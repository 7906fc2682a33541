"""The state file under concurrent writes and reads: readers never see a partial or readable-by-others file."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from local.state_file import StateFileMissing, read_json, wait_for_json, write_json_atomic

ROUNDS = 3000


def test_reader_never_sees_a_partial_or_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    write_json_atomic(path, {"round": -1, "padding": ""})
    stop = threading.Event()
    seen: dict[int, list[int]] = {0: [], 1: []}
    problems: list[str] = []

    def read_repeatedly(reader: int) -> None:
        while not stop.is_set():
            try:
                content = read_json(path)
            except ValueError as error:  # JSONDecodeError: a partial file
                problems.append(f"partial: {error}")
                continue
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077:
                problems.append(f"mode {oct(mode)}")
            if content is None:
                problems.append("missing")
            else:
                seen[reader].append(content["round"])
            stop.wait(0.0005)  # let the writer run: reads still land at every phase of its writes

    readers = [threading.Thread(target=read_repeatedly, args=(i,)) for i in range(2)]
    for reader in readers:
        reader.start()
    try:
        for round_ in range(ROUNDS):
            # Large enough that a non-atomic write would be visible half-written.
            write_json_atomic(path, {"round": round_, "padding": "x" * (round_ % 7 * 4096)})
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert problems == []
    for rounds in seen.values():
        assert len(rounds) > 100
        assert rounds == sorted(rounds)  # each reader sees the rounds only move forward
    assert [p.name for p in tmp_path.iterdir()] == ["stack.json"]  # no temporary files left behind


def test_a_new_file_is_created_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = write_json_atomic(tmp_path / "sub" / "stack.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_json(path) == {"a": 1}


def test_readers_wait_for_the_file_and_say_so_after_their_deadline(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    assert read_json(path) is None
    with pytest.raises(StateFileMissing, match=r"did not appear within 0\.2 s"):
        wait_for_json(path, 0.2, poll=0.01)
    timer = threading.Timer(0.1, write_json_atomic, args=(path, {"api": "http://127.0.0.1:1"}))
    timer.start()
    assert wait_for_json(path, 5, lambda content: "api" in content, poll=0.01) == {"api": "http://127.0.0.1:1"}
    timer.join()
    with pytest.raises(TimeoutError, match="expected state"):
        wait_for_json(path, 0.1, lambda content: "shops" in content, poll=0.01)
