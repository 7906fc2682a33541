"""Placing orders on the AliExpress simulator: happy paths, every refusal, and never twice."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared import wiring
from shared.logic.accounts import RECONNECT_ATTENTION, AliExpressAccounts
from shared.logic.placement import (
    CLAIM_TTL_SECONDS,
    PlacementOutcome,
    Placer,
    logistics_address,
    refusal,
    split_phone,
)
from shared.models.errors import Conflict
from shared.models.order import Order, OrderStatus, Placement
from simulators.aliexpress import AliExpressSimulator
from tests.placement.conftest import (
    BOTTLE,
    BOTTLE_SILVER,
    LAMP,
    SKIRT,
    FakeClock,
    link,
    make_accounts,
    new_order,
    run_threads,
    shop_settings,
    stored_access_token,
)


@pytest.fixture
def placer(connected: str, accounts: AliExpressAccounts, clock: FakeClock) -> Placer:
    return Placer(wiring.orders(), wiring.links(), accounts, wiring.shops(), clock=clock)


@pytest.fixture
def linked(connected: str) -> str:
    link(connected, "1000221", BOTTLE, BOTTLE_SILVER)
    link(connected, "1000387", SKIRT)
    return connected


def stored(shop: str, order_id: str) -> Order:
    order = wiring.orders().get(shop, order_id)
    assert order is not None
    return order


def sim_orders(ae: AliExpressSimulator, out_order_id: str | None = None) -> list[dict[str, Any]]:
    return [o for o in ae.orders() if out_order_id is None or o["out_order_id"] == out_order_id]


def test_place_one_order(linked: str, placer: Placer, ae: AliExpressSimulator) -> None:
    new_order(linked, "5001")
    result = placer.place(linked, "5001")
    assert result.outcome is PlacementOutcome.PLACED, result
    [ae_order] = sim_orders(ae)
    assert result.ae_order_ids == [ae_order["order_id"]]
    order = stored(linked, "5001")
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert [a.ae_order_id for a in order.ae_orders] == [ae_order["order_id"]]
    assert order.ae_orders[0].line_item_ids == ["50010", "50011"]
    assert order.history[-1].cause == "order_placed" and order.reason is None
    assert order.placement is not None and order.placement.out_order_id == f"{linked}-5001-1"
    assert ae_order["out_order_id"] == f"{linked}-5001-1"
    assert sorted((ln["sku_attr"], ln["quantity"]) for ln in ae_order["lines"]) == [("", 1), (BOTTLE_SILVER, 2)]
    address = ae_order["address"]
    assert (address["country"], address["city"], address["province"], address["zip"]) == (
        "US", "Springfield", "Illinois", "62701")
    assert (address["full_name"], address["mobile_no"], address["phone_country"]) == ("Jane Doe", "2175550100", "1")
    # Placing again is a no-op.
    again = placer.place(linked, "5001")
    assert again.outcome is PlacementOutcome.SKIPPED and again.reason_code == "already_placed"
    assert len(sim_orders(ae)) == 1


def test_one_aliexpress_order_per_supplier(linked: str, placer: Placer, ae: AliExpressSimulator) -> None:
    link(linked, "2000001", LAMP)  # another supplier store
    new_order(linked, "5002", lines=[("1000221", 1), ("2000001", 1)])
    result = placer.place(linked, "5002")
    assert result.outcome is PlacementOutcome.PLACED and len(result.ae_order_ids) == 2
    assert sorted(result.ae_order_ids) == sorted(o["order_id"] for o in sim_orders(ae))
    assert all(isinstance(i, str) and len(i) == 16 for i in result.ae_order_ids)  # > 2^53, kept exact
    assert [a.ae_order_id for a in stored(linked, "5002").ae_orders] == result.ae_order_ids


def test_unlinked_item_fails_with_what_to_link(connected: str, placer: Placer, ae: AliExpressSimulator) -> None:
    link(connected, "1000221", BOTTLE, BOTTLE_SILVER)
    new_order(connected, "5003")
    result = placer.place(connected, "5003")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == "UNLINKED_ITEM"
    assert result.reason == "Link variant 1000387 to an AliExpress product, then retry."
    order = stored(connected, "5003")
    assert order.status is OrderStatus.FAILED and order.reason == result.reason and order.placement is None
    assert ae.stats()["calls"].get("aliexpress.ds.order.create") is None


@pytest.mark.parametrize(("setup", "code", "category_words"), [
    ("address", "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "Please enter a city"),
    ("stock", "INVENTORY_HOLD_ERROR", "enough stock"),
    ("shipping", "DELIVERY_METHOD_NOT_EXIST", "shipping method"),
    ("country", "A001_ORDER_CANNOT_BE_PLACED", "cannot be shipped to the customer's country"),
    ("account", "USER_ACCOUNT_DISABLED", "AliExpress account is disabled"),
])
def test_aliexpress_refusals_fail_with_a_sentence(setup: str, code: str, category_words: str, linked: str,
                                                  placer: Placer, ae: AliExpressSimulator) -> None:
    lines: list[tuple[str, int]] = [("1000221", 2)]
    address: dict[str, Any] = {}
    if setup == "address":
        address = {"city": None}
    elif setup == "stock":
        lines = [("1000221", 51)]
    elif setup == "shipping":
        link(linked, "1000221", BOTTLE, BOTTLE_SILVER, service="PIGEON_POST")
    elif setup == "country":
        ae.seed_product("1005004", ship_to=["FR"])
        link(linked, "3000001", "1005004")
        lines = [("3000001", 1)]
    else:
        ae.inject_fault(method="aliexpress.ds.order.create", error_code=code, message="account disabled")
    new_order(linked, "5004", lines=lines, address=address)
    result = placer.place(linked, "5004")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == code
    assert result.reason is not None and category_words in result.reason
    order = stored(linked, "5004")
    assert order.status is OrderStatus.FAILED and (order.reason, order.reason_code) == (result.reason, code)
    assert order.history[-1].cause == "placement_failed"
    assert sim_orders(ae) == []


def test_order_without_an_address_fails_before_calling(linked: str, placer: Placer, ae: AliExpressSimulator) -> None:
    new_order(linked, "5005", address={"country_code": None})
    result = placer.place(linked, "5005")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == "ADDRESS_MISSING"
    assert ae.stats()["calls"].get("aliexpress.ds.order.create") is None


def test_disconnected_account_flags_the_order_reconnect(linked: str, placer: Placer, ae: AliExpressSimulator,
                                                        accounts: AliExpressAccounts) -> None:
    new_order(linked, "5006")
    ae.revoke_token(stored_access_token(linked))
    result = placer.place(linked, "5006")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == "ALIEXPRESS_DISCONNECTED"
    order = stored(linked, "5006")
    # Stays in Awaiting Order (nothing for the seller to fix in the order) but says what to do.
    assert order.status is OrderStatus.AWAITING_ORDER and order.attention == RECONNECT_ATTENTION
    assert shop_settings(linked).aliexpress_connected is False
    # After reconnecting, placing works and the flag goes away; the reference is the same one.
    accounts.connect(linked, ae.issue_code())
    placed = placer.place(linked, "5006")
    assert placed.outcome is PlacementOutcome.PLACED
    order = stored(linked, "5006")
    assert order.attention is None and order.placement is not None and order.placement.attempt == 1
    assert len(sim_orders(ae)) == 1


def test_retry_after_a_refusal_uses_a_new_attempt(linked: str, placer: Placer, ae: AliExpressSimulator) -> None:
    new_order(linked, "5007", lines=[("1000221", 60)])
    assert placer.place(linked, "5007").reason_code == "INVENTORY_HOLD_ERROR"
    assert placer.retry(linked, "5007") is not None
    order = stored(linked, "5007")
    assert order.status is OrderStatus.AWAITING_ORDER and order.reason is None
    assert order.history[-1].cause == "seller_retry"
    ae.seed_product(BOTTLE, store_id="1100", skus=[{"sku_id": "120001", "sku_attr": BOTTLE_SILVER, "stock": 100}])
    result = placer.place(linked, "5007")
    assert result.outcome is PlacementOutcome.PLACED
    assert [o["out_order_id"] for o in sim_orders(ae)] == [f"{linked}-5007-2"]
    with pytest.raises(Conflict, match="only failed orders"):
        placer.retry(linked, "5007")


def test_never_twice_when_the_client_times_out_after_acceptance(linked: str, ae: AliExpressSimulator,
                                                                accounts: AliExpressAccounts,
                                                                clock: FakeClock) -> None:
    impatient = make_accounts(ae, clock, timeout=(1.0, 0.3))
    placer = Placer(wiring.orders(), wiring.links(), impatient, wiring.shops(), clock=clock)
    new_order(linked, "5008")
    # AliExpress accepts, but its answer comes after the client gave up.
    ae.inject_fault(method="aliexpress.ds.order.create", stall=0.8)
    first = placer.place(linked, "5008")
    assert first.outcome is PlacementOutcome.SKIPPED and first.retryable and first.reason_code == "TIMEOUT"
    deadline = time.monotonic() + 5
    while not sim_orders(ae) and time.monotonic() < deadline:  # the stalled request lands after our timeout
        time.sleep(0.05)
    [created] = sim_orders(ae)
    order = stored(linked, "5008")
    assert order.status is OrderStatus.AWAITING_ORDER and order.ae_orders == []
    assert order.placement is not None and order.placement.request_id == "released"
    second = placer.place(linked, "5008")  # the same reference again: AliExpress answers with the same order
    assert second.outcome is PlacementOutcome.PLACED and second.ae_order_ids == [created["order_id"]]
    assert len(sim_orders(ae)) == 1 and ae.stats()["calls"]["aliexpress.ds.order.create"] == 2
    assert stored(linked, "5008").status is OrderStatus.AWAITING_PAYMENT


def test_never_twice_when_the_function_died_after_acceptance(linked: str, placer: Placer,
                                                             accounts: AliExpressAccounts,
                                                             ae: AliExpressSimulator, clock: FakeClock) -> None:
    new_order(linked, "5009")
    # A Lambda that took the claim, got the order accepted, then was killed before recording anything.
    claim = placer._claim(linked, "5009")
    assert isinstance(claim, Placement)
    accounts.call(linked, lambda client, token: client.create_order(
        token, out_order_id=claim.out_order_id, logistics_address=logistics_address(stored(linked, "5009")),
        product_items=[{"product_id": BOTTLE, "product_count": 2, "sku_attr": BOTTLE_SILVER}]))
    [created] = sim_orders(ae)
    held = placer.place(linked, "5009")
    assert held.outcome is PlacementOutcome.SKIPPED and held.reason_code == "in_progress"
    clock.advance(CLAIM_TTL_SECONDS + 1)  # the claim outlived any function: take it over
    result = placer.place(linked, "5009")
    assert result.outcome is PlacementOutcome.PLACED and result.ae_order_ids == [created["order_id"]]
    assert len(sim_orders(ae)) == 1


def test_an_unconfirmed_reference_older_than_a_day_is_never_resent(linked: str, placer: Placer,
                                                                   ae: AliExpressSimulator,
                                                                   clock: FakeClock) -> None:
    new_order(linked, "5010")
    placer._claim(linked, "5010")
    clock.advance(24 * 3600)
    result = placer.place(linked, "5010")
    assert result.outcome is PlacementOutcome.SKIPPED and result.reason_code == "PLACEMENT_UNCONFIRMED"
    assert f"{linked}-5010-1" in (stored(linked, "5010").attention or "")
    assert ae.stats()["calls"].get("aliexpress.ds.order.create") is None


def test_concurrent_placements_create_exactly_one_aliexpress_order(linked: str, placer: Placer,
                                                                   ae: AliExpressSimulator) -> None:
    new_order(linked, "5011")
    ae.set_latency(0.2)  # the winner is still talking to AliExpress while the others arrive
    results = run_threads(8, lambda _: placer.place(linked, "5011"))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes.count("placed") == 1, results
    assert all(r.outcome in (PlacementOutcome.PLACED, PlacementOutcome.SKIPPED) for r in results)
    assert len(sim_orders(ae)) == 1
    order = stored(linked, "5011")
    assert order.status is OrderStatus.AWAITING_PAYMENT and len(order.ae_orders) == 1


def test_orders_not_awaiting_order_are_skipped(linked: str, placer: Placer) -> None:
    new_order(linked, "5012", status=OrderStatus.PENDING)
    assert placer.place(linked, "5012").reason_code == "wrong_status"
    assert placer.place(linked, "404404").reason_code == "not_found"


def test_address_mapping_and_tax_ids() -> None:
    assert split_phone("+55 (11) 91234-5678", "BR") == ("55", "11912345678")
    assert split_phone("0612345678", "FR") == ("33", "0612345678")
    assert split_phone(None, "US") == ("", "")
    for country, field in (("BR", "cpf"), ("CL", "rut_no"), ("MX", "passport_no"), ("IT", "tax_number")):
        order = Order.model_validate({
            "shop": "s", "order_id": "1", "status": "awaiting_order", "created_at": "2026-11-20T00:00:00Z",
            "shipping_address": {"name": "Ana Lima", "address1": "Rua A 1", "city": "Sao Paulo", "province": "SP",
                                 "country_code": country, "zip": "01000-000", "tax_id": " 123.456.789-09 "}})
        address = logistics_address(order)
        assert address[field] == "123.456.789-09" and address["country"] == country
        assert "address2" not in address  # empty fields are left out


def test_one_mapping_table_for_refusals() -> None:
    assert refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL_CPF_NOT_MATCH", "cpf")[0] == "address"
    assert "CPF" in refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL_CPF_CN_INVALID", "x")[1]
    assert refusal("A006_INVALID_ACCOUNT_INFO", "bad")[0] == "account"
    assert refusal("BLACKLIST_BUYER_IN_LIST", "")[0] == "account"
    assert refusal("PRICE_PAY_CURRENCY_ERROR", "")[0] == "payment"
    category, sentence = refusal("SOMETHING_NEW", "a new refusal")
    assert category == "other" and "SOMETHING_NEW" in sentence and "a new refusal" in sentence


def test_accepted_but_answered_with_an_error_is_resent_with_the_same_reference(
        linked: str, placer: Placer, ae: AliExpressSimulator, clock: FakeClock) -> None:
    new_order(linked, "5013")
    ae.inject_fault(method="aliexpress.ds.order.create", error_code="isp.service-unavailable", when="after")
    first = placer.place(linked, "5013")
    assert first.outcome is PlacementOutcome.SKIPPED and first.retryable
    [created] = sim_orders(ae)  # AliExpress did create it
    assert placer.place(linked, "5013").ae_order_ids == [created["order_id"]]
    # A client that retries by itself resends the same reference too: still one order.
    retrying = Placer(wiring.orders(), wiring.links(), make_accounts(ae, clock, max_retries=2), wiring.shops(),
                      clock=clock)
    new_order(linked, "5014")
    ae.inject_fault(method="aliexpress.ds.order.create", error_code="isp.service-unavailable", when="after")
    assert retrying.place(linked, "5014").outcome is PlacementOutcome.PLACED
    assert len(sim_orders(ae, f"{linked}-5014-1")) == 1 and len(sim_orders(ae)) == 2


def test_racing_batches_with_faults_place_each_order_once(linked: str, placer: Placer,
                                                          ae: AliExpressSimulator) -> None:
    ids = [f"52{n:02d}" for n in range(6)]
    for order_id in ids:
        new_order(linked, order_id)
    ae.set_latency(0.05)
    ae.inject_fault(2, method="aliexpress.ds.order.create", error_code="isp.service-unavailable", when="after")

    def worker(i: int) -> list[PlacementOutcome]:
        order = ids if i % 2 == 0 else list(reversed(ids))
        return [placer.place(linked, oid).outcome for _ in range(2) for oid in order]

    results = run_threads(4, worker)
    assert not [r for r in results if isinstance(r, Exception)]
    for order_id in ids:  # whatever the interleaving: at most one AliExpress order per store order
        assert len(sim_orders(ae, f"{linked}-{order_id}-1")) <= 1
        placer.place(linked, order_id)  # finish the in-doubt ones
        assert stored(linked, order_id).status is OrderStatus.AWAITING_PAYMENT
    assert len(sim_orders(ae)) == len(ids) == ae.stats()["orders_created"]
