"""`dropship demo`: the seed's story for one demo shop, played against the local stack, then checked.

Customers order in the store (webhooks arrive duplicated and out of order) → orders wait in Awaiting Order →
the seller places them on AliExpress → pays there → suppliers ship → the status sync at 00:00 / 12:00 UTC
picks it up → tracking goes to ShopBase as fulfillments and the customer is emailed. A few orders take the
other paths: never paid (Pending), cancelled in the store (Canceled), impossible to place (Failed).

Each step needs some of the template's functions; a step whose function is not in infra/template.yaml yet is
reported as skipped and the final check covers what was played. Exit 0 only when every order is where the
story says it must be.

Told in store orders (one store order may need several AliExpress orders): a live line while each step runs
(its seconds and what it waits for), then what it did and the tab counts; at the end a one-screen summary:
tab counts, where each placed order went (in the request / by the place_orders worker / failed, why),
fulfillments, emails, failed orders with their reasons, and the URLs to look at.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from local.ses_outbox import read_backend
from local.stack import Stack, StackConfig
from local.stack_client import SellerApi, place_orders, time_travel_env, where_queued_orders_went
from local.views import TAB_NAMES, LiveLine, counts_change, counts_line, placement_sentence
from local.world import ShopHandle, has_route, onboard

SHOP = "demo-store"

# The store's catalog: (title, variant, price). Each comes from AliExpress: the demo imports it, edits it (its
# title, "Ships From" dropped), prices it by the shop's rules and pushes it, so every store variant is linked to
# its AliExpress SKU with no manual step. One store product never came from AliExpress (never linked).
CATALOG: list[tuple[str, list[str], str]] = [
    ("Insulated Water Bottle", ["Silver / 500 ml", "Black / 750 ml"], "12.95"),
    ("Flounce Mini Skirt", ["S", "M", "L"], "13.00"),
    ("LED Strip Lights 5m", ["RGB", "Warm White"], "18.49"),
    ("Phone Case Magsafe", ["iPhone 15", "iPhone 15 Pro"], "9.99"),
    ("Yoga Mat Non-Slip", ["Purple", "Grey"], "24.90"),
]
UNLINKED = ("Pet Hair Remover Roller", ["Default Title"], "7.50")  # the seller never linked it
# What the shop's pricing rules make of a 5.00 cost: x 2.5, cents .99 (compare-at +30 %).
PRICING_RULES = {"ranges": [{"kind": "multiplier", "value": "2.5"}], "cents": "0.99",
                 "compare_at": {"kind": "multiplier", "value": "1.3"}}
SHIPS_FROM = "200007763"
# How sellers paste them: tracking parameters, country sites, a bare id.
URL_FORMS = ("https://www.aliexpress.com/item/{pid}.html?spm=a2g0o.productlist.main.1&algo_pvid=demo",
             "https://pt.aliexpress.com/item/{pid}.html", "{pid}", "https://m.aliexpress.com/item/{pid}.html",
             "aliexpress.com/item/{pid}.html")


@dataclass
class Variant:
    variant_id: int
    product_id: int
    title: str
    variant_title: str
    price: str
    ae_product_id: str | None
    sku_attr: str


def ae_product_id(p_index: int) -> str:
    return f"100500{7000000000 + p_index}"


def catalog() -> list[Variant]:
    """The store variants that exist before the story: only the product that never came from AliExpress (the
    imported ones are added by the import step, with the ids ShopBase gave them)."""
    title, names, price = UNLINKED
    return [Variant(2_000_000 + len(CATALOG) * 10 + v_index, 600_000 + len(CATALOG), title, name, price, None, "")
            for v_index, name in enumerate(names)]


def supplier_skus(p_index: int, names: list[str]) -> list[dict[str, Any]]:
    """AliExpress's SKUs of a catalog product: one property per variant name (+ a "Ships From" axis on the LED
    strip, which the seller drops at import keeping China)."""
    warehouses = [("201336100", "China"), ("201336103", "Germany")] if p_index == 2 else [None]
    skus = []
    for v_index, name in enumerate(names):
        for w_index, warehouse in enumerate(warehouses):
            attr = f"14:{200 + v_index}#{name}" if len(names) > 1 else ""
            if warehouse is not None:
                attr += f";{SHIPS_FROM}:{warehouse[0]}#{warehouse[1]}"
            skus.append({"sku_id": f"{12000050000000000 + p_index * 100 + v_index * 10 + w_index}", "sku_attr": attr,
                         "price": "5.00" if w_index == 0 else "6.50", "list_price": "50.00", "stock": 5000})
    return skus


@dataclass
class Demo:
    stack: Stack
    handle: ShopHandle
    api: SellerApi | None
    rng: random.Random
    variants: list[Variant]
    expected: dict[str, str] = field(default_factory=dict)  # store order id -> tab it must be in now
    roles: dict[str, str] = field(default_factory=dict)  # store order id -> role in the story
    names: dict[str, str] = field(default_factory=dict)  # store order id -> its name (#1001)
    ae_orders: dict[str, list[str]] = field(default_factory=dict)  # store order id -> AliExpress order ids
    placement: list[dict[str, Any]] = field(default_factory=list)  # per store order: answer and where it went
    fulfillments: int = 0
    packages: int = 0
    emails: int | None = None  # None: no notify function in the template
    final: dict[str, str] = field(default_factory=dict)  # store order id -> its tab when the story ended
    played: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    verbose: bool = False
    line: LiveLine | None = None  # the running step's live line

    @property
    def shop(self) -> str:
        return self.handle.shop

    # ---------------------------------------------------------------- capabilities of the template
    def handlers(self) -> set[str]:
        return {f.spec.handler.rsplit(".", 2)[0] for f in self.stack.wiring.functions.values()}

    def has_function(self, folder: str) -> bool:
        return f"functions.{folder}" in self.handlers()

    def counts(self) -> dict[str, int]:
        if self.api is not None:
            return self.api.counts()
        from shared import wiring  # no seller API in the template: read the table

        by_status = wiring.orders().count_by_status(self.shop)
        return {"all": sum(by_status.values()), **{s.value: n for s, n in by_status.items()}}

    def statuses(self) -> dict[str, str]:
        if self.api is not None:
            return {o["order_id"]: o["status"] for o in self.api.orders("all")["orders"]}
        from shared import wiring

        found: dict[str, str] = {}
        cursor = None
        while True:
            page = wiring.orders().list_orders(self.shop, None, limit=100, cursor=cursor)
            found.update({o.order_id: o.status.value for o in page.orders})
            cursor = page.cursor
            if not cursor:
                return found

    def note(self, detail: str) -> None:
        """What the running step is doing now (shown on its live line)."""
        if self.line is not None:
            self.line.update(detail=detail)

    def settle(self, what: str) -> None:
        self.note(f"waiting for webhooks, streams and queues to settle ({what})")
        if not self.stack.wait_idle(timeout=90):
            self.problems.append(f"{what}: the stack did not settle within 90 s")

    def ids(self, *roles: str) -> list[str]:
        return [oid for oid, role in self.roles.items() if role in roles]

    def label(self, order_id: str) -> str:
        return f"{self.names.get(order_id, '')} ({order_id})".strip()


# ---------------------------------------------------------------- the story's steps
def step_products(demo: Demo) -> str:
    """The seller imports the products from AliExpress (by URL), edits them, prices them by the shop's rules
    and pushes them to ShopBase: every store variant comes back linked to its AliExpress SKU."""
    assert demo.stack.aliexpress is not None and demo.api is not None
    api, shop = demo.api, demo.shop
    for p_index, (title, names, _) in enumerate(CATALOG):
        pid = ae_product_id(p_index)
        demo.stack.aliexpress.seed_product(
            pid, subject=f"{title} Wholesale Hot Sale Free Shipping 2026 New", store_id=f"11{pid[-6:]}",
            store_name=f"{title} Factory Store", skus=supplier_skus(p_index, names),
            detail=f'<div class="detailmodule_html"><p style="color:#333">{title}: quality you can feel.</p>'
                   '<script>track()</script><div class="store-promotion"><p>Coupon!</p></div>'
                   "<p>Welcome to my store!</p></div>",
            image_urls=[f"https://ae01.alicdn.com/kf/{pid}-{n}.jpg" for n in range(3)])

    def ok(response: Any, what: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise RuntimeError(f"{what} answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body

    demo.note("PUT /product-rules (price x 2.5, cents .99, compare-at +30 %)")
    ok(api.request("PUT", f"/shops/{shop}/product-rules", json={"pricing": PRICING_RULES}), "pricing rules")
    urls = [URL_FORMS[n % len(URL_FORMS)].format(pid=ae_product_id(n)) for n in range(len(CATALOG))]
    demo.note(f"POST /products/import ({len(urls)} URLs)")
    imported = ok(api.request("POST", f"/shops/{shop}/products/import", json={"urls": urls}, timeout=120), "import")
    again = ok(api.request("POST", f"/shops/{shop}/products/import", json={"urls": urls[:1]}), "import again")
    if again["results"][0]["outcome"] != "already_imported":
        demo.problems.append(f"importing {urls[0]} twice answered {again['results'][0]}")
    prices: list[str] = []
    store_products = 0
    for p_index, (title, names, _) in enumerate(CATALOG):
        pid = ae_product_id(p_index)
        edit: dict[str, Any] = {"title": title}
        if p_index == 2:
            edit["drop_options"] = {"Ships From": "China"}
        if len(names) > 1:
            edit["rename_options"] = {"Color": "Style" if p_index != 1 else "Size"}
        demo.note(f"PATCH and push {pid} ({p_index + 1}/{len(CATALOG)})")
        ok(api.request("PATCH", f"/shops/{shop}/products/{pid}", json=edit), f"editing {pid}")
        pushed = ok(api.request("POST", f"/shops/{shop}/products/{pid}/push", json={"publish": True}, timeout=60),
                    f"pushing {pid}")
        store_products += 1
        per_name = 2 if p_index == 2 else 1  # the LED strip's SKUs come in two warehouses
        name_of = {sku["sku_id"]: names[n // per_name] for n, sku in enumerate(supplier_skus(p_index, names))}
        for v in pushed["variants"]:
            prices.append(v["price"])
            demo.variants.append(Variant(int(v["variant_id"]), int(pushed["store_product_id"]), title,
                                         name_of[v["sku_id"]], v["price"], pid, v["sku_attr"]))
    linked = {str(v.variant_id) for v in demo.variants if v.ae_product_id}
    links = api.links()
    missing = sorted(linked - set(links))
    if missing:
        demo.problems.append(f"store variants {', '.join(missing)} were pushed without a link")
    return (f"{imported['imported']} AliExpress products imported by URL (a second import of one: already "
            f"imported), edited (titles, \"Ships From\" dropped on the LED strip), priced by the shop's rules "
            f"(cost 5.00 → {sorted(set(prices))[0]}) and pushed: {store_products} store products, "
            f"{len(linked)} variants linked with no manual step; {UNLINKED[0]!r} never came from AliExpress")


def order_payload(demo: Demo, number: int, *, paid: bool, variants: list[Variant],
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


def lines_for(demo: Demo, role: str) -> list[Variant]:
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
        payload = order_payload(demo, number, paid=paid, variants=lines_for(demo, role),
                                bad_address=role == "bad_address")
        demo.note(f"store order {number}/{len(plan)}")
        demo.stack.shopbase.create_order(demo.shop, payload)
        oid = str(payload["id"])
        demo.roles[oid] = role
        demo.names[oid] = str(payload["name"])
        demo.expected[oid] = "awaiting_order" if paid else "pending"
    demo.settle("webhooks")
    stats = demo.stack.shopbase.deliverer.stats()
    n_paid = sum(1 for _, p in plan if p)
    return (f"{len(plan)} store orders ({n_paid} paid → Awaiting Order, {len(plan) - n_paid} unpaid → Pending); "
            f"{stats['delivered']} webhook deliveries, {stats['duplicates']} of them duplicates, shuffled; "
            f"{stats['failed']} failed")


def step_store_events(demo: Demo) -> str:
    """Two late payments arrive; two customers cancel in the store before anything was placed."""
    assert demo.stack.shopbase is not None
    for oid in demo.ids("paid_later"):
        demo.stack.shopbase.mark_paid(demo.shop, int(oid))
        demo.expected[oid] = "awaiting_order"
    for oid in demo.ids("cancel"):
        demo.stack.shopbase.cancel_order(demo.shop, int(oid), "customer")
        demo.expected[oid] = "canceled"
    demo.settle("store events")
    paid_later = ", ".join(demo.names[o] for o in demo.ids("paid_later"))
    cancelled = ", ".join(demo.names[o] for o in demo.ids("cancel"))
    return f"late payments: {paid_later} (→ Awaiting Order); cancelled by the customer: {cancelled} (→ Canceled)"


def step_place(demo: Demo) -> str:
    """The seller clicks "Place all" in Awaiting Order (through the seller API)."""
    assert demo.api is not None
    demo.note("POST /shops/demo-store/orders/place {\"all\": true}")
    result = place_orders(demo.api, None)
    demo.settle("the place_orders worker")
    demo.placement = where_queued_orders_went(demo.api, result["results"])
    for oid, role in demo.roles.items():
        if role in ("unlinked", "bad_address"):
            demo.expected[oid] = "failed"
        elif demo.expected[oid] == "awaiting_order":
            demo.expected[oid] = "awaiting_payment"
    for oid in list(demo.expected):
        if demo.expected[oid] == "awaiting_payment":
            order = demo.api.order(oid)
            demo.ae_orders[oid] = [str(a["ae_order_id"]) for a in order.get("ae_orders") or []]
    failed = [r for r in demo.placement if r.get("final") == "failed"]
    where = "; ".join(f"{demo.label(r['order_id'])} {'in the request' if r['outcome'] == 'failed' else 'by the worker'}"
                      f": {r.get('reason') or r.get('reason_code')}" for r in failed)
    return placement_sentence(demo.placement) + (f"\n      failed: {where}" if where else "")


def step_pay_on_aliexpress(demo: Demo) -> str:
    """The seller pays the AliExpress orders (all but one, which stays in Awaiting Payment)."""
    assert demo.stack.aliexpress is not None
    paid_orders, paid_ae = 0, 0
    for oid, ae_ids in demo.ae_orders.items():
        if demo.roles[oid] == "unpaid_on_ae":
            continue
        demo.stack.aliexpress.pay(ae_ids)
        paid_orders += 1
        paid_ae += len(ae_ids)
    split = [demo.names[o] for o, ids in demo.ae_orders.items() if len(ids) > 1]
    unpaid = ", ".join(demo.names[o] for o in demo.ids("unpaid_on_ae"))
    extra = f" (their {paid_ae} AliExpress orders: {', '.join(split)} from two suppliers)" if split else ""
    return f"{paid_orders} store orders paid on AliExpress{extra}; {unpaid} left unpaid (stays in Awaiting Payment)"


def sync_at(demo: Demo, hour: int) -> list[dict[str, Any]]:
    day = demo.stack.aliexpress.now() if demo.stack.aliexpress is not None else time.time()
    when = datetime.fromtimestamp(day, UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    demo.note(f"the status sync for {when:%Y-%m-%d %H:%M} UTC: run starter, then sync workers")
    runs = demo.stack.fire_schedule(None, when)
    for run in runs:
        if not run["ok"]:
            demo.problems.append(f"schedule {run['schedule']} failed: {run.get('error')}")
    demo.settle(f"sync {hour:02d}:00: tracking pushes and emails")
    return runs


def step_sync_midnight(demo: Demo) -> str:
    """00:00 UTC: the status sync sees the payments."""
    before = demo.counts()
    runs = sync_at(demo, 0)
    for oid, role in demo.roles.items():
        if demo.expected[oid] == "awaiting_payment" and role != "unpaid_on_ae":
            demo.expected[oid] = "awaiting_shipment"
    return f"{len(runs)} schedule run(s); store orders: {counts_change(before, demo.counts())}"


def step_ship(demo: Demo) -> str:
    """Suppliers ship: some orders in two parcels, the rest in one, a day later."""
    assert demo.stack.aliexpress is not None
    split: list[str] = []
    for oid in demo.ids("two_packages"):
        for ae_id in demo.ae_orders.get(oid, []):
            lines = demo.stack.aliexpress.order(ae_id)["lines"]
            if len(lines) >= 2:
                demo.stack.aliexpress.ship(ae_id, items=[{"sku_id": lines[0]["sku_id"]}])
                demo.stack.aliexpress.ship(ae_id)
                split.append(demo.names[oid])
    demo.stack.aliexpress.advance(seconds=26 * 3600)  # the rest ship after the simulator's one-day delay
    two = [demo.names[o] for o, ids in demo.ae_orders.items() if len(ids) > 1]
    return (f"{', '.join(split) or 'no order'} shipped in two parcels by one supplier; "
            f"{', '.join(two) or 'no order'} in one parcel per supplier; the rest after the suppliers' "
            "one-day delay (AliExpress clock +26 h, so AliExpress tokens expire and get refreshed)")


def step_sync_noon(demo: Demo) -> str:
    """12:00 UTC: the sync finds tracking numbers; they go to ShopBase, customers get an email."""
    before = demo.counts()
    runs = sync_at(demo, 12)
    for oid, status in demo.expected.items():
        if status == "awaiting_shipment":
            demo.expected[oid] = "fulfilled"
    sent = len(read_backend()) if demo.has_function("notify_customer") else None
    emailed = f", {sent} customer emails" if sent is not None else ""
    return f"{len(runs)} schedule run(s){emailed}; store orders: {counts_change(before, demo.counts())}"


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
            demo.problems.append(f"order {demo.label(oid)} ({demo.roles[oid]}): expected {want}, found {got}{why}")


def check_fulfillments_and_emails(demo: Demo) -> None:
    """One ShopBase fulfillment per AliExpress package, one email per package."""
    assert demo.stack.shopbase is not None and demo.stack.aliexpress is not None
    for oid, status in demo.expected.items():
        if status != "fulfilled":
            continue
        packages = 0
        for ae_id in demo.ae_orders.get(oid, []):
            order = demo.stack.aliexpress.order(ae_id)
            packages += len(order.get("packages") or [])
        demo.packages += packages
        fulfillments = demo.stack.shopbase.get_order(demo.shop, int(oid)).get("fulfillments") or []
        demo.fulfillments += len(fulfillments)
        if len(fulfillments) != packages:
            demo.problems.append(f"order {demo.label(oid)}: {len(fulfillments)} fulfillment(s) for {packages} "
                                 "package(s)")
    if demo.has_function("notify_customer"):
        demo.emails = len(read_backend())
        if demo.emails != demo.packages:
            demo.problems.append(f"{demo.emails} customer email(s) for {demo.packages} package(s)")


# ---------------------------------------------------------------- the runner
def _steps(demo: Demo, orders: int, two_suppliers: int) -> list[tuple[str, Callable[[], str], list[str]]]:
    stack = demo.stack
    links_route = has_route(stack, "PUT", f"/shops/{SHOP}/links/1")
    import_route = has_route(stack, "POST", f"/shops/{SHOP}/products/import")
    place_route = has_route(stack, "POST", f"/shops/{SHOP}/orders/place")
    schedule = [] if stack.wiring.schedules else ["a scheduled status sync"]
    return [
        ("Import, edit, price and push products", lambda: step_products(demo),
         [] if import_route and links_route else ["seller API product import routes"]),
        ("Customers order (webhooks)", lambda: step_customers_order(demo, orders, two_suppliers), []),
        ("Late payments and cancellations", lambda: step_store_events(demo), []),
        ("Seller places orders", lambda: step_place(demo),
         [n for n, ok in (("seller API place route", place_route), ("seller API links route", links_route))
          if not ok]),
        ("Seller pays on AliExpress", lambda: step_pay_on_aliexpress(demo), []),
        ("Sync at 00:00 UTC", lambda: step_sync_midnight(demo), schedule),
        ("Suppliers ship", lambda: step_ship(demo), []),
        ("Sync at 12:00 UTC → tracking → email", lambda: step_sync_noon(demo),
         [f"functions/{f}" for f in ("sync_status", "push_tracking") if not demo.has_function(f)] + schedule),
    ]


def _console(out: Any) -> Console:
    terminal = out.isatty() if hasattr(out, "isatty") else False
    return Console(file=out, highlight=False, width=None if terminal else 200, soft_wrap=not terminal)


def run_demo(config: StackConfig, orders: int = 30, verbose: bool = False, out: Any = None,
             two_suppliers: int = 1, keep_running: bool = False, stop: threading.Event | None = None) -> int:
    """Play the story on a fresh stack and check it; 0 when every store order ended where the story says.

    `keep_running`: then keep the stack up (state file written) until Ctrl-C or `stop` is set.
    """
    console = _console(out or sys.stdout)
    say = console.print
    started = time.monotonic()
    stack = Stack(dataclasses.replace(config, extra_env={**time_travel_env(), **config.extra_env}))
    try:
        with LiveLine(console, "Starting the local stack (moto, the template's functions, the simulators)…"):
            stack.start()
            handle = onboard(stack, SHOP, connect=True)
        api = SellerApi(stack.api_url, SHOP, handle.api_token) if has_route(
            stack, "GET", f"/shops/{SHOP}/orders") else None
        demo = Demo(stack, handle, api, random.Random(42), catalog(), verbose=verbose)
        say(f"Local stack up in {time.monotonic() - started:.1f} s: API {stack.api_url} · AWS (moto) "
            f"{stack.moto_url} · ShopBase {stack.shopbase.url} · AliExpress {stack.aliexpress.url}")
        say(f"  functions: {', '.join(stack.wiring.functions)}")
        say(f"  shop {SHOP}: webhooks for {len(handle.webhook_topics)} topics; "
            f"AliExpress connected: {handle.aliexpress_connected}")
        if api is None:
            say("  (no seller API route in the template yet: tab counts are read from the table)")
        say()
        steps = _steps(demo, orders, two_suppliers)
        _play(demo, steps, console)
        demo.final = demo.statuses()
        check_statuses(demo)
        if "Sync at 12:00 UTC → tracking → email" in demo.played:
            check_fulfillments_and_emails(demo)
        say()
        say(summary(demo, len(steps), time.monotonic() - started, config, keep_running))
        for problem in demo.problems[:50]:
            say(f"  - {problem}", markup=False)
        code = 1 if demo.problems else 0
        if keep_running:
            _stay_up(demo, say, stop or threading.Event())
        return code
    finally:
        stack.stop()


def _play(demo: Demo, steps: list[tuple[str, Callable[[], str], list[str]]], console: Console) -> None:
    say = console.print
    blocked = False
    for title, run, missing in steps:
        if missing or blocked:
            reason = f"needs {', '.join(missing)} (not in infra/template.yaml yet)" if missing \
                else "an earlier step was skipped"
            demo.skipped.append(f"{title}: {reason}")
            say(f"- {title}: SKIPPED, {reason}")
            # Later steps build on this one: everything after it waits for the missing piece too.
            blocked = blocked or not title.startswith("Import, edit")
            continue
        if not console.is_terminal:
            say(f"→ {title}…")  # no live line off a terminal: say when a step starts, not only when it ends
        step_started = time.monotonic()
        try:
            with LiveLine(console, f"{title}…") as line:
                demo.line = line
                detail = run()
        except Exception as error:
            demo.problems.append(f"{title}: {type(error).__name__}: {error}")
            say(f"✗ {title}: ERROR {type(error).__name__}: {error}", markup=False)
            blocked = True
            continue
        finally:
            demo.line = None
        demo.played.append(title)
        say(f"✓ {title} ({time.monotonic() - step_started:.1f} s): {detail}", markup=False)
        say(f"    Manage Orders → {counts_line(demo.counts())}")


def summary(demo: Demo, steps: int, seconds: float, config: StackConfig, keep_running: bool) -> Table:
    """The one-screen ending: tabs, placement, fulfillments, emails, what failed and why, where to look."""
    ok = not demo.problems
    table = Table(title="Summary", title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("Result", Text("OK: every store order is where the story says" if ok else
                                 f"FAILED: {len(demo.problems)} problem(s), listed below",
                                 style="green" if ok else "bold red"))
    table.add_row("Store orders", f"{len(demo.expected)}, {len(demo.played)} of {steps} steps played in "
                                  f"{seconds:.1f} s")
    final = demo.final
    tabs = Counter(final.values())
    table.add_row("Manage Orders", counts_line({"all": sum(tabs.values()), **tabs}))
    if demo.placement:
        table.add_row("Placement", placement_sentence(demo.placement))
    if "Sync at 12:00 UTC → tracking → email" in demo.played:
        fulfilled = sum(1 for s in final.values() if s == "fulfilled")
        table.add_row("Fulfillments", f"{demo.fulfillments} in ShopBase for {fulfilled} fulfilled store orders "
                                      f"(one per AliExpress package: {demo.packages} packages)")
        if demo.emails is not None:
            table.add_row("Emails", f"{demo.emails} sent to customers, one per package (read them: "
                                    "dropship emails, with --keep-running)")
    failed = sorted(oid for oid, status in final.items() if status == "failed")
    if failed and demo.api is not None:
        reasons = []
        for oid in failed:
            order = demo.api.order(oid)
            reasons.append(f"{demo.label(oid)}: {order.get('reason') or '-'} ({order.get('reason_code')})")
        table.add_row(f"Failed ({len(failed)})", "\n".join(reasons))
    waiting = [f"{demo.label(o)}: {TAB_NAMES.get(final.get(o, ''), final.get(o))}, {ROLE_WHY[demo.roles[o]]}"
               for o in demo.expected if demo.roles[o] in ROLE_WHY]
    if waiting:
        table.add_row("Not fulfilled, by design", "\n".join(waiting))
    stack = demo.stack
    example = next((o for o, s in final.items() if s == "fulfilled"), next(iter(demo.expected), "ID"))
    looks = [f"seller API   {stack.api_url}/shops/{SHOP}/orders  (Bearer: dropship token)",
             f"ShopBase     {stack.shopbase.url}/_sim/shops/{SHOP}/orders/{example}  (a store order, its "
             "fulfillments)",
             f"AliExpress   {stack.aliexpress.url}/_sim/orders",
             f"AWS (moto)   {stack.moto_url}/moto-api/  (moto's dashboard: tables, queues, SES messages)"]
    note = "alive until Ctrl-C" if keep_running else \
        "gone with the demo's stack: `dropship demo --keep-running` keeps them up"
    table.add_row("Look at", "\n".join([*looks, f"({note})"]))
    if config.function_log is not None:
        table.add_row("Function logs", str(config.function_log))
    for skipped in demo.skipped:
        table.add_row("Skipped", skipped)
    return table


ROLE_WHY = {"pending": "never paid by the customer", "cancel": "cancelled by the customer",
            "unpaid_on_ae": "the seller did not pay it on AliExpress"}


def _stay_up(demo: Demo, say: Callable[..., None], stop: threading.Event) -> None:
    """--keep-running: the state file the other commands read, then wait for Ctrl-C (or `stop`)."""
    stack = demo.stack
    path = stack.write_state({"shops": {SHOP: demo.handle.api_token}, "env": dict(stack.wiring.env)})
    say(f"\nThe stack stays up (state file {path}). In another terminal: .venv/bin/dropship orders · "
        ".venv/bin/dropship emails · .venv/bin/dropship order ID.  Ctrl-C stops it.")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    say("stopping…")
