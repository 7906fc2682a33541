"""Page cursors (issue 10, item 7): opaque and authenticated, good only for the shop and tab that got them; anything
else is InvalidCursor (400) before DynamoDB sees it, and without a key pages fail closed (503)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.data.orders import CursorKeyMissing, InvalidCursor, PageCursors, derive_cursor_key

KEY = derive_cursor_key("state-key")
ALL_KEY = {"pk": "SHOP#demo-store", "sk": "ORDER#00000000000000001002"}
TAB_KEY = {**ALL_KEY, "tab_pk": "demo-store#awaiting_order", "tab_sk": "2026-11-21T00:00:00+00:00#1002"}


def cursors(key: bytes = KEY) -> PageCursors:
    return PageCursors(lambda: key)


@pytest.mark.parametrize(("tab", "last"), [("all", ALL_KEY), ("awaiting_order", TAB_KEY)])
def test_an_issued_cursor_reads_back_for_its_shop_and_tab_only(tab: str, last: dict[str, Any]) -> None:
    cursor = cursors().issue("demo-store", tab, last)
    assert cursors().read("demo-store", tab, cursor) == last
    assert "SHOP#" not in cursor and "=" not in cursor  # opaque, and safe in a query string as it is
    for shop, other_tab in (("other-store", tab), ("demo-store", "pending")):
        with pytest.raises(InvalidCursor):
            cursors().read(shop, other_tab, cursor)
    with pytest.raises(InvalidCursor):
        cursors(derive_cursor_key("rotated")).read("demo-store", tab, cursor)


def test_the_cursor_key_is_not_the_state_key_itself() -> None:
    assert KEY != b"state-key" and len(KEY) == 32 and derive_cursor_key("state-key") == KEY


def test_a_signed_key_of_the_wrong_shape_is_still_refused() -> None:
    # Defence in depth: even a cursor signed with our key must continue this shop's tab.
    for last in ({"pk": "SHOP#demo-store", "sk": "SETTINGS"}, {**ALL_KEY, "extra": "x"},
                 {"pk": "SHOP#other", "sk": "ORDER#1"}, {"pk": "SHOP#demo-store", "sk": 5}):
        with pytest.raises(InvalidCursor):
            cursors().read("demo-store", "all", cursors().issue("demo-store", "all", last))


def forged(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize("cursor", [
    forged(ALL_KEY), forged({**ALL_KEY, "x": "1"}), forged({"pk": "SHOP#demo-store", "sk": "ORDER#" + "9" * 3000}),
    "", ".", "a.b", "x" * 5000, "é", f"{forged(ALL_KEY).rstrip('=')}.{'A' * 43}",
])
def test_a_cursor_we_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="start again from the first page"):
        cursors().read("demo-store", "all", cursor)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_any_change_to_an_issued_cursor_is_refused(data: st.DataObject) -> None:
    cursor = cursors().issue("demo-store", "all", ALL_KEY)
    position = data.draw(st.integers(0, len(cursor) - 1))
    replacement = data.draw(st.text(min_size=0, max_size=3))
    changed = cursor[:position] + replacement + cursor[position + 1:]
    if changed != cursor:
        with pytest.raises(InvalidCursor):
            cursors().read("demo-store", "all", changed)


@pytest.mark.parametrize("provider", [lambda: b"", lambda: (_ for _ in ()).throw(KeyError("state_signing_key")),
                                      lambda: (_ for _ in ()).throw(ValueError("app secret is not valid"))])
def test_without_a_key_cursors_fail_closed_at_use(provider: Any) -> None:
    missing = PageCursors(provider)
    with pytest.raises(CursorKeyMissing, match="no cursor signing key"):
        missing.issue("demo-store", "all", ALL_KEY)
    with pytest.raises(CursorKeyMissing):
        missing.read("demo-store", "all", f"abc.{'A' * 43}")
    with pytest.raises(CursorKeyMissing):
        PageCursors(None).issue("demo-store", "all", ALL_KEY)
