"""A request body's JSON value: UTF-8 text holding JSON, optionally of a bounded depth; BadRequest otherwise.

One reader for the seller API (`shared.web`) and the webhook intake (`shared.logic.webhooks`, which bounds the
depth: unknown fields are kept as sent, so how deep they go is limited here).
"""

from __future__ import annotations

import json
from typing import Any

from shared.models.errors import BadRequest


def read_json(raw: bytes, *, max_depth: int | None = None) -> Any:
    """The JSON value of `raw`: BadRequest unless it is UTF-8 text holding JSON (nested at most `max_depth`)."""
    too_deep = "body is nested too deeply" if max_depth is None else f"body is nested deeper than {max_depth} levels"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest("body is not UTF-8 text") from error
    try:
        value = json.loads(text)
    except RecursionError as error:  # past Python's recursion limit (about 1,000 levels)
        raise BadRequest(too_deep) from error
    except ValueError as error:
        raise BadRequest("body is not valid JSON") from error
    if max_depth is not None and _deeper_than(value, max_depth):
        raise BadRequest(too_deep)
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
