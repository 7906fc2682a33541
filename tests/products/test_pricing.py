"""Pricing rules (a table of cases: ranges, cents, compare-at, currency) and the listing's limits and safety checks,
on products parsed from the fixtures (no AWS, no HTTP: pure rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.logic.products.edit import EditRequest, apply_edits
from shared.logic.products.listing import build_listing
from shared.logic.products.parse import parse_product
from shared.logic.products.pricing import price_for, to_store_currency
from shared.models.errors import Invalid
from shared.models.product import (
    CompareAtRule,
    ImportedProduct,
    OptionValue,
    PriceRange,
    PricingRules,
    SupplierOption,
    SupplierProduct,
    SupplierSku,
)
from tests.products.conftest import fixture

D = Decimal
RANGES = [PriceRange(min_cost=D("0"), max_cost=D("10"), kind="multiplier", value=D("3")),
          PriceRange(min_cost=D("10"), max_cost=D("50"), kind="markup", value=D("15")),
          PriceRange(min_cost=D("50"), kind="fixed", value=D("99.90"))]


@pytest.mark.parametrize(("cost", "rules", "price", "compare_at"), [
    # default rule: cost x 2, no compare-at
    ("17.50", PricingRules(), "35.00", None),
    # ranges: multiplier under 10, markup from 10 to 50, fixed from 50 (the boundary belongs to the upper range)
    ("3.33", PricingRules(ranges=RANGES), "9.99", None),
    ("9.99", PricingRules(ranges=RANGES), "29.97", None),
    ("10.00", PricingRules(ranges=RANGES), "25.00", None),
    ("49.99", PricingRules(ranges=RANGES), "64.99", None),
    ("50.00", PricingRules(ranges=RANGES), "99.90", None),
    # assign cents: the decimals replaced, never below the cost
    ("17.50", PricingRules(cents=D("0.99")), "35.99", None),
    ("4.20", PricingRules(ranges=[PriceRange(kind="markup", value=D("0.10"))], cents=D("0.00")), "5.00", None),
    # compare-at: its own rule from the price, cents assigned too; dropped when not above the price
    ("17.50", PricingRules(compare_at=CompareAtRule(kind="multiplier", value=D("1.5"))), "35.00", "52.50"),
    ("17.50", PricingRules(cents=D("0.95"), compare_at=CompareAtRule(kind="markup", value=D("10"))), "35.95",
     "45.95"),
    ("17.50", PricingRules(compare_at=CompareAtRule(kind="multiplier", value=D("0.9"))), "35.00", None),
    # AliExpress's inflated sku_price only when the seller asks for it
    ("17.50", PricingRules(compare_at=CompareAtRule(kind="list_price")), "35.00", "175.01"),
    # rounding half up to cents
    ("1.005", PricingRules(ranges=[PriceRange(kind="multiplier", value=D("1.5"))]), "1.51", None),
])
def test_price_table(cost: str, rules: PricingRules, price: str, compare_at: str | None) -> None:
    got_price, got_compare = price_for(D(cost), rules, list_price=D("175.01"))
    assert (got_price, got_compare) == (D(price), D(compare_at) if compare_at else None)
    assert isinstance(got_price, Decimal)


def test_shipping_is_added_to_the_cost_only_when_the_rule_says_so() -> None:
    assert price_for(D("10"), PricingRules(), shipping=D("2.50"))[0] == D("20.00")
    assert price_for(D("10"), PricingRules(include_shipping=True), shipping=D("2.50"))[0] == D("25.00")


def test_currency_conversion_needs_a_rate_never_one_to_one() -> None:
    rules = PricingRules(store_currency="EUR", exchange_rates={"USD": D("0.92")})
    assert to_store_currency(D("17.50"), "USD", rules) == D("16.10")
    assert to_store_currency(D("17.50"), "EUR", rules) == D("17.50")
    with pytest.raises(Invalid) as raised:
        to_store_currency(D("54.69"), "BRL", rules)
    assert "BRL" in raised.value.message and raised.value.field == "exchange_rates"


def test_overlapping_ranges_are_refused() -> None:
    with pytest.raises(ValidationError):
        PricingRules(ranges=[PriceRange(min_cost=D("0"), max_cost=D("20"), kind="multiplier", value=D("2")),
                             PriceRange(min_cost=D("10"), kind="markup", value=D("5"))])
    with pytest.raises(ValidationError):
        PricingRules(ranges=[PriceRange(min_cost=D("5"), max_cost=D("5"), kind="multiplier", value=D("2"))])
    with pytest.raises(ValidationError):  # money is never a float with more than cents
        PricingRules(cents=D("0.999"))


def _product(result: dict) -> ImportedProduct:  # type: ignore[type-arg]
    return ImportedProduct(shop="s", product_id="1", supplier=parse_product(result, ship_to="US"))


def watch() -> ImportedProduct:
    return _product(fixture("product_get_example_b.json")["aliexpress_ds_product_get_response"]["result"])


def test_listing_prices_each_variant_and_never_uses_sku_price_as_compare_at() -> None:
    listing = build_listing(watch(), PricingRules(cents=D("0.99")))
    assert [(v.options, v.price, v.compare_at) for v in listing.variants] == [
        (["984 Gold Blue"], D("35.99"), None), (["984 Silver Black"], D("34.99"), None)]
    assert listing.options[0].name == "Color" and listing.problems == []


def test_push_safety_checks_refuse_below_cost_zero_price_and_nothing_in_stock() -> None:
    product = watch()
    product.edits = apply_edits(product, EditRequest(prices={"12000044382493157": D("12.00")}))
    listing = build_listing(product, PricingRules())
    assert any("below its cost 17.50" in p for p in listing.problems)
    product.edits = apply_edits(product, EditRequest(prices={"12000044382493157": None},
                                                     remove_values={"Color": ["984 Gold Blue"]}))
    listing = build_listing(product, PricingRules())
    assert listing.problems == ["No variant is in stock on AliExpress."]  # only the 0-stock silver is left
    thin = build_listing(watch(), PricingRules(ranges=[PriceRange(kind="markup", value=D("1"))]))
    assert thin.problems == [] and any("thin margin" in w for w in thin.warnings)
    with pytest.raises(Invalid) as zero:  # a zero price never reaches a listing
        apply_edits(watch(), EditRequest(prices={"12000044382493157": D("0")}))
    assert zero.value.field == "prices"


def _axes_product(colors: int, sizes: int, warehouses: int, extra_option: bool = False) -> ImportedProduct:
    def option(pid: str, name: str, n: int) -> SupplierOption:
        return SupplierOption(property_id=pid, name=name, values=[OptionValue(value_id=f"{pid}{i}", name=f"{name}{i}")
                                                                  for i in range(n)])

    options = [option("14", "Color", colors), option("5", "Size", sizes), option("200007763", "Ships From", warehouses)]
    if extra_option:
        options.append(option("200000639", "Plug Type", 1))
    skus = []
    for c in range(colors):
        for s in range(sizes):
            for w in range(warehouses):
                values = {"14": f"14{c}", "5": f"5{s}", "200007763": f"200007763{w}"}
                if extra_option:
                    values["200000639"] = "2000006390"
                attr = ";".join(f"{k}:{v}" for k, v in values.items())
                skus.append(SupplierSku(sku_id=f"{c}{s}{w}", sku_attr=attr, cost=D("4"), currency="USD", stock=10,
                                        values=values))
    supplier = SupplierProduct(product_id="9", title="Shirt", currency="USD", options=options, skus=skus,
                               images=[f"https://ae01.alicdn.com/kf/{i}.jpg" for i in range(3)], ship_to="US")
    return ImportedProduct(shop="s", product_id="9", supplier=supplier)


def test_limits_say_what_to_drop() -> None:
    product = _axes_product(9, 8, 7)  # 504 variants
    listing = build_listing(product, PricingRules())
    [problem] = listing.problems
    assert "500 variants" in problem and "504 (Color 9 x Size 8 x Ships From 7)" in problem
    assert 'drop the option "Ships From" keeping one warehouse' in problem
    product.edits = apply_edits(product, EditRequest(drop_options={"Ships From": "Ships From2"}))
    listing = build_listing(product, PricingRules())
    assert listing.problems == [] and len(listing.variants) == 72 and [o.name for o in listing.options] == [
        "Color", "Size"]
    four = build_listing(_axes_product(2, 2, 2, extra_option=True), PricingRules())
    assert any("3 options" in p and "has 4 (Color, Size, Ships From, Plug Type)" in p for p in four.problems)
    many_images = _axes_product(1, 1, 1)
    many_images.supplier.images = [f"https://ae01.alicdn.com/kf/{i}.jpg" for i in range(501)]
    assert any("500 images" in p for p in build_listing(many_images, PricingRules()).problems)


def test_edits_rename_remove_and_keep_one_warehouse_by_the_names_shown() -> None:
    product = _axes_product(2, 2, 2)
    product.edits = apply_edits(product, EditRequest(
        rename_options={"Color": "Colour"}, rename_values={"Colour": {"Color0": "Red"}},
        remove_values={"Size": ["Size1"]}, drop_options={"Ships From": None},
        images=["https://ae01.alicdn.com/kf/2.jpg", "https://ae01.alicdn.com/kf/0.jpg"], title="Soft tee"))
    listing = build_listing(product, PricingRules())
    assert [o.model_dump() for o in listing.options] == [{"name": "Colour", "values": ["Red", "Color1"]},
                                                          {"name": "Size", "values": ["Size0"]}]
    assert [v.options for v in listing.variants] == [["Red", "Size0"], ["Color1", "Size0"]]
    assert listing.images == ["https://ae01.alicdn.com/kf/2.jpg", "https://ae01.alicdn.com/kf/0.jpg"]
    assert listing.title == "Soft tee"
    for bad, field in [(EditRequest(rename_options={"Material": "x"}), "rename_options"),
                       (EditRequest(remove_values={"Size": ["Size0"]}), "remove_values"),  # nothing left of Size
                       (EditRequest(rename_values={"Colour": {"Red": "Color1"}}), "rename_values"),  # duplicate
                       (EditRequest(images=["https://evil.example/x.jpg"]), "images"),
                       (EditRequest(prices={"nope": D("3")}), "prices")]:
        with pytest.raises(Invalid) as raised:
            apply_edits(product, bad)
        assert raised.value.field == field
