"""Pricing rules per shop: the selling price and compare-at price of a variant from its supplier cost.

price      = rule of the cost range the base falls in: multiplier (base x v), markup (base + v) or fixed (v),
             where base = cost (+ the cheapest freight to the shop's main country with `include_shipping`)
cents      = "assign cents": the decimals replaced (12.37 → 12.99 with cents 0.99); never below the base
compare-at = its own rule from the price (none by default; never AliExpress's inflated `sku_price` unless the
             seller picks `list_price`), cents assigned too, dropped when not above the price
currency   = costs in another currency than the store's are converted with the shop's fixed rate; no rate, no
             price (a clear error), never a silent 1:1
Money is Decimal, rounded half-up to cents.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from shared.models.errors import Invalid
from shared.models.product import PriceRange, PricingRules

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_store_currency(amount: Decimal, currency: str, rules: PricingRules) -> Decimal:
    if currency.upper() == rules.store_currency:
        return amount
    rate = rules.exchange_rates.get(currency.upper())
    if rate is None:
        raise Invalid(f"AliExpress prices this product in {currency} but the store sells in {rules.store_currency}: "
                      f"add an exchange rate for {currency} to the pricing rules (or import in "
                      f"{rules.store_currency})", field="exchange_rates")
    return to_cents(amount * rate)


def range_for(base: Decimal, rules: PricingRules) -> PriceRange:
    """The range holding `base`; in a gap, the nearest range below (else the first)."""
    for r in rules.ranges:
        if r.min_cost <= base and (r.max_cost is None or base < r.max_cost):
            return r
    below = [r for r in rules.ranges if r.min_cost <= base]
    return below[-1] if below else rules.ranges[0]


def assign_cents(amount: Decimal, cents: Decimal | None, floor: Decimal = Decimal("0")) -> Decimal:
    if cents is None:
        return to_cents(amount)
    whole = amount.to_integral_value(rounding=ROUND_FLOOR)
    priced = whole + cents
    while priced < floor:  # never below what the variant costs
        priced += 1
    return to_cents(priced)


def price_for(cost: Decimal, rules: PricingRules, *, shipping: Decimal = Decimal("0"),
              list_price: Decimal | None = None) -> tuple[Decimal, Decimal | None]:
    """(price, compare-at or None) in the store currency, for a cost already in the store currency."""
    base = cost + (shipping if rules.include_shipping else Decimal("0"))
    rule = range_for(base, rules)
    if rule.kind == "multiplier":
        raw = base * rule.value
    elif rule.kind == "markup":
        raw = base + rule.value
    else:
        raw = rule.value
    price = assign_cents(raw, rules.cents, floor=base if rule.kind != "fixed" else Decimal("0"))
    compare = rules.compare_at
    compare_at: Decimal | None
    if compare.kind == "multiplier":
        compare_at = price * compare.value
    elif compare.kind == "markup":
        compare_at = price + compare.value
    elif compare.kind == "list_price":
        compare_at = list_price
    else:
        compare_at = None
    if compare_at is not None:
        compare_at = assign_cents(compare_at, rules.cents)
        if compare_at <= price:
            compare_at = None
    return price, compare_at
