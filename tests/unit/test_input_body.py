"""Reading request bodies (issue 10, items 5, 6 and 7): the raw bytes of an API Gateway v2 event, and their JSON
value, with a 400 that says why for anything else. The answers end to end are in tests/integration/."""

from __future__ import annotations

import base64
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from shared.logic.webhooks import MAX_JSON_DEPTH, read_payload
from shared.models.errors import BadRequest
from shared.web import parse_body, request_body, shown


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""


def event(body: str | None, base64_body: bool = False) -> dict[str, object]:
    return {"body": body, "isBase64Encoded": base64_body}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_any_bytes_come_back_exactly_from_either_encoding(raw: bytes) -> None:
    assert request_body(event(base64.b64encode(raw).decode(), True)) == raw
    # As text, bytes that are not UTF-8 travel as lone surrogates (the only way a JSON event can carry them).
    assert request_body(event(raw.decode("utf-8", "surrogateescape"))) == raw


def test_no_body_is_no_bytes() -> None:
    assert request_body(event(None)) == request_body(event("")) == request_body({}) == b""


@pytest.mark.parametrize("text", ["not base64!", "abc", "ab=c", "\u00e9"])
def test_a_body_marked_base64_that_is_not_is_400(text: str) -> None:
    with pytest.raises(BadRequest, match="body is not valid base64"):
        request_body(event(text, True))


def test_text_with_surrogates_outside_surrogateescape_still_gives_bytes() -> None:
    assert request_body(event("\ud800x")) == "\ud800x".encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("raw", [random.Random(5).randbytes(32) + b"\xff", "{}".encode("utf-16"),
                                 '{"name": "Café"}'.encode("latin-1")], ids=["random", "utf-16", "latin-1"])
def test_bytes_that_are_not_utf8_are_400_from_both_readers(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="body is not UTF-8 text"):
        parse_body(raw, Body)
    with pytest.raises(BadRequest, match="body is not UTF-8 text"):
        parse_body(event(base64.b64encode(raw).decode(), True), Body)
    with pytest.raises(BadRequest, match="body is not UTF-8 text"):
        read_payload(raw)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_nesting_past_the_recursion_limit_is_400(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    with pytest.raises(BadRequest, match="body is nested too deeply"):
        parse_body(raw, Body)
    with pytest.raises(BadRequest, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        read_payload(raw)


def test_the_webhook_reads_nesting_up_to_its_bound_exactly() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)

    assert read_payload(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(BadRequest, match="nested deeper"):
        read_payload(nested(MAX_JSON_DEPTH + 1))


def test_parse_body_takes_the_event_text_or_bytes() -> None:
    raw = json.dumps({"name": "Jane"})
    assert parse_body(event(raw), Body).name == "Jane"
    assert parse_body(event(base64.b64encode(raw.encode()).decode(), True), Body).name == "Jane"
    assert parse_body(raw, Body).name == parse_body(raw.encode(), Body).name == "Jane"
    assert parse_body(None, Body) == parse_body(event(None), Body) == Body()
    with pytest.raises(BadRequest, match="body is not valid JSON"):
        parse_body("{nope", Body)


def test_shown_cuts_long_values() -> None:
    assert shown("1001") == "1001"
    assert shown("9" * 2000) == "9" * 40 + "…"
