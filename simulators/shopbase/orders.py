"""Order JSON for the simulator: realistic generated orders with ShopBase's quirks, and the pure
helpers that keep fulfillment quantities and statuses consistent."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# Synthetic data only: example.com addresses, 555 phone numbers, made-up streets. Non-ASCII names on
# purpose, so signature checks over raw bytes get exercised.
FIRST_NAMES = ("Jane", "Liam", "Sofía", "Noah", "Zoë", "Mateo", "Amélie", "Łukasz", "Aiko", "Chen", "Olivia")
LAST_NAMES = ("Doe", "Müller", "García", "Nguyen", "Smith", "O'Brien", "Kowalski", "Rossi", "Dubois", "Tanaka")
STREETS = ("Example Street", "Sample Avenue", "Test Road", "Placeholder Lane", "Demo Boulevard")
PLACES = (
    ("United States", "US", "Illinois", "IL", "Springfield", "62701", "+1 217 555 01"),
    ("United States", "US", "California", "CA", "Fresno", "93650", "+1 559 555 01"),
    ("United Kingdom", "GB", "England", "ENG", "Leeds", "LS1 4AP", "+44 113 496 0"),
    ("Germany", "DE", "Berlin", "BE", "Berlin", "10115", "+49 30 555 0"),
    ("France", "FR", "Île-de-France", "IDF", "Paris", "75011", "+33 1 55 55 0"),
    ("Canada", "CA", "Ontario", "ON", "Ottawa", "K1A 0B1", "+1 613 555 01"),
    ("Australia", "AU", "Victoria", "VIC", "Melbourne", "3000", "+61 3 5550 0"),
)
PRODUCTS = (
    ("Insulated Water Bottle", ("Silver / 500 ml", "Black / 750 ml"), "12.95", "BOTTLE"),
    ("Flounce Mini Skirt", ("S", "M", "L"), "13.00", "SKIRT"),
    ("LED Strip Lights 5m", ("RGB", "Warm White"), "18.49", "LED"),
    ("Phone Case Magsafe", ("iPhone 15", "iPhone 15 Pro"), "9.99", "CASE"),
    ("Yoga Mat Non-Slip", ("Purple", "Grey"), "24.90", "YOGA"),
    ("Pet Hair Remover Roller", ("Default Title",), "7.50", "PETROLL"),
)

TS_FORMAT = "%Y-%m-%dT%H:%M:%S+00:00"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TS_FORMAT)


def parse_ts(value: Any) -> datetime | None:
    """ShopBase timestamps: ISO strings, or 0/""/null for "not set"."""
    if not isinstance(value, str) or not value.strip() or value.strip() == "0":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def bump_updated_at(order: dict[str, Any]) -> str:
    """Set updated_at to now, strictly later than before (consumers order events by it)."""
    now = datetime.now(UTC).replace(microsecond=0)
    previous = parse_ts(order.get("updated_at"))
    if previous is not None and now <= previous:
        now = previous + timedelta(seconds=1)
    order["updated_at"] = iso(now)
    return order["updated_at"]


def _quirky_price(rng: random.Random, price: str) -> str | float:
    # ShopBase sends prices as strings or numbers.
    return price if rng.random() < 0.6 else float(price)


def generate_order(
    rng: random.Random,
    *,
    order_id: int,
    number: int,
    line_item_ids: Iterator[int],
    n_items: int = 2,
    paid: bool = True,
    currency: str = "USD",
) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country, country_code, province, province_code, city, zip_code, phone_prefix = rng.choice(PLACES)
    phone = f"{phone_prefix}{rng.randint(10, 99)}"
    email = f"customer{order_id}@example.com"
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=rng.randint(2, 600))
    line_items: list[dict[str, Any]] = []
    subtotal = 0.0
    for product_title, variants, price, sku in rng.sample(PRODUCTS, k=min(n_items, len(PRODUCTS))):
        variant_index = rng.randrange(len(variants))
        quantity = rng.choice((1, 1, 1, 2, 3))
        subtotal += float(price) * quantity
        line_items.append(
            {
                "id": next(line_item_ids),
                "variant_id": 1_000_000 + rng.randint(100, 9999),
                "product_id": 500_000 + rng.randint(10, 999),
                "sku": f"{sku}-{variant_index + 1}",
                "title": product_title,
                "variant_title": variants[variant_index],
                "quantity": quantity,
                "price": _quirky_price(rng, price),
                "fulfillable_quantity": quantity,
                "fulfillment_status": rng.choice(("", None)),
                "requires_shipping": True,
                "vendor": "",
                "properties": [],
            }
        )
    # More items than products: repeat products as extra lines.
    while len(line_items) < n_items:
        extra = dict(line_items[len(line_items) % len(PRODUCTS)])
        extra["id"] = next(line_item_ids)
        subtotal += float(extra["price"]) * int(extra["quantity"])
        line_items.append(extra)
    shipping = rng.choice((0.0, 4.99, 5.0))
    address = {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "address1": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
        "address2": rng.choice(("", "Apt 3", "Unit 12")),
        "city": city,
        "province": province,
        "province_code": province_code,
        "country": country,
        "country_code": country_code,
        "zip": zip_code,
        "phone": phone,
        "company": "",
    }
    return {
        "id": order_id,
        "name": f"#{number}",
        "number": number - 1000,
        "order_number": number,
        "email": email,
        "phone": rng.choice(("", phone)),
        "currency": currency,
        "created_at": iso(created),
        "updated_at": iso(created + timedelta(seconds=rng.randint(5, 120))),
        "processed_at": iso(created) if paid else 0,
        "closed_at": 0,
        "cancelled_at": None,
        "cancel_reason": "",
        "financial_status": "paid" if paid else "pending",
        "fulfillment_status": "",
        "total_price": f"{subtotal + shipping:.2f}",
        "subtotal_price": round(subtotal, 2),
        "total_tax": "0.00",
        "draft_order_number": 0,
        "discount_code": None,
        "customer": {
            "id": 49_000_000 + rng.randint(1000, 999_999),
            "email": email,
            "first_name": first,
            "last_name": last,
            "last_order_at": 0,
            "orders_count": 1,
        },
        "shipping_address": address,
        "billing_address": dict(address),
        "line_items": line_items,
        "fulfillments": [],
        "refunds": [],
    }


def fulfilled_quantities(order: dict[str, Any]) -> dict[int, int]:
    """Quantity already fulfilled per line item id (cancelled fulfillments excluded)."""
    done: dict[int, int] = {}
    for fulfillment in order.get("fulfillments") or []:
        if fulfillment.get("status") in ("cancelled", "error", "failure"):
            continue
        for item in fulfillment.get("line_items") or []:
            done[int(item["id"])] = done.get(int(item["id"]), 0) + int(item["quantity"])
    return done


def fulfillable(line_item: dict[str, Any]) -> int:
    value = line_item.get("fulfillable_quantity")
    if value is None or value == "":
        return int(line_item.get("quantity") or 0)
    return int(value)


def recompute_fulfillment_status(order: dict[str, Any]) -> None:
    """Line item and order statuses from quantities; untouched lines keep their quirky ""/null."""
    done = fulfilled_quantities(order)
    remaining_total = 0
    for item in order.get("line_items") or []:
        remaining = fulfillable(item)
        remaining_total += remaining
        if done.get(int(item["id"]), 0) > 0:
            item["fulfillment_status"] = "fulfilled" if remaining == 0 else "partial"
    if sum(done.values()) == 0:
        return
    order["fulfillment_status"] = "fulfilled" if remaining_total == 0 else "partial"


def normalize_order(order: dict[str, Any], *, line_item_ids: Iterator[int]) -> dict[str, Any]:
    """Fill what the simulator needs into a caller-provided order (e.g. the fixture)."""
    order.setdefault("fulfillments", [])
    order.setdefault("refunds", [])
    order.setdefault("financial_status", "pending")
    order.setdefault("fulfillment_status", "")
    order.setdefault("cancelled_at", None)
    order.setdefault("created_at", iso(datetime.now(UTC)))
    order.setdefault("updated_at", order["created_at"])
    order["fulfillments"] = list(order["fulfillments"] or [])
    order["refunds"] = list(order["refunds"] or [])
    for item in order.setdefault("line_items", []):
        if item.get("id") in (None, ""):
            item["id"] = next(line_item_ids)
        item.setdefault("quantity", 1)
        if item.get("fulfillable_quantity") in (None, ""):
            item["fulfillable_quantity"] = int(item["quantity"])
    return order
