"""Property-based fuzzing of the ShopBase order webhook (issue 10): whatever is posted, never a 5xx; without the
shop's valid signature, no write at all; with it, writes only to that shop's own items, never the bystander's.

Run: .venv/bin/pytest -q -p no:randomly -n 2 tests/fuzz   (the tallies are printed at the end)
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.logic.intake import Topic
from tests.fuzz.conftest import BYSTANDER, ORDER_IDS, SECRETS, TARGET, Tally, World
from tests.fuzz.strategies import encoded, header_text, json_values, mutated, numbers, text

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
TOPICS = [topic.value for topic in Topic]
topics = st.sampled_from(TOPICS * 4 + ["orders/delete", "orders/exploded", "refunds/x"])
order_ids = st.one_of(st.sampled_from([*ORDER_IDS, "1009", "1010"]), json_values, numbers, text)
timestamps = st.one_of(st.sampled_from([f"2026-11-2{n}T1{n}:00:00+00:00" for n in range(10)]), json_values)


def orders(world: World) -> st.SearchStrategy[dict[str, Any]]:
    pinned = {"id": st.one_of(st.sampled_from([*ORDER_IDS, "1009", "1010"]), order_ids),
              "updated_at": timestamps,
              "financial_status": st.sampled_from(["paid", "pending", "refunded", "voided", "partially_refunded"])}
    # Few changes, most often: an order that intake accepts, with one field at or past a bound.
    return st.one_of(mutated(world.order_paid, pinned=pinned, max_changes=1),
                     mutated(world.order_paid, pinned=pinned, max_changes=1),
                     mutated(world.order_paid, pinned=pinned, max_changes=4))


def refunds() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"id": json_values, "order_id": order_ids}, optional={"note": json_values})


def check(world: World, tally: Tally, status: int, answer: dict[str, Any], *, authentic: bool) -> None:
    tally.add(status)
    assert status < 500, answer
    assert "error" in answer or "outcome" in answer, answer
    assert not world.writes.naming(BYSTANDER), world.writes.calls
    if not authentic:
        assert status in (400, 401, 404, 413), answer
        assert world.writes.calls == [], world.writes.calls
    elif status != 200:
        assert world.writes.calls == [], (answer, world.writes.calls)


def test_unsigned_and_missigned_deliveries_never_write(world: World, record_property: Any) -> None:
    tally = Tally("webhook: unsigned or mis-signed")
    before = world.shop_state(BYSTANDER)
    signatures = st.sampled_from(["none", "empty", "garbage", "other shop's secret", "wrong body", "case"])
    bodies = st.one_of(orders(world), refunds(), json_values)

    @settings(FUZZ, max_examples=700)
    @given(shop=st.sampled_from([TARGET, TARGET, BYSTANDER, "no-such-shop", "x" * 70, "DEMO-STORE", "demo-store.",
                                 "..", "%2e", "demo-store%2F..%2Fother-store"]), topic=topics,
           body=encoded(bodies), how=signatures, base64_body=st.booleans(),
           domain=st.one_of(st.none(), st.sampled_from([f"{TARGET}.onshopbase.com", "evil.onshopbase.com"]),
                            header_text))
    def deliver(shop: str, topic: str, body: bytes, how: str, base64_body: bool, domain: str | None) -> None:
        shop = shop.replace("/", "_") or "x"
        headers: dict[str, str] = {} if domain is None else {"x-shopbase-shop-domain": domain}
        secret: str | None = None
        if how == "empty":
            headers["x-shopbase-hmac-sha256"] = ""
        elif how == "garbage":
            headers["x-shopbase-hmac-sha256"] = "bm90IGEgc2lnbmF0dXJl"
        elif how == "other shop's secret":
            secret = SECRETS[BYSTANDER] if shop != BYSTANDER else SECRETS[TARGET]
        elif how == "wrong body":
            from shared.shopbase.signature import sign_webhook

            headers["x-shopbase-hmac-sha256"] = sign_webhook(SECRETS.get(shop, "x"), body + b" ")
        elif how == "case":
            from shared.shopbase.signature import sign_webhook

            headers["x-shopbase-hmac-sha256"] = sign_webhook(SECRETS.get(shop, "x"), body).swapcase()
        world.writes.clear()
        status, answer = world.deliver(shop, topic, body, secret=secret, base64_body=base64_body, headers=headers)
        check(world, tally, status, answer, authentic=False)

    deliver()
    assert world.shop_state(BYSTANDER) == before
    record_property("fuzz_tally", json.dumps(tally.as_dict()))


def test_signed_deliveries_never_crash_and_touch_only_their_shop(world: World, record_property: Any) -> None:
    tally = Tally("webhook: signed with the shop's secret")
    before = world.shop_state(BYSTANDER)

    @settings(FUZZ, max_examples=1000)
    @given(topic=topics, body=encoded(st.one_of(orders(world), orders(world), refunds())), base64_body=st.booleans())
    def deliver(topic: str, body: bytes, base64_body: bool) -> None:
        world.writes.clear()
        status, answer = world.deliver(TARGET, topic, body, secret=SECRETS[TARGET], base64_body=base64_body,
                                       headers={"x-shopbase-shop-domain": f"{TARGET}.onshopbase.com"})
        check(world, tally, status, answer, authentic=True)
        if status == 200 and answer["outcome"] in ("created", "updated"):
            assert world.writes.calls and all(f"SHOP#{TARGET}" in call for call in world.writes.calls)

    deliver()
    assert world.shop_state(BYSTANDER) == before
    # The property did reach intake: orders were created and updated, not only refused. (How many of the 1,000
    # are accepted varies from run to run — 45 and 67 seen — as stored orders change later answers; a floor of
    # 20 says the accepting path ran without tying the test to one run's mix.)
    assert tally.statuses[200] >= 20 and tally.statuses[422] > 50, tally
    record_property("fuzz_tally", json.dumps(tally.as_dict()))
