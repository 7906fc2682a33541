"""Placement decisions over in-memory repositories and a scripted AliExpress: what is placeable, the claim
(never twice), the request built from the order, refusals mapped to sentences, and a seller's retry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.aliexpress.errors import (
    AliExpressError,
    BusinessError,
    RepeatedOrderError,
    ServiceUnavailableError,
    TransportError,
)
from shared.lifecycle import Event, transition
from shared.logic.accounts import RECONNECT_ATTENTION, AliExpressDisconnected
from shared.logic.auto_place import CLOSED
from shared.logic.placement import (
    CLAIM_TTL_SECONDS,
    DEDUP_WINDOW_SECONDS,
    FALLBACK,
    REFUSALS,
    RELEASED,
    AddressProblem,
    PlacementOutcome,
    PlacementResult,
    Placer,
    logistics_address,
    product_items,
    refusal,
    split_phone,
)
from shared.models.errors import Conflict, NotFound
from shared.models.order import Address, AeOrder, Customer, LineItem, Order, OrderStatus, Placement
from shared.models.shop import Link, ShopSettings
from tests.unit.fakes import InMemoryLinks, InMemoryOrders, InMemoryShops
from tests.unit.fakes_intake import ScriptedAliExpress

SHOP = "demo-store"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()
ADDRESS = {"first_name": "Jane", "last_name": "Doe", "name": "Jane Doe", "address1": "12 Example Street",
           "address2": "Apt 3", "city": "Springfield", "province": "Illinois", "province_code": "IL",
           "country_code": "US", "zip": "62701", "phone": "+1 217 555 0100"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make_order(order_id: str = "1", *, status: OrderStatus = OrderStatus.AWAITING_ORDER,
               lines: list[tuple[str | None, int]] | None = None, address: dict[str, Any] | None = None,
               **fields: Any) -> Order:
    lines = lines if lines is not None else [("1000221", 2), ("1000387", 1)]
    return Order(shop=SHOP, order_id=order_id, name=f"#{order_id}", status=status,
                 created_at=datetime(2026, 11, 20, tzinfo=UTC), customer=Customer(first_name="Jane"),
                 shipping_address=Address(**{**ADDRESS, **(address or {})}),
                 line_items=[LineItem(id=f"{order_id}{n}", variant_id=v, quantity=q, title=f"item {v}")
                             for n, (v, q) in enumerate(lines)], **fields)


class World:
    def __init__(self, *answers: list[str] | Exception) -> None:
        self.orders, self.links, self.shops = InMemoryOrders(), InMemoryLinks(), InMemoryShops()
        self.aliexpress = ScriptedAliExpress(*answers)
        self.clock = Clock()
        self.placer = Placer(self.orders, self.links, self.aliexpress, self.shops,  # type: ignore[arg-type]
                             clock=self.clock)
        for variant, product, sku in (("1000221", "1005001", "14:193#Silver"), ("1000387", "1005002", "")):
            self.links.put(Link(shop=SHOP, variant_id=variant, product_id=product, sku_attr=sku))

    def add(self, order: Order) -> Order:
        return self.orders.add(order)

    def stored(self, order_id: str = "1") -> Order:
        order = self.orders.get(SHOP, order_id)
        assert order is not None
        return order


# ---------------------------------------------------------------- what is placeable


@pytest.mark.parametrize(("order", "code"), [
    (make_order(fulfilled_in_store=True), "fulfilled_in_store"),
    (make_order(status=OrderStatus.AWAITING_PAYMENT, ae_orders=[AeOrder(ae_order_id="81")]), "already_placed"),
    (make_order(status=OrderStatus.AWAITING_PAYMENT), "wrong_status"),
    (make_order(status=OrderStatus.PENDING), "wrong_status"),
    (make_order(status=OrderStatus.FAILED), "wrong_status"),
    (make_order(status=OrderStatus.CANCELED, ae_orders=[AeOrder(ae_order_id="81")]), "wrong_status"),
])
def test_not_placeable(order: Order, code: str) -> None:
    world = World()
    verdict = world.placer._not_placeable(order)
    assert verdict is not None and verdict.outcome is PlacementOutcome.SKIPPED and verdict.reason_code == code
    assert not verdict.retryable
    if code == "already_placed":
        assert verdict.ae_order_ids == ["81"]
    world.add(order)
    assert world.placer.place(SHOP, "1").reason_code == code
    assert world.aliexpress.requests == []


def test_an_awaiting_order_is_placeable() -> None:
    assert World().placer._not_placeable(make_order()) is None


def test_unknown_and_empty_orders_are_skipped() -> None:
    world = World()
    assert world.placer.place(SHOP, "404").reason_code == "not_found"
    world.add(make_order(lines=[("1000221", 0)]))
    assert world.placer.place(SHOP, "1").reason_code == "empty"
    assert world.aliexpress.requests == []


# ---------------------------------------------------------------- the request


def test_product_items_merge_lines_of_one_sku_and_use_the_default_service() -> None:
    links = {"a": Link(shop=SHOP, variant_id="a", product_id="P1", sku_attr="1:2"),
             "b": Link(shop=SHOP, variant_id="b", product_id="P1", sku_attr="1:2"),
             "c": Link(shop=SHOP, variant_id="c", product_id="P1", sku_attr="1:2", shipping_service="EMS"),
             "d": Link(shop=SHOP, variant_id="d", product_id="P2")}
    order = make_order(lines=[("a", 2), ("b", 1), ("c", 4), ("d", 1), ("d", 0), (None, 3)])
    assert product_items(order, links, "CAINIAO_STANDARD") == [
        {"product_id": "P1", "product_count": 3, "sku_attr": "1:2", "logistics_service_name": "CAINIAO_STANDARD"},
        {"product_id": "P1", "product_count": 4, "sku_attr": "1:2", "logistics_service_name": "EMS"},
        {"product_id": "P2", "product_count": 1, "sku_attr": "", "logistics_service_name": "CAINIAO_STANDARD"}]
    assert product_items(order, links, None)[2] == {"product_id": "P2", "product_count": 1, "sku_attr": ""}


def test_logistics_address_leaves_out_empty_fields() -> None:
    assert logistics_address(make_order(address={"address2": "  ", "zip": None})) == {
        "address": "12 Example Street", "city": "Springfield", "province": "Illinois", "country": "US",
        "full_name": "Jane Doe", "contact_person": "Jane Doe", "mobile_no": "2175550100", "phone_country": "1",
        "locale": "en_US"}


def test_logistics_address_falls_back_on_names_province_code_and_the_customers_phone() -> None:
    order = make_order(address={"name": None, "province": None, "phone": None, "country_code": " fr "})
    order.customer.phone = "+33 6 12 34 56 78"
    address = logistics_address(order)
    assert (address["full_name"], address["province"], address["country"]) == ("Jane Doe", "IL", "FR")
    assert (address["phone_country"], address["mobile_no"]) == ("33", "612345678")


@pytest.mark.parametrize(("country", "field"), [("BR", "cpf"), ("CL", "rut_no"), ("MX", "passport_no"),
                                                ("IT", "tax_number")])
def test_logistics_address_puts_the_tax_id_where_the_country_wants_it(country: str, field: str) -> None:
    address = logistics_address(make_order(address={"country_code": country, "tax_id": " 123.456.789-09 "}))
    assert address[field] == "123.456.789-09"


@pytest.mark.parametrize("address", [None, {"country_code": None}, {"country_code": "USA"}, {"country_code": " "}])
def test_an_address_without_a_country_is_a_problem(address: dict[str, Any] | None) -> None:
    order = make_order(address=address or {})
    if address is None:
        order.shipping_address = None
    with pytest.raises(AddressProblem, match="then retry"):
        logistics_address(order)


@pytest.mark.parametrize(("phone", "country", "expected"), [
    ("+55 (11) 91234-5678", "BR", ("55", "11912345678")),
    ("0055 11 91234 5678", "BR", ("55", "11912345678")),
    ("(11) 91234-5678", "BR", ("55", "11912345678")),
    ("0612345678", "FR", ("33", "0612345678")),
    ("+1 217 555 0100", "US", ("1", "2175550100")),
    ("+44 20 7946 0958", "US", ("1", "442079460958")),  # a foreign number stays whole
    ("555 0100", "ZZ", ("", "5550100")),
    (None, "US", ("", "")),
    ("", "US", ("", "")),
])
def test_split_phone(phone: str | None, country: str, expected: tuple[str, str]) -> None:
    assert split_phone(phone, country) == expected


@pytest.mark.parametrize(("prefix", "category", "sentence"), REFUSALS)
def test_every_refusal_has_its_category_and_sentence(prefix: str, category: str, sentence: str) -> None:
    got_category, got_sentence = refusal(prefix + "_X", "the detail")
    first = next(p for p in REFUSALS if (prefix + "_X").startswith(p[0]))  # the first match wins
    assert (got_category, got_sentence) == (first[1], first[2].format(detail="the detail", code=prefix + "_X"))
    assert "retry" in got_sentence


def test_refusal_prefix_order_and_fallback() -> None:
    assert refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL_CPF_NOT_MATCH", "cpf")[0] == "address"
    assert "CPF" in refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL_CPF_CN_INVALID", "x")[1]
    assert "CPF" not in refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL_CITY", "x")[1]
    assert refusal("A006_INVALID_ACCOUNT_INFO", "bad")[0] == "account"
    assert "DELIVERY_METHOD_NOT_EXIST" in refusal("DELIVERY_METHOD_NOT_EXIST", "")[1]  # no detail: the code
    category, sentence = refusal("SOMETHING_NEW", "")
    assert category == FALLBACK[0] and "SOMETHING_NEW" in sentence and "no detail" in sentence


# ---------------------------------------------------------------- the claim (never twice)


def test_the_first_claim_takes_attempt_one_and_a_second_one_waits() -> None:
    world = World()
    world.add(make_order())
    claim = world.placer._claim(SHOP, "1")
    assert isinstance(claim, Placement)
    assert (claim.out_order_id, claim.attempt, claim.request_id) == (f"{SHOP}-1-1", 1, None)
    again = world.placer._claim(SHOP, "1")
    assert isinstance(again, PlacementResult) and again.reason_code == "in_progress" and again.retryable


def test_a_claim_whose_holder_died_is_taken_over_with_the_same_reference() -> None:
    world = World()
    world.add(make_order())
    first = world.placer._claim(SHOP, "1")
    world.clock.now += CLAIM_TTL_SECONDS - 1
    assert isinstance(world.placer._claim(SHOP, "1"), PlacementResult)
    world.clock.now += 2
    taken = world.placer._claim(SHOP, "1")
    assert isinstance(first, Placement) and isinstance(taken, Placement)
    assert taken.out_order_id == first.out_order_id and taken.request_id == f"held:{world.clock.now:.3f}"
    # The new holder's claim is fresh again.
    assert isinstance(world.placer._claim(SHOP, "1"), PlacementResult)


def test_a_released_reference_is_resent_and_a_closed_one_starts_a_new_attempt() -> None:
    world = World()
    placement = Placement(out_order_id=f"{SHOP}-1-2", claimed_at=datetime.fromtimestamp(T0, UTC), attempt=2,
                          request_id=RELEASED)
    world.add(make_order(placement=placement))
    taken = world.placer._claim(SHOP, "1")
    assert isinstance(taken, Placement) and (taken.out_order_id, taken.attempt) == (f"{SHOP}-1-2", 2)
    world.orders.mutate(SHOP, "1", lambda o: o.model_copy(update={"placement": placement.model_copy(
        update={"request_id": CLOSED})}) if o else None)
    fresh = world.placer._claim(SHOP, "1")
    assert isinstance(fresh, Placement) and (fresh.out_order_id, fresh.attempt) == (f"{SHOP}-1-3", 3)


def test_an_open_reference_older_than_the_dedup_window_is_never_resent() -> None:
    world = World()
    world.add(make_order())
    world.placer._claim(SHOP, "1")
    world.clock.now += DEDUP_WINDOW_SECONDS + 1
    result = world.placer.place(SHOP, "1")
    assert result.outcome is PlacementOutcome.SKIPPED and result.reason_code == "PLACEMENT_UNCONFIRMED"
    assert f"{SHOP}-1-1" in (world.stored().attention or "")
    writes = world.orders.calls["write"]
    assert world.placer.place(SHOP, "1").reason_code == "PLACEMENT_UNCONFIRMED"
    assert world.orders.calls["write"] == writes  # the note is there already
    assert world.aliexpress.requests == []


# ---------------------------------------------------------------- outcomes


def test_accepted_moves_to_awaiting_payment_and_closes_the_reference() -> None:
    world = World(["8198352049851315"])
    world.add(make_order())
    world.shops.put_settings(ShopSettings(shop=SHOP, default_shipping_service="CAINIAO_STANDARD"))
    result = world.placer.place(SHOP, "1")
    assert result.outcome is PlacementOutcome.PLACED and result.ae_order_ids == ["8198352049851315"]
    [request] = world.aliexpress.requests
    assert request["out_order_id"] == f"{SHOP}-1-1" and request["logistics_address"]["country"] == "US"
    assert {i["logistics_service_name"] for i in request["product_items"]} == {"CAINIAO_STANDARD"}
    order = world.stored()
    assert order.status is OrderStatus.AWAITING_PAYMENT and order.history[-1].cause == "order_placed"
    assert [(a.ae_order_id, a.line_item_ids) for a in order.ae_orders] == [("8198352049851315", ["10", "11"])]
    assert order.placement is not None and order.placement.request_id == CLOSED


def test_several_aliexpress_orders_leave_line_items_to_the_sync() -> None:
    world = World(["81", "82"])
    world.add(make_order())
    assert world.placer.place(SHOP, "1").ae_order_ids == ["81", "82"]
    assert [a.line_item_ids for a in world.stored().ae_orders] == [[], []]


def test_accepted_after_a_cancel_in_the_store_says_cancel_on_aliexpress() -> None:
    world = World(["81"])
    world.add(make_order())
    claim = world.placer._claim(SHOP, "1")
    assert isinstance(claim, Placement)
    world.orders.mutate(SHOP, "1", lambda o: transition(o, OrderStatus.CANCELED, Event.STORE_CANCELLED) if o else None)
    world.placer._accepted(SHOP, "1", claim, ["81"])
    order = world.stored()
    assert order.status is OrderStatus.CANCELED and order.reason_code == "cancel_on_aliexpress"


def test_a_refusal_fails_the_order_with_a_sentence_and_retires_the_reference() -> None:
    world = World(BusinessError("INVENTORY_HOLD_ERROR", "not enough stock", "req-1"))
    world.add(make_order())
    result = world.placer.place(SHOP, "1")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == "INVENTORY_HOLD_ERROR"
    order = world.stored()
    assert order.status is OrderStatus.FAILED and order.reason == result.reason and "stock" in (order.reason or "")
    assert order.history[-1].cause == "placement_failed"
    assert order.placement is not None and order.placement.request_id == CLOSED


def test_the_sub_code_names_the_refusal_when_there_is_one() -> None:
    world = World(AliExpressError("ERROR", "city", "req-1", sub_code="B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"))
    world.add(make_order())
    assert world.placer.place(SHOP, "1").reason_code == "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"


@pytest.mark.parametrize("error", [
    ServiceUnavailableError("isp.service-unavailable", "down", "req-1"),
    TransportError("TIMEOUT", "read timed out"),
    BusinessError("EMPTY_ORDER_LIST", "no order list", "req-1"),
    AliExpressError("SOMETHING", "system busy", "req-1", error_type="SYSTEM"),
])
def test_an_unknown_outcome_keeps_the_reference_open_for_the_same_retry(error: Exception) -> None:
    world = World(error, ["81"])
    world.add(make_order())
    first = world.placer.place(SHOP, "1")
    assert first.outcome is PlacementOutcome.SKIPPED and first.retryable
    order = world.stored()
    assert order.status is OrderStatus.AWAITING_ORDER and order.placement is not None
    assert order.placement.request_id == RELEASED
    assert world.placer.place(SHOP, "1").outcome is PlacementOutcome.PLACED
    assert [r["out_order_id"] for r in world.aliexpress.requests] == [f"{SHOP}-1-1", f"{SHOP}-1-1"]


def test_a_disconnect_flags_the_order_and_keeps_its_tab() -> None:
    world = World(AliExpressDisconnected(SHOP), ["81"])
    world.add(make_order())
    result = world.placer.place(SHOP, "1")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == "ALIEXPRESS_DISCONNECTED"
    order = world.stored()
    assert order.status is OrderStatus.AWAITING_ORDER and order.attention == RECONNECT_ATTENTION
    assert world.placer.place(SHOP, "1").outcome is PlacementOutcome.PLACED
    order = world.stored()
    assert order.attention is None and order.placement is not None and order.placement.attempt == 1


def test_a_repeated_order_without_ids_asks_a_person_to_look() -> None:
    world = World(RepeatedOrderError("REPEATED_ORDER_ERROR", "exists", "req-1"))
    world.add(make_order())
    result = world.placer.place(SHOP, "1")
    assert result.outcome is PlacementOutcome.SKIPPED and result.reason_code == "REPEATED_ORDER_ERROR"
    assert f"{SHOP}-1-1" in (world.stored().attention or "") and not result.retryable


def test_an_unlinked_item_or_a_missing_address_fails_before_any_call() -> None:
    world = World()
    world.add(make_order("1", lines=[("1000221", 1), ("9999999", 1), (None, 1)]))
    world.add(make_order("2", address={"country_code": None}))
    unlinked = world.placer.place(SHOP, "1")
    assert unlinked.reason_code == "UNLINKED_ITEM"
    assert unlinked.reason == "Link variant 9999999, (line item 12) to an AliExpress product, then retry."
    assert world.placer.place(SHOP, "2").reason_code == "ADDRESS_MISSING"
    assert world.stored("1").placement is None and world.stored("2").status is OrderStatus.FAILED
    assert world.aliexpress.requests == []


def test_a_local_refusal_never_fails_an_order_someone_else_is_placing() -> None:
    world = World()
    world.add(make_order(lines=[("9999999", 1)]))
    world.placer._claim(SHOP, "1")  # another request holds it
    result = world.placer.place(SHOP, "1")
    assert result.reason_code == "changed" and result.retryable
    assert world.stored().status is OrderStatus.AWAITING_ORDER


# ---------------------------------------------------------------- a seller's retry


def test_retry_moves_a_failed_order_back_and_the_next_placement_is_a_new_attempt() -> None:
    world = World(BusinessError("INVENTORY_HOLD_ERROR", "stock", "req-1"), ["81"])
    world.add(make_order(attention=RECONNECT_ATTENTION))
    world.placer.place(SHOP, "1")
    retried = world.placer.retry(SHOP, "1")
    assert retried.status is OrderStatus.AWAITING_ORDER and retried.history[-1].cause == "seller_retry"
    assert (retried.reason, retried.reason_code, retried.attention) == (None, None, None)
    assert world.placer.place(SHOP, "1").outcome is PlacementOutcome.PLACED
    assert [r["out_order_id"] for r in world.aliexpress.requests] == [f"{SHOP}-1-1", f"{SHOP}-1-2"]


def test_retry_refuses_unknown_and_not_failed_orders() -> None:
    world = World()
    with pytest.raises(NotFound, match=r"^order 404 not found$"):
        world.placer.retry(SHOP, "404")
    with pytest.raises(NotFound, match=rf"^order {'9' * 40}… not found$"):  # the use case names it, cut
        world.placer.retry(SHOP, "9" * 2000)
    world.add(make_order())
    with pytest.raises(Conflict, match="only failed orders can be retried; this one is awaiting_order"):
        world.placer.retry(SHOP, "1")
