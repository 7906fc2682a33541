"""Property-based fuzzing of every seller API route (issue 10): bodies, query parameters, path parameters and tokens.
Whatever is sent, never a 5xx; without the shop's own token, a 401 (or a 404 for a path that is no route) and no
write at all; with it, never a write naming the bystander shop, whose data stays exactly as it was.

Run: .venv/bin/pytest -q -p no:randomly -n 2 tests/fuzz   (the tallies are printed at the end)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import BYSTANDER, ORDER_IDS, TARGET, TOKENS, Tally, World
from tests.fuzz.strategies import encoded, header_text, json_values, mutated, path_segment, text

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
ids = st.one_of(st.sampled_from(ORDER_IDS), path_segment)
order_id_values = st.one_of(st.sampled_from(ORDER_IDS), json_values)
VALID_BODIES: dict[str, dict[str, Any]] = {
    "place": {"order_ids": ["1005"]},
    "fulfill": {"tracking_number": "MAN1000001", "carrier": "USPS", "tracking_url": "https://t.example/1",
                "line_items": [{"id": "90817001", "quantity": 1}]},
    "link": {"product_id": "1005001", "sku_attr": "14:193#Silver;5:100014064", "shipping_service": "CAINIAO",
             "ship_to_country": "US"},
    "settings": {"auto_place": False, "notify_customer": True, "send_tracking_email": False,
                 "sender_email": "orders@demo-store.example", "default_shipping_service": "CAINIAO"},
}


def body_of(kind: str) -> st.SearchStrategy[bytes | None]:
    documents = st.one_of(mutated(VALID_BODIES[kind]), mutated(VALID_BODIES[kind], max_changes=1), json_values)
    return st.one_of(encoded(documents), encoded(documents), encoded(documents), st.none())


# (method, path template, body strategy): every route of functions/seller_api, and a few that are none.
ROUTES: list[tuple[str, str, st.SearchStrategy[bytes | None]]] = [
    ("GET", "/shops/{shop}/orders", st.none()),
    ("GET", "/shops/{shop}/orders/{id}", st.none()),
    ("POST", "/shops/{shop}/orders/place", body_of("place")),
    ("POST", "/shops/{shop}/orders/{id}/retry", st.one_of(st.none(), encoded(json_values))),
    ("POST", "/shops/{shop}/orders/{id}/fulfill", body_of("fulfill")),
    ("POST", "/shops/{shop}/orders/{id}/sync", st.one_of(st.none(), encoded(json_values))),
    ("POST", "/shops/{shop}/sync", st.one_of(st.none(), encoded(json_values))),
    ("PUT", "/shops/{shop}/links/{id}", body_of("link")),
    ("GET", "/shops/{shop}/links/{id}", st.none()),
    ("DELETE", "/shops/{shop}/links/{id}", st.none()),
    ("GET", "/shops/{shop}/links", st.none()),
    ("GET", "/shops/{shop}/settings", st.none()),
    ("PATCH", "/shops/{shop}/settings", body_of("settings")),
    ("DELETE", "/shops/{shop}/orders", encoded(json_values)),
    ("POST", "/shops/{shop}/{id}", encoded(json_values)),
    ("GET", "/{id}", st.none()),
]
routes = st.sampled_from(ROUTES)


def q(value: str) -> str:
    """Percent-encoded as a client would send it; a lone surrogate stands for a byte that is not UTF-8."""
    try:
        return quote(value, safe="", errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(value, safe="", errors="surrogatepass")


# Query strings: the list route's own parameters, random ones, and raw text.
query_values = st.one_of(text, st.sampled_from(["all", "pending", "awaiting_order", "1", "50", "100", "101", "0"]))
queries = st.one_of(
    st.just(""),
    st.dictionaries(st.sampled_from(["tab", "limit", "cursor", "x", "order_id", ""]), query_values, max_size=3)
    .map(lambda params: "&".join(f"{q(k)}={q(v)}" for k, v in params.items())),
    st.text(max_size=40).map(lambda raw: quote(raw, safe="=&", errors="surrogatepass")),
)


def tokens_for(shop: str) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    """(kind, headers): the target's token, the bystander's, garbage, or none, in a few header spellings. The
    bystander's own token is never sent to the bystander's routes: its data must not change."""
    if shop == BYSTANDER:
        return st.sampled_from([("other", {"authorization": f"Bearer {TOKENS[TARGET]}"}), ("none", {})])
    return st.one_of(
        st.just(("own", {"authorization": f"Bearer {TOKENS[TARGET]}"})),
        st.just(("own", {"Authorization": f"bearer {TOKENS[TARGET]}"})),
        st.just(("other", {"authorization": f"Bearer {TOKENS[BYSTANDER]}"})),
        st.just(("none", {})),
        header_text.map(lambda value: ("garbage", {"authorization": value})),
        header_text.map(lambda value: ("garbage", {"authorization": f"Bearer {value}"})),
        st.just(("garbage", {"authorization": f"Basic {TOKENS[TARGET]}"})),
        st.just(("garbage", {"authorization": f"Bearer {TOKENS[TARGET]}x"})),
    )


def check(world: World, tally: Tally, status: int, answer: dict[str, Any], *, authorised: bool,
          bystander_before: Any = None) -> None:
    tally.add(status)
    assert status < 500, answer
    assert isinstance(answer, dict) and ("error" in answer) == (status >= 400), answer
    assert not world.writes.naming(BYSTANDER), world.writes.calls
    if not authorised:
        assert status in (401, 404), answer
        assert world.writes.calls == [], world.writes.calls


def test_every_route_with_any_token_body_and_query(world: World, record_property: Any) -> None:
    tally = Tally("seller API: every route, any token, body, path and query")
    before = world.shop_state(BYSTANDER)

    @settings(FUZZ, max_examples=900)
    @given(route=routes, shop=st.sampled_from([TARGET, TARGET, TARGET, BYSTANDER, "no-such-shop", "DEMO-STORE"]),
           path_id=ids, query=queries, base64_body=st.booleans(), data=st.data())
    def request(route: tuple[str, str, Any], shop: str, path_id: str, query: str, base64_body: bool,
                data: st.DataObject) -> None:
        method, template, bodies = route
        kind, headers = data.draw(tokens_for(shop))
        body = data.draw(bodies)
        path = template.format(shop=shop, id=path_id)
        world.writes.clear()
        status, answer = world.call(method, path, headers=headers, body=body, query=query, base64_body=base64_body)
        check(world, tally, status, answer, authorised=kind == "own" and shop == TARGET)

    request()
    assert world.shop_state(BYSTANDER) == before
    record_property("fuzz_tally", json.dumps(tally.as_dict()))


def test_body_routes_with_the_shops_token(world: World, record_property: Any) -> None:
    """The routes that read a body, always authorised, so every input reaches the body's parsing and the use case."""
    tally = Tally("seller API: bodies of place, fulfill, link, settings (authorised)")
    before = world.shop_state(BYSTANDER)
    auth = {"authorization": f"Bearer {TOKENS[TARGET]}"}
    body_routes = [r for r in ROUTES if r[1].endswith(("/place", "/fulfill", "/links/{id}", "/settings"))
                   and r[0] != "GET" and r[0] != "DELETE"]

    @settings(FUZZ, max_examples=700)
    @given(route=st.sampled_from(body_routes), path_id=st.sampled_from([*ORDER_IDS, "1000221", "1000387"]),
           base64_body=st.booleans(), data=st.data())
    def request(route: tuple[str, str, Any], path_id: str, base64_body: bool, data: st.DataObject) -> None:
        method, template, bodies = route
        body = data.draw(bodies)
        world.writes.clear()
        status, answer = world.call(method, template.format(shop=TARGET, id=path_id), headers=auth, body=body,
                                    base64_body=base64_body)
        check(world, tally, status, answer, authorised=True)
        if status >= 400:
            assert all("RATE#" in call for call in world.writes.calls), (answer, world.writes.calls)

    request()
    assert world.shop_state(BYSTANDER) == before
    assert tally.statuses[200] + tally.statuses[202] > 20 and tally.statuses[422] > 100, tally
    record_property("fuzz_tally", json.dumps(tally.as_dict()))


def test_order_pages_with_any_tab_limit_and_cursor(world: World, record_property: Any) -> None:
    """GET /shops/{shop}/orders: issued cursors (this shop's, another tab's, the bystander's), cursors with a
    character changed, and anything else; never a write, never another shop's orders."""
    tally = Tally("seller API: order pages (tab, limit, cursor)")
    auth = {"authorization": f"Bearer {TOKENS[TARGET]}"}
    issued = list(world.cursors.values())

    @st.composite
    def cursors(draw: st.DrawFn) -> str:
        cursor = draw(st.sampled_from(issued))
        how = draw(st.sampled_from(["as issued", "as issued", "change", "cut", "append", "other"]))
        if how == "change":
            at = draw(st.integers(0, len(cursor) - 1))
            return cursor[:at] + draw(st.characters(codec="utf-8")) + cursor[at + 1:]
        if how == "cut":
            return cursor[: draw(st.integers(0, len(cursor) - 1))]
        if how == "append":
            return cursor + draw(st.text(max_size=5))
        if how == "other":
            return draw(text)
        return cursor

    tabs = st.sampled_from(["all", "pending", "awaiting_order", "fulfilled"])

    @st.composite
    def valid_pages(draw: st.DrawFn) -> tuple[str | None, str | None, str | None]:
        tab = draw(st.one_of(st.none(), tabs))
        cursor = world.cursors.get(f"{TARGET}/{tab or 'all'}")
        return tab, draw(st.one_of(st.none(), st.integers(1, 100).map(str))), draw(st.sampled_from([None, cursor]))

    limits = st.one_of(st.none(), st.integers(-5, 200).map(str), text)
    fuzzed_pages = st.tuples(st.one_of(st.none(), tabs, text), limits, st.one_of(st.none(), cursors()))

    @settings(FUZZ, max_examples=300)
    @given(request=st.one_of(valid_pages(), fuzzed_pages, fuzzed_pages))
    def page(request: tuple[str | None, str | None, str | None]) -> None:
        tab, limit, cursor = request
        params = {name: value for name, value in (("tab", tab), ("limit", limit), ("cursor", cursor))
                  if value is not None}
        query = "&".join(f"{name}={q(value)}" for name, value in params.items())
        world.writes.clear()
        status, answer = world.call("GET", f"/shops/{TARGET}/orders", headers=auth, query=query)
        check(world, tally, status, answer, authorised=True)
        assert world.writes.calls == [], world.writes.calls
        if status == 200:
            assert all(row["order_id"] in ORDER_IDS or row["order_id"].isdigit() for row in answer["orders"])
            assert BYSTANDER not in json.dumps(answer)
            assert "shipping_address" not in json.dumps(answer) and "@" not in json.dumps(answer["orders"])

    page()
    assert tally.statuses[200] > 50 and tally.statuses[400] > 100, tally  # both the pages and the refusals ran
    record_property("fuzz_tally", json.dumps(tally.as_dict()))
