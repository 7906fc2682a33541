"""`dropship demo`: the seed's story for one demo shop, played against the local stack, then checked.

Customers order in the store (webhooks arrive duplicated and out of order) → orders wait in Awaiting Order →
the seller places them on AliExpress → pays there → suppliers ship → the status sync at 00:00 / 12:00 UTC
picks it up → tracking goes to ShopBase as fulfillments and the customer is emailed. A few orders take the
other paths: never paid (Pending), cancelled in the store (Canceled), impossible to place (Failed).

Each step needs some of the template's functions; a step whose function is not in infra/template.yaml yet is
reported as skipped and the final check covers what was played. Exit 0 only when every order is where the
story says it must be.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from local.stack import Stack, StackConfig
from local.world import SellerApi, ShopHandle, has_route, onboard

SHOP = "demo-store"

# The store's catalog: (title, variant, price); AliExpress products mirror it, except one never linked.
CATALOG: list[tuple[str, list[str], str]] = [
    ("Insulated Water Bottle", ["Silver / 500 ml", "Black / 750 ml"], "12.95"),
    ("Flounce Mini Skirt", ["S", "M", "L"], "13.00"),
    ("LED Strip Lights 5m", ["RGB", "Warm White"], "18.49"),
    ("Phone Case Magsafe", ["iPhone 15", "iPhone 15 Pro"], "9.99"),
    ("Yoga Mat Non-Slip", ["Purple", "Grey"], "24.90"),
]
UNLINKED = ("Pet Hair Remover Roller", ["Default Title"], "7.50")  # the seller never linked it


@dataclass
class Variant:
    variant_id: int
    product_id: int
    title: str
    variant_title: str
    price: str
    ae_product_id: str | None
    sku_attr: str


def catalog() -> list[Variant]:
    variants = []
    for p_index, (title, names, price) in enumerate([*CATALOG, UNLINKED]):
        linked = p_index < len(CATALOG)
        for v_index, name in enumerate(names):
            variants.append(Variant(2_000_000 + p_index * 10 + v_index, 600_000 + p_index, title, name, price,
                                    f"100500{7000000000 + p_index}" if linked else None,
                                    f"14:{200 + v_index}#{name}" if len(names) > 1 else ""))
    return variants


@dataclass
class Demo:
    stack: Stack
    handle: ShopHandle
    api: SellerApi | None
    rng: random.Random
    variants: list[Variant]
    expected: dict[str, str] = field(default_factory=dict)  # order id -> tab it must be in now
    roles: dict[str, str] = field(default_factory=dict)  # order id -> role in the story
    ae_orders: dict[str, list[str]] = field(default_factory=dict)  # order id -> AliExpress order ids
    played: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    verbose: bool = False

    # ---------------------------------------------------------------- capabilities of the template
    def handlers(self) -> set[str]:
        return {f.spec.handler.rsplit(".", 2)[0] for f in self.stack.wiring.functions.values()}

    def has_function(self, folder: str) -> bool:
        return f"functions.{folder}" in self.handlers()

    def counts(self) -> dict[str, int]:
        if self.api is not None:
            return self.api.counts()
        from shared import wiring  # no seller API in the template: read the table

        by_status = wiring.orders().count_by_status(SHOP)
        return {"all": sum(by_status.values()), **{s.value: n for s, n in by_status.items()}}

    def statuses(self) -> dict[str, str]:
        if self.api is not None:
            return {o["order_id"]: o["status"] for o in self.api.orders("all")["orders"]}
        from shared import wiring

        found: dict[str, str] = {}
        cursor = None
        while True:
            page = wiring.orders().list_orders(SHOP, None, limit=100, cursor=cursor)
            found.update({o.order_id: o.status.value for o in page.orders})
            cursor = page.cursor
            if not cursor:
                return found

    def settle(self, what: str) -> None:
        if not self.stack.wait_idle(timeout=90):
            self.problems.append(f"{what}: the stack did not settle within 90 s")

    def ids(self, *roles: str) -> list[str]:
        return [oid for oid, role in self.roles.items() if role in roles]


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def place_orders(api: SellerApi, order_ids: list[str] | None) -> dict[str, Any]:
    """POST /shops/{shop}/orders/place in chunks the route accepts; returns the merged answer."""
    results: list[dict[str, Any]] = []
    chunks = [None] if order_ids is None else [order_ids[i:i + 10] for i in range(0, len(order_ids), 10)]
    for chunk in chunks:
        body = {"all": True} if chunk is None else {"order_ids": chunk}
        response = api.request("POST", f"/shops/{api.shop}/orders/place", json=body, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"place answered {response.status_code}: {response.text[:300]}")
        results.extend(response.json().get("results", []))
    return {"results": results, "summary": dict(Counter(r.get("outcome") for r in results))}


# ---------------------------------------------------------------- the story's steps
def step_products(demo: Demo) -> str:
    """AliExpress carries the catalog; the seller links each store variant to its AliExpress SKU."""
    assert demo.stack.aliexpress is not None and demo.api is not None
    by_product: dict[str, list[Variant]] = {}
    for v in demo.variants:
        if v.ae_product_id:
            by_product.setdefault(v.ae_product_id, []).append(v)
    for pid, variants in by_product.items():
        demo.stack.aliexpress.seed_product(pid, subject=variants[0].title, store_id=f"11{pid[-6:]}",
                                           store_name=f"{variants[0].title} Factory Store",
                                           skus=[{"sku_attr": v.sku_attr, "price": "5.00", "stock": 5000}
                                                 for v in variants])
    for v in demo.variants:
        if not v.ae_product_id:
            continue
        response = demo.api.request("PUT", f"/shops/{SHOP}/links/{v.variant_id}",
                                    json={"product_id": v.ae_product_id, "sku_attr": v.sku_attr})
        if response.status_code != 200:
            demo.problems.append(f"linking variant {v.variant_id} answered {response.status_code}: "
                                 f"{response.text[:200]}")
    linked = sum(1 for v in demo.variants if v.ae_product_id)
    return f"{linked} variants linked to AliExpress SKUs; {UNLINKED[0]!r} left unlinked"


def _order_payload(demo: Demo, number: int, *, paid: bool, variants: list[Variant],
                   bad_address: bool = False) -> dict[str, Any]:
    from simulators.shopbase.orders import generate_order

    order = generate_order(demo.rng, order_id=5_600_000 + number, number=1000 + number,
                           line_item_ids=iter(range(91_000_000 + number * 10, 91_000_000 + number * 10 + 9)),
                           n_items=1, paid=paid)
    order["line_items"] = [{
        "id": 91_000_000 + number * 10 + i, "variant_id": v.variant_id, "product_id": v.product_id,
        "sku": f"SKU-{v.variant_id}", "title": v.title, "variant_title": v.variant_title,
        "quantity": demo.rng.choice((1, 1, 2)), "price": v.price, "fulfillable_quantity": None,
        "fulfillment_status": "", "requires_shipping": True,
    } for i, v in enumerate(variants)]
    for item in order["line_items"]:
        item["fulfillable_quantity"] = item["quantity"]
    if bad_address:
        order["shipping_address"]["address1"] = ""
        order["shipping_address"]["address2"] = ""
    return order


def _lines_for(demo: Demo, role: str) -> list[Variant]:
    """Which variants an order holds: the role decides how many suppliers (AliExpress stores) it needs."""
    linked = [v for v in demo.variants if v.ae_product_id]
    by_product: dict[str, list[Variant]] = {}
    for v in linked:
        by_product.setdefault(str(v.ae_product_id), []).append(v)
    multi = [vs for vs in by_product.values() if len(vs) >= 2]
    if role == "two_packages":  # two variants of one product: one supplier, shipped in two parcels
        return demo.rng.sample(demo.rng.choice(multi), k=2)
    if role == "two_suppliers":  # two products from two stores: two AliExpress orders
        first, second = demo.rng.sample(list(by_product.values()), k=2)
        return [demo.rng.choice(first), demo.rng.choice(second)]
    if role == "unlinked":
        return [demo.rng.choice(linked), *[v for v in demo.variants if not v.ae_product_id][:1]]
    return [demo.rng.choice(linked)]


def step_customers_order(demo: Demo, n_orders: int, two_suppliers: int = 1) -> str:
    """Customers check out in the store: ShopBase sends orders/create (+ orders/paid) webhooks."""
    assert demo.stack.shopbase is not None
    demo.stack.shopbase.set_delivery(duplicate_rate=0.3, reorder=True)
    plan: list[tuple[str, bool]] = (
        [("pending", False)] * 2 + [("paid_later", False)] * 2 + [("cancel", True)] * 2
        + [("unlinked", True)] * 2 + [("bad_address", True)] + [("unpaid_on_ae", True)]
        + [("two_packages", True)] * 2 + [("two_suppliers", True)] * two_suppliers)
    plan += [("happy", True)] * max(0, n_orders - len(plan))
    for number, (role, paid) in enumerate(plan, start=1):
        payload = _order_payload(demo, number, paid=paid, variants=_lines_for(demo, role),
                                 bad_address=role == "bad_address")
        demo.stack.shopbase.create_order(SHOP, payload)
        demo.roles[str(payload["id"])] = role
        demo.expected[str(payload["id"])] = "awaiting_order" if paid else "pending"
    demo.settle("webhooks")
    stats = demo.stack.shopbase.deliverer.stats()
    return (f"{len(plan)} orders; {stats['delivered']} webhook deliveries ({stats['duplicates']} duplicates, "
            f"shuffled), {stats['failed']} failed")


def step_store_events(demo: Demo) -> str:
    """Two late payments arrive; two customers cancel in the store before anything was placed."""
    assert demo.stack.shopbase is not None
    for oid in demo.ids("paid_later"):
        demo.stack.shopbase.mark_paid(SHOP, int(oid))
        demo.expected[oid] = "awaiting_order"
    for oid in demo.ids("cancel"):
        demo.stack.shopbase.cancel_order(SHOP, int(oid), "customer")
        demo.expected[oid] = "canceled"
    demo.settle("store events")
    return "2 late payments, 2 cancellations"


def step_place(demo: Demo) -> str:
    """The seller clicks "Place all" in Awaiting Order (through the seller API)."""
    assert demo.api is not None
    result = place_orders(demo.api, None)
    still_deferred = [r["order_id"] for r in result["results"] if r.get("reason_code") == "deferred"]
    rounds = 0
    while still_deferred and rounds < 10:  # the route places a bounded number per request
        extra = place_orders(demo.api, still_deferred)
        result["results"] = [r for r in result["results"] if r["order_id"] not in still_deferred] + extra["results"]
        still_deferred = [r["order_id"] for r in extra["results"] if r.get("reason_code") == "deferred"]
        rounds += 1
    demo.settle("placement")
    for oid, role in demo.roles.items():
        if role in ("unlinked", "bad_address"):
            demo.expected[oid] = "failed"
        elif demo.expected[oid] == "awaiting_order":
            demo.expected[oid] = "awaiting_payment"
    for oid in list(demo.expected):
        if demo.expected[oid] == "awaiting_payment":
            order = demo.api.order(oid)
            demo.ae_orders[oid] = [str(a["ae_order_id"]) for a in order.get("ae_orders") or []]
    summary = Counter(r.get("outcome") for r in result["results"])
    return "placed: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.items()))


def step_pay_on_aliexpress(demo: Demo) -> str:
    """The seller pays the AliExpress orders (all but one, which stays in Awaiting Payment)."""
    assert demo.stack.aliexpress is not None
    paid = 0
    for oid, ae_ids in demo.ae_orders.items():
        if demo.roles[oid] == "unpaid_on_ae":
            continue
        demo.stack.aliexpress.pay(ae_ids)
        paid += len(ae_ids)
    return f"{paid} AliExpress orders paid"


def _sync(demo: Demo, hour: int) -> list[dict[str, Any]]:
    day = demo.stack.aliexpress.now() if demo.stack.aliexpress is not None else time.time()
    when = datetime.fromtimestamp(day, UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    runs = demo.stack.fire_schedule(None, when)
    for run in runs:
        if not run["ok"]:
            demo.problems.append(f"schedule {run['schedule']} failed: {run.get('error')}")
    demo.settle(f"sync {hour:02d}:00")
    return runs


def step_sync_midnight(demo: Demo) -> str:
    """00:00 UTC: the status sync sees the payments."""
    runs = _sync(demo, 0)
    for oid, role in demo.roles.items():
        if demo.expected[oid] == "awaiting_payment" and role != "unpaid_on_ae":
            demo.expected[oid] = "awaiting_shipment"
    return f"{len(runs)} schedule run(s) for 00:00 UTC"


def step_ship(demo: Demo) -> str:
    """Suppliers ship: some orders in two parcels, the rest in one, a day later."""
    assert demo.stack.aliexpress is not None
    split = 0
    for oid in demo.ids("two_packages"):
        for ae_id in demo.ae_orders.get(oid, []):
            lines = demo.stack.aliexpress.order(ae_id)["lines"]
            if len(lines) >= 2:
                demo.stack.aliexpress.ship(ae_id, items=[{"sku_id": lines[0]["sku_id"]}])
                demo.stack.aliexpress.ship(ae_id)
                split += 1
    demo.stack.aliexpress.advance(seconds=26 * 3600)  # the rest ship after the simulator's one-day delay
    return f"{split} order(s) shipped in two parcels, the rest in one; AliExpress clock +26 h"


def step_sync_noon(demo: Demo) -> str:
    """12:00 UTC: the sync finds tracking numbers; they go to ShopBase, customers get an email."""
    runs = _sync(demo, 12)
    for oid, status in demo.expected.items():
        if status == "awaiting_shipment":
            demo.expected[oid] = "fulfilled"
    return f"{len(runs)} schedule run(s) for 12:00 UTC"


# ---------------------------------------------------------------- checks
def check_statuses(demo: Demo) -> None:
    actual = demo.statuses()
    for oid, want in sorted(demo.expected.items()):
        got = actual.get(oid)
        if got != want:
            why = ""
            if demo.api is not None and got is not None:
                order = demo.api.order(oid)
                why = f" ({order.get('reason_code')}: {order.get('reason')})"
                if demo.verbose:
                    lines = [(li["id"], li["variant_id"], li["quantity"]) for li in order["line_items"]]
                    why += (f"\n      packages: {order.get('packages')}\n      ae_orders: {order.get('ae_orders')}"
                            f"\n      line_items: {lines}")
            demo.problems.append(f"order {oid} ({demo.roles[oid]}): expected {want}, found {got}{why}")


def check_fulfillments_and_emails(demo: Demo) -> None:
    """One ShopBase fulfillment per AliExpress package, one email per package."""
    assert demo.stack.shopbase is not None and demo.stack.aliexpress is not None
    packages_total = 0
    for oid, status in demo.expected.items():
        if status != "fulfilled":
            continue
        packages = 0
        for ae_id in demo.ae_orders.get(oid, []):
            order = demo.stack.aliexpress.order(ae_id)
            packages += len(order.get("packages") or [])
        packages_total += packages
        fulfillments = demo.stack.shopbase.get_order(SHOP, int(oid)).get("fulfillments") or []
        if len(fulfillments) != packages:
            demo.problems.append(f"order {oid}: {len(fulfillments)} fulfillment(s) for {packages} package(s)")
    if demo.has_function("notify_customer"):
        from moto.ses.models import ses_backends

        sent = len(ses_backends["123456789012"]["us-east-1"].sent_messages)
        if sent != packages_total:
            demo.problems.append(f"{sent} customer email(s) for {packages_total} package(s)")


# ---------------------------------------------------------------- the runner
def run_demo(config: StackConfig, orders: int = 30, verbose: bool = False, out: Any = None,
             two_suppliers: int = 1) -> int:
    out = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    started = time.monotonic()
    say("Starting the local stack (moto, the template's functions, ShopBase and AliExpress simulators)…")
    with Stack(config) as stack:
        handle = onboard(stack, SHOP, connect=True)
        api = SellerApi(stack.api_url, SHOP, handle.api_token) if has_route(
            stack, "GET", f"/shops/{SHOP}/orders") else None
        demo = Demo(stack, handle, api, random.Random(42), catalog(), verbose=verbose)
        say(f"  API {stack.api_url}   AWS (moto) {stack.moto_url}   ShopBase {stack.shopbase.url}   "
            f"AliExpress {stack.aliexpress.url}")
        say(f"  functions in the template: {', '.join(stack.wiring.functions)}")
        say(f"  shop {SHOP}: webhooks for {len(handle.webhook_topics)} topics; "
            f"AliExpress connected: {handle.aliexpress_connected}")
        if api is None:
            say("  (no seller API route in the template yet: tab counts are read from the table)")
        say()

        from local.cli import print_counts

        steps: list[tuple[str, Callable[[], str], list[str]]] = [
            ("Link products", lambda: step_products(demo),
             ["seller API links route"] if not has_route(stack, "PUT", f"/shops/{SHOP}/links/1") else []),
            ("Customers order (webhooks)", lambda: step_customers_order(demo, orders, two_suppliers), []),
            ("Late payments and cancellations", lambda: step_store_events(demo), []),
            ("Seller places orders", lambda: step_place(demo),
             [n for n, ok in (("seller API place route", has_route(stack, "POST", f"/shops/{SHOP}/orders/place")),
                              ("seller API links route", has_route(stack, "PUT", f"/shops/{SHOP}/links/1")))
              if not ok]),
            ("Seller pays on AliExpress", lambda: step_pay_on_aliexpress(demo), []),
            ("Sync at 00:00 UTC", lambda: step_sync_midnight(demo),
             [] if stack.wiring.schedules else ["a scheduled status sync"]),
            ("Suppliers ship", lambda: step_ship(demo), []),
            ("Sync at 12:00 UTC → tracking → email", lambda: step_sync_noon(demo),
             [f"functions/{f}" for f in ("sync_status", "push_tracking") if not demo.has_function(f)]
             + ([] if stack.wiring.schedules else ["a scheduled status sync"])),
        ]
        blocked = False
        for title, run, missing in steps:
            if missing or blocked:
                reason = f"needs {', '.join(missing)} (not in infra/template.yaml yet)" if missing \
                    else "an earlier step was skipped"
                demo.skipped.append(f"{title}: {reason}")
                say(f"- {title}: SKIPPED, {reason}")
                # Later steps build on this one: everything after it waits for the missing piece too.
                blocked = blocked or title not in ("Link products",)
                continue
            step_started = time.monotonic()
            try:
                detail = run()
            except Exception as error:
                demo.problems.append(f"{title}: {type(error).__name__}: {error}")
                say(f"- {title}: ERROR {type(error).__name__}: {error}")
                blocked = True
                continue
            demo.played.append(title)
            say(f"- {title} ({time.monotonic() - step_started:.1f} s): {detail}")
            print_counts(demo.counts(), "    Manage Orders →", file=out)
        check_statuses(demo)
        if "Sync at 12:00 UTC → tracking → email" in demo.played:
            check_fulfillments_and_emails(demo)
        say()
        say(f"Played {len(demo.played)} of {len(steps)} steps in {time.monotonic() - started:.1f} s "
            f"with {len(demo.expected)} orders.")
        for note in demo.skipped:
            say(f"  skipped: {note}")
        if config.function_log is not None:
            say(f"Function logs and metrics: {config.function_log}")
        if demo.problems:
            say(f"FAILED: {len(demo.problems)} problem(s):")
            for problem in demo.problems[:50]:
                say(f"  - {problem}")
            return 1
        final = Counter(demo.expected.values())
        say("OK: every order is where the story says: " + ", ".join(f"{k} {v}" for k, v in sorted(final.items())))
        return 0

