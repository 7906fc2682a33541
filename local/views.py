"""What the `dropship` CLI shows people: rich tables built from the seller API's and the runtime's JSON.

One function per view; the CLI prints them, or prints the same data as JSON with `--json`. Customer data is
kept to a name and a country (never an email, phone or street address); emails show a masked recipient.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.console import Console, Group, OverflowMethod, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

TABS = [("all", "All"), ("pending", "Pending"), ("awaiting_order", "Awaiting Order"),
        ("awaiting_payment", "Awaiting Payment"), ("awaiting_shipment", "Awaiting Shipment"),
        ("fulfilled", "Fulfilled"), ("canceled", "Canceled"), ("failed", "Failed")]
TAB_NAMES = dict(TABS)
STATUS_STYLE = {"pending": "yellow", "awaiting_order": "cyan", "awaiting_payment": "cyan",
                "awaiting_shipment": "cyan", "fulfilled": "green", "canceled": "dim", "failed": "bold red"}


def titled_table(title: str, columns: Iterable[str], *, overflow: OverflowMethod = "fold", **options: Any) -> Table:
    """A table with its title at the left and these columns; a long cell folds onto more lines unless `overflow`
    says otherwise. `options` go to rich's Table."""
    table = Table(title=title, title_justify="left", **options)
    for column in columns:
        table.add_column(column, overflow=overflow)
    return table


def counts_line(counts: dict[str, int]) -> str:
    """`All: 30  Pending: 2  …` — the Manage Orders tab bar on one line."""
    return "  ".join(f"{title}: {counts.get(key, 0)}" for key, title in TABS)


def status_text(status: str) -> Text:
    return Text(TAB_NAMES.get(status, status), style=STATUS_STYLE.get(status, ""))


def _when(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def item_line(item: dict[str, Any]) -> str:
    variant = f" ({item['variant_title']})" if item.get("variant_title") else ""
    title = item.get("title") or "item"
    return f"{item.get('variant_id') or '-'} · {item.get('quantity', 1)} x {title}{variant}"


def next_step(row: dict[str, Any], links: dict[str, Any] | None = None, shop: str = "{shop}") -> str:
    """What the seller (or the system) does next with this order."""
    status = row["status"]
    if status == "pending":
        return "waits for the customer's payment"
    if status == "awaiting_order":
        unlinked = [str(i["variant_id"]) for i in row.get("items", row.get("line_items", []))
                    if links is not None and i.get("variant_id") and str(i["variant_id"]) not in links]
        if unlinked:
            return f"link variant {', '.join(unlinked)} to an AliExpress product, then place"
        return f"place it: dropship place {row['order_id']}"
    if status == "awaiting_payment":
        ids = row.get("ae_order_ids") or [a["ae_order_id"] for a in row.get("ae_orders", [])]
        return f"pay AliExpress order {', '.join(ids)}; the next sync sees it" if ids else "pay it on AliExpress"
    if status == "awaiting_shipment":
        return "the supplier ships; the next sync finds the tracking number"
    if status == "failed":
        return f"fix the cause, then POST /shops/{shop}/orders/{row['order_id']}/retry"
    if status == "fulfilled":
        return "done: tracking in the store, customer emailed"
    return "-"


def orders_table(page: dict[str, Any], links: dict[str, Any] | None = None, shop: str = "{shop}") -> RenderableType:
    orders = page["orders"]
    table = titled_table(f"{TAB_NAMES.get(page['tab'], page['tab'])} ({len(orders)})",
                         ("Order", "Status", "Customer", "Items (variant · qty x item)", "AliExpress orders",
                          "Tracking", "Next / reason"), show_lines=True)
    for row in orders:
        customer = row.get("customer") or {}
        who = " ".join(p for p in (customer.get("name"), f"({customer['country']})" if customer.get("country")
                                   else None) if p) or "-"
        reason = row.get("reason")
        step = Text(reason, style="red") if reason else Text(next_step(row, links, shop))
        if row.get("attention"):
            step.append(f"\n{row['attention']}", style="yellow")
        table.add_row(f"{row.get('name') or ''}\n{row['order_id']}", status_text(row["status"]), who,
                      "\n".join(item_line(i) for i in row.get("items", [])) or "-",
                      "\n".join(row.get("ae_order_ids") or []) or "-",
                      "\n".join(row.get("tracking_numbers") or []) or "-", step)
    return Group(Text(counts_line(page["counts"])), table) if orders else Group(
        Text(counts_line(page["counts"])), Text(f"No orders in {TAB_NAMES.get(page['tab'], page['tab'])}."))


def order_summary(detail: dict[str, Any], links: dict[str, Any], emails: list[dict[str, Any]]) -> dict[str, Any]:
    """One order's story as data (`dropship order ID --json`): no email, phone or street address."""
    customer = detail.get("customer") or {}
    address = detail.get("shipping_address") or {}
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p) or address.get("name")
    items = []
    for item in detail.get("line_items", []):
        link = links.get(str(item.get("variant_id")))
        items.append({**{k: item.get(k) for k in ("id", "variant_id", "title", "variant_title", "quantity", "price")},
                      "link": None if link is None else {k: link.get(k) for k in
                                                         ("product_id", "sku_attr", "sku_id", "store_id",
                                                          "product_title")}})
    return {
        **{k: detail.get(k) for k in ("order_id", "name", "shop", "status", "created_at", "financial_status",
                                      "fulfillment_status", "currency", "total_price", "reason", "reason_code",
                                      "attention", "last_synced_at", "fulfilled_in_store")},
        "customer": {"name": name, "country": address.get("country_code")},
        "history": detail.get("history", []),
        "items": items,
        "ae_orders": detail.get("ae_orders", []),
        "packages": detail.get("packages", []),
        "emails": emails,
        "next": next_step({**detail, "items": detail.get("line_items", [])}, links, str(detail.get("shop"))),
    }


def order_story(story: dict[str, Any]) -> RenderableType:
    head = Text()
    head.append(f"{story.get('name') or ''} (order {story['order_id']}, shop {story['shop']}): ", style="bold")
    head.append_text(status_text(story["status"]))
    customer = story["customer"]
    head.append(f"\n{story.get('total_price') or '?'} {story.get('currency') or ''}, paid: "
                f"{story.get('financial_status') or '-'}; customer {customer.get('name') or '-'} "
                f"({customer.get('country') or '-'}); last synced {_when(story.get('last_synced_at'))}")
    if story.get("reason"):
        head.append(f"\nreason: {story['reason']} ({story.get('reason_code')})", style="red")
    if story.get("attention"):
        head.append(f"\nattention: {story['attention']}", style="yellow")
    head.append(f"\nnext: {story['next']}")
    parts: list[RenderableType] = [head]

    timeline = titled_table("Status history", ("When (UTC)", "From", "To", "Why"), overflow="ellipsis")
    for change in story["history"]:
        timeline.add_row(_when(change.get("at")), status_text(change["from_status"]) if change.get("from_status")
                         else Text("-"), status_text(change["to_status"]), change.get("cause") or "-")
    parts.append(timeline)

    items = titled_table("Items and their AliExpress links",
                         ("Line item", "Variant", "Qty", "Item", "AliExpress product / SKU"))
    for item in story["items"]:
        link = item["link"]
        linked = (f"{link['product_id']} sku {link.get('sku_attr') or '(default)'} · store {link.get('store_id')}"
                  if link else Text("not linked", style="red"))
        title = item.get("title") or ""
        items.add_row(str(item["id"]), str(item.get("variant_id") or "-"), str(item.get("quantity")),
                      title + (f" ({item['variant_title']})" if item.get("variant_title") else ""), linked)
    parts.append(items)

    if story["ae_orders"]:
        ae = titled_table("AliExpress orders", ("AliExpress order", "Status", "Logistics", "Line items", "Shipped"))
        for a in story["ae_orders"]:
            ae.add_row(a["ae_order_id"], a.get("order_status") or "-", a.get("logistics_status") or "-",
                       ", ".join(a.get("line_item_ids") or []) or "-", _when(a.get("shipped_at")))
        parts.append(ae)
    if story["packages"]:
        packages = titled_table("Packages → ShopBase fulfillments → customer emails",
                                ("Tracking", "Carrier", "Line items", "Fulfillment", "Emailed"))
        for p in story["packages"]:
            lines = ", ".join(f"{li['line_item_id']} x{li['quantity']}" for li in p.get("line_items", [])) or "-"
            pushed = (f"{p['fulfillment_id']} at {_when(p.get('pushed_at'))}" if p.get("fulfillment_id")
                      else Text(p.get("push_error") or "not yet", style="red" if p.get("push_error") else ""))
            mailed = (_when(p.get("notified_at")) if p.get("notified_at")
                      else Text(p.get("notify_error") or "not yet", style="red" if p.get("notify_error") else ""))
            packages.add_row(p["tracking_number"], p.get("carrier") or "-", lines, pushed, mailed)
        parts.append(packages)
    if story["emails"]:
        parts.append(emails_table(story["emails"], title="Emails to the customer"))
    return Group(*parts)


def emails_table(emails: list[dict[str, Any]], title: str | None = None) -> RenderableType:
    table = titled_table(title or f"Emails sent ({len(emails)})", ("#", "Order", "To", "Subject", "Tracking"))
    for n, email in enumerate(emails, start=1):
        table.add_row(str(n), email.get("order") or "-", ", ".join(email["to"]), email["subject"],
                      email.get("tracking_number") or "-")
    if not any("body" in e for e in emails):
        return table
    bodies: list[RenderableType] = [table]
    for n, email in enumerate(emails, start=1):
        bodies.append(Text(f"\n── {n}. {email['subject']} → {', '.join(email['to'])}", style="bold"))
        bodies.append(Text(email.get("body") or ""))
    return Group(*bodies)


def placement_table(rows: list[dict[str, Any]]) -> RenderableType:
    table = titled_table(f"Placement ({len(rows)} store orders)", ("Order", "Answer", "Now", "AliExpress orders",
                                                                    "Reason"))
    for row in rows:
        final = row.get("final", "")
        table.add_row(f"{row.get('name') or ''} {row['order_id']}".strip(), str(row.get("outcome")),
                      Text(final, style="red" if final == "failed" else "green" if "placed" in final else ""),
                      ", ".join(row.get("ae_order_ids") or []) or "-", row.get("reason") or "-")
    return table


def placement_sentence(rows: list[dict[str, Any]]) -> str:
    """`25 store orders: 9 placed in the request, 13 by the worker, 3 failed` — one unit: store orders."""
    inline = sum(1 for r in rows if r.get("outcome") == "placed")
    worker = sum(1 for r in rows if r.get("final") == "placed by the worker")
    failed = [r for r in rows if r.get("final") == "failed"]
    other = len(rows) - inline - worker - len(failed)
    parts = [f"{inline} placed in the request", f"{worker} queued and placed by the place_orders worker",
             f"{len(failed)} failed"] + ([f"{other} not placed"] if other else [])
    return f"{len(rows)} store orders: " + ", ".join(parts)


def runs_table(runs: list[dict[str, Any]]) -> RenderableType:
    table = titled_table("Schedule runs", ("Schedule", "As if at", "Result", "Attempts"))
    for run in runs:
        verdict = Text("ok", style="green") if run["ok"] else Text(f"FAILED: {run.get('error')}", style="red")
        table.add_row(run["schedule"], run["scheduled_time"], verdict, str(run.get("attempts", 1)))
    return table


def counts_change(before: dict[str, int], after: dict[str, int]) -> str:
    changed = [f"{title} {before.get(key, 0)} → {after.get(key, 0)}" for key, title in TABS[1:]
               if before.get(key, 0) != after.get(key, 0)]
    return ", ".join(changed) or "no tab changed"


def status_view(status: dict[str, Any]) -> RenderableType:
    urls = Table(title="Running stack", title_justify="left", show_header=False)
    urls.add_column()
    urls.add_column(overflow="fold")
    for key, label in (("api", "API"), ("moto", "AWS (moto)"), ("aliexpress", "AliExpress simulator"),
                       ("shopbase", "ShopBase simulator")):
        urls.add_row(label, str(status.get(key) or "-"))
    urls.add_row("Tables", ", ".join(f"{k}: {v}" for k, v in status.get("tables", {}).items()) or "-")
    functions = Table(title="Functions", title_justify="left")
    for column in ("Function", "Invocations", "Errors", "Over timeout", "Seconds"):
        functions.add_column(column, justify="left" if column == "Function" else "right")
    for name, stats in status.get("functions", {}).items():
        functions.add_row(name, str(stats.get("invocations", 0)), str(stats.get("errors", 0)),
                          str(stats.get("timeouts", 0)), f"{stats.get('total_seconds', 0):.1f}")
    sources = titled_table("Event sources", ("Source", "Kind", "Counters"))
    for name, stats in status.get("streams", {}).items():
        shown = {k: v for k, v in stats.items() if k != "batch_sizes" and not isinstance(v, list | dict)}
        sources.add_row(name, "DynamoDB stream", ", ".join(f"{k} {v}" for k, v in shown.items()))
    for name, stats in status.get("queues", {}).items():
        sources.add_row(name, "SQS", ", ".join(f"{k} {v}" for k, v in stats.items()))
    next_runs = status.get("next_runs", {})
    for name, schedule in status.get("schedules", {}).items():
        sources.add_row(name, "schedule", f"{schedule['expression']} ({schedule['timezone']}), "
                                          f"runs {schedule['runs']}, next {_when(next_runs.get(name))}")
    parts: list[RenderableType] = [urls, functions, sources]
    notes = []
    if status.get("skipped_resources"):
        notes.append("not emulated: " + ", ".join(f"{k} ({v})" for k, v in status["skipped_resources"].items()))
    if status.get("unsupported_events"):
        notes.append("event sources not run: " + ", ".join(status["unsupported_events"]))
    if status.get("env_conflicts"):
        notes.append("env conflicts: " + ", ".join(f"{k} in {v}" for k, v in status["env_conflicts"].items()))
    if notes:
        parts.append(Text("\n".join(notes), style="dim"))
    return Group(*parts)


class LiveLine:
    """One live status line (spinner, text, seconds) while something runs; silent when not on a terminal.

    Unlike rich's Status it leaves sys.stdout alone: the local runtime routes the functions' stdout to their
    log file (local/output.py), and a redirect on top of that router would mix the two.
    """

    def __init__(self, console: Console, text: str) -> None:
        self.console = console
        self.text = text
        self.detail = ""
        self._started = time.monotonic()
        self._spinner = Spinner("dots", text=self._line())
        self._live = Live(self._spinner, console=console, transient=True, refresh_per_second=8,
                          redirect_stdout=False, redirect_stderr=False, get_renderable=self._render)

    def _line(self) -> Text:
        line = Text(f"{self.text} {time.monotonic() - self._started:4.0f} s")
        if self.detail:
            line.append(f"  {self.detail}", style="dim")
        return line

    def _render(self) -> RenderableType:
        self._spinner.update(text=self._line())
        return self._spinner

    def update(self, text: str | None = None, detail: str | None = None) -> None:
        if text is not None:
            self.text = text
        if detail is not None:
            self.detail = detail

    def __enter__(self) -> LiveLine:
        self._started = time.monotonic()
        if self.console.is_terminal:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.console.is_terminal:
            self._live.stop()
