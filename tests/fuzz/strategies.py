"""Hypothesis strategies for what an attacker or a broken client sends: values at and past every bound, JSON of any
shape, valid bodies with fields replaced, and bytes that are not JSON or not UTF-8."""

from __future__ import annotations

import copy
import json
import string
from typing import Any

from hypothesis import strategies as st

SPECIAL_TEXT = [
    "", " ", "0", "-1", "null", "true", "#", "10#01", "1001#", "%23", "../..", "\x00", "\u202e", "\ufeff", "é",
    "\udc80", "\ud800", "🙂", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1970-01-01T00:00:00Z",
    "2026-11-20T09:15:41+00:00", "1e400", "NaN", "Infinity", "-0", "0x1F", "١٢٣", "1" * 20, "9" * 39,
    "<script>alert(1)</script>", "'; DROP TABLE orders; --", "SHOP#other-store", "ORDER#00000000000000001001",
]
SPECIAL_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64, 10**38, 10**39, 10**40, -(10**40), 1_000_000,
                   1_000_001, 1e308, 1e-308, 0.1, 12.95, -0.0]

long_text = st.builds(lambda char, n: char * n, st.sampled_from(["a", "9", "#", "é", "\x00", "🙂"]),
                      st.sampled_from([64, 65, 256, 1024, 1025, 5000, 100_000]))
text = st.one_of(st.text(max_size=30), st.sampled_from(SPECIAL_TEXT), long_text)
numbers = st.one_of(st.integers(), st.sampled_from(SPECIAL_NUMBERS), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(min_value=10**30, max_value=10**80))
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=12)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (keys and list indexes), the value's own () excluded."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.append((*prefix, key))
        found += paths_of(child, (*prefix, key))
    return found


def _apply(document: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    node = document
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return  # an earlier change removed the way there
    last = path[-1]
    try:
        if action == "delete":
            del node[last]
        else:
            node[last] = value
    except (KeyError, IndexError, TypeError):
        return


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], *, pinned: dict[str, Any] | None = None,
            max_changes: int = 4) -> dict[str, Any]:
    """`base` with a few fields replaced by nasty values, deleted, or added; `pinned` keys drawn from their own
    strategies (an order id from a small pool, so later deliveries update earlier ones)."""
    document = copy.deepcopy(base)
    for key, strategy in (pinned or {}).items():
        document[key] = draw(strategy)
    paths = paths_of(base)
    for _ in range(draw(st.integers(0, max_changes))):
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        if action == "add":
            _apply(document, (draw(st.text(max_size=12)),), "set", draw(json_values))
        else:
            _apply(document, draw(st.sampled_from(paths)), action, draw(json_values))
    return document


def deep(depth: int, key: str = "x") -> bytes:
    return b'{"' + key.encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def encoded(draw: st.DrawFn, document: st.SearchStrategy[Any]) -> bytes:
    """A JSON document as bytes, most often as sent, sometimes re-encoded, cut, corrupted or replaced."""
    value = draw(document)
    try:
        raw = json.dumps(value).encode()
    except (ValueError, RecursionError):
        raw = b"{}"
    kind = draw(st.sampled_from(["json"] * 14 + ["utf-16", "latin-1", "cut", "flip", "deep", "bytes", "value",
                                                 "empty", "utf-8-bom"]))
    if kind == "utf-16":
        return json.dumps(value, ensure_ascii=False).encode("utf-16", "surrogatepass")
    if kind == "latin-1":
        return json.dumps(value, ensure_ascii=False).encode("latin-1", "replace")
    if kind == "cut" and raw:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:]
    if kind == "deep":
        return deep(draw(st.sampled_from([33, 500, 1000, 5000, 100_000])))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "empty":
        return b""
    if kind == "utf-8-bom":
        return b"\xef\xbb\xbf" + raw
    return raw


PATH_CHARS = string.ascii_letters + string.digits + "-._~()'!*:@,;=+&$%"
path_segment = st.one_of(st.text(alphabet=PATH_CHARS, min_size=1, max_size=20), st.sampled_from(
    ["1001", "1002", "1003", "999", "0", "01001", "-1", "1001%23x", "%00", "9" * 65, "9" * 2000, "a" * 1025]))
# Header values as API Gateway passes them: printable Latin-1 text (a JSON event never carries raw bytes there).
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
