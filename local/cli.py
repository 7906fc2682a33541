"""`dropship`: the operator's command line — the local stack, its orders and emails, and shop onboarding.

Built on click (commands, options, help) and rich (tables, live progress). Every command that prints data
prints a table for people, or JSON with `--json`; progress goes to stderr, so `$(dropship url api)` and
`dropship orders --json | jq` stay clean. Commands other than run/demo find the running stack through its
state file: `$DROPSHIP_STATE_DIR/stack.json`, else `.local-state/stack.json` (or `--state-file`).
`dropship --help` and `dropship COMMAND --help` list everything.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import click
from rich.console import Console, RenderableType
from rich.table import Table

from local import views
from local.stack_client import (
    ROOT,
    STATE_DIR_ENV,
    RunningStack,
    StackError,
    default_state_dir,
    default_state_file,
    http_session,
    load_stack,
    place_orders,
    poll_while,
    time_travel_env,
    where_queued_orders_went,
)
from local.state_file import write_json_atomic

TEMPLATE = ROOT / "infra" / "template.yaml"
PORTS = (("api", 8100, "the HTTP API"), ("moto", 8101, "the AWS emulator (moto)"),
         ("aliexpress", 8102, "the AliExpress simulator"), ("shopbase", 8103, "the ShopBase simulator"))
LOCAL_EXTRA = (("moto", "moto[server]"), ("yaml", "PyYAML"), ("werkzeug", "moto[server]"))
INSTALL_LOCAL = "pip install 'dropship-connector[local]'"
ONLY = ("order_ids", "variant_ids", "ae_order_ids", "tracking_numbers")
F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A failure the operator can act on: printed as one line (`dropship: …`), exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"dropship: {self.message}", err=True)


# ---------------------------------------------------------------- output
def console(stderr: bool = False) -> Console:
    """Tables go to stdout, progress to stderr; not a terminal (a pipe, a test): wide, no colour codes."""
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty()
    return Console(file=stream, highlight=False, width=None if terminal else 200, soft_wrap=not terminal)


def show(data: Any, view: Callable[[], RenderableType | str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        console().print(view())


def progress(text: str) -> views.LiveLine:
    """A live line on stderr while something takes more than a moment (nothing when stderr is not a terminal)."""
    return views.LiveLine(console(stderr=True), text)


def wait_with_progress(what: str, work: Callable[[], Any], stack: RunningStack | None = None) -> Any:
    """Run `work()` under a live line that shows the seconds and, given a stack, which functions it runs."""
    with progress(what) as line:
        baseline = _invocations(stack) if stack is not None and line.console.is_terminal else {}

        def tick(elapsed: float) -> None:
            if stack is None or not baseline or elapsed < 1:
                return
            now = _invocations(stack) or baseline
            line.update(detail=" · ".join(f"{name.removesuffix('Function')} +{n - baseline.get(name, 0)}"
                                          for name, n in now.items() if n != baseline.get(name, 0)))

        return poll_while(work, tick)


def _invocations(stack: RunningStack) -> dict[str, int]:
    try:
        return {k: int(v.get("invocations", 0)) for k, v in stack.status().get("functions", {}).items()}
    except StackError:
        return {}


# ---------------------------------------------------------------- shared options
def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")(f)


def state_file_option(f: F) -> F:
    return click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=f"The running stack's state file [default: ${STATE_DIR_ENV}/stack.json, else "
                             ".local-state/stack.json].")(f)


def shop_option(f: F) -> F:
    return click.option("--shop", default="demo-store", show_default=True,
                        help="The store (a shop onboarded in the running stack).")(f)


def _stack(state_file: Path | None) -> RunningStack:
    try:
        return load_stack(state_file or default_state_file())
    except StackError as error:
        raise CliError(str(error)) from error


def stack_options(default_ports: bool) -> Callable[[F], F]:
    """The options `run` and `demo` share: ports, template, parameters, logs."""

    def decorate(f: F) -> F:
        options = []
        for name, port, label in PORTS:
            default = port if default_ports else 0
            options.append(click.option(
                f"--{name}-port", type=click.IntRange(0, 65535), default=default, show_default=True,
                envvar=f"DROPSHIP_{name.upper()}_PORT", show_envvar=True, metavar="PORT",
                help=f"Port for {label} on 127.0.0.1; 0 = any free port."))
        options += [
            click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         default=TEMPLATE, show_default="infra/template.yaml",
                         help="The SAM template to run (e.g. a modified copy)."),
            click.option("--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
                         help="Override a template parameter (repeatable)."),
            click.option("--log-level", envvar="DROPSHIP_LOG_LEVEL", show_envvar=True, default=None,
                         help="Override the functions' POWERTOOLS_LOG_LEVEL [default: the template's]."),
            click.option("--duplicates", type=click.FloatRange(0, 1), default=0.0, show_default=True,
                         help="Fraction of ShopBase webhooks delivered twice."),
            click.option("--reorder", is_flag=True, help="Shuffle the order of ShopBase webhook deliveries."),
            click.option("--function-log", default="", metavar="PATH",
                         help="File for the functions' JSON logs and EMF metrics (CloudWatch's stand-in) "
                              "[default: <state dir>/functions.log]; '-' = stdout."),
            click.option("-v", "--verbose", is_flag=True, help="Show the runtime's own logs (and, for the demo, "
                                                               "each misplaced order's packages)."),
        ]
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def require_local_extra(command: str) -> None:
    """run/demo need moto and PyYAML (the `[local]` extra): say so instead of a traceback."""
    missing = []
    for module, package in LOCAL_EXTRA:
        try:
            importlib.import_module(module)
        except ImportError:
            if package not in missing:
                missing.append(package)
    if missing:
        raise CliError(f"`dropship {command}` needs the local runtime's extra dependencies (missing: "
                       f"{', '.join(missing)}); install them with: {INSTALL_LOCAL}  (`make install` does)")


def _stack_config(options: dict[str, Any], state_dir: Path | None) -> Any:
    from local.stack import StackConfig

    parameters = {}
    for item in options["parameters"]:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--parameter")
        parameters[name] = value
    return StackConfig(
        template_path=options["template"], api_port=options["api_port"], moto_port=options["moto_port"],
        aliexpress_port=options["aliexpress_port"], shopbase_port=options["shopbase_port"],
        log_level=options["log_level"], webhook_duplicate_rate=options["duplicates"],
        webhook_reorder=options["reorder"], parameters=parameters, state_dir=state_dir,
        function_log=_function_log(options["function_log"], state_dir), extra_env=time_travel_env())


def _function_log(option: str, state_dir: Path | None) -> Path | None:
    if option == "-":
        return None
    if option:
        return Path(option)
    return (state_dir or default_state_dir()) / "functions.log"


def _quiet_libraries(verbose: bool) -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3", "simulators"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def scheduled_time(at: str | None, date: str | None = None) -> datetime | None:
    """"12:00" → today 12:00 UTC (or `date`), an ISO timestamp as given, None → now."""
    if not at:
        return None
    try:
        if "T" in at:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        hour, minute = (int(p) for p in at.split(":", 1))
        day = datetime.fromisoformat(date).date() if date else datetime.now(UTC).date()
        return datetime.combine(day, time(hour, minute), tzinfo=UTC)
    except ValueError as error:
        raise click.BadParameter(f"{at!r}: give HH:MM (UTC) or an ISO timestamp ({error})",
                                 param_hint="--at") from error


# ---------------------------------------------------------------- the command group
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    """The dropship connector on one machine, and the operator's commands.

    \b
    Start:    dropship run            (or: dropship demo, which plays the whole story and checks it)
    Look:     dropship orders | order ID | emails | status | url NAME | token
    Act:      dropship place | sync-now | advance | wait
    Shops:    dropship shop add | webhooks | connect-link | rotate-token | rotate-webhook-secret | remove

    The commands after `run` talk to the running stack through its state file (ports are whatever
    `run` printed). From a fresh clone: `make install` once, then `.venv/bin/dropship …`.
    """


@cli.command()
@stack_options(default_ports=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Where the state file (URLs, the demo shop's seller token; mode 600) is written "
                   f"[env {STATE_DIR_ENV}; default .local-state].")
@click.option("--shop", default="demo-store", show_default=True, help="The demo shop to onboard.")
@click.option("--auto-place", is_flag=True, help="The demo shop places paid orders on AliExpress automatically.")
def run(state_dir: Path | None, shop: str, auto_place: bool, **options: Any) -> None:
    """Start the whole system locally and keep it running until Ctrl-C.

    moto (the AWS services), every function of infra/template.yaml with its routes, streams, queues and
    schedules, and the ShopBase and AliExpress simulators; one demo shop onboarded and connected.
    """
    require_local_extra("run")
    from local.stack import Stack
    from local.world import onboard

    _quiet_libraries(options["verbose"])
    state_dir = state_dir or default_state_dir()
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    config = _stack_config(options, state_dir)
    stack = Stack(config)
    try:
        with progress("Starting moto, the template's functions and the simulators…"):
            try:
                stack.start()
            except OSError as error:
                raise CliError(f"could not start: {error} (a port in use? pick others with --api-port/"
                               "--moto-port/--aliexpress-port/--shopbase-port, or 0 for any free port)") from error
            handle = onboard(stack, shop, auto_place=auto_place)
            # `env`: the functions' environment (table and secret names, queue URLs; no secret values), so that
            # `dropship shop … --local` reaches the same resources from another process.
            path = stack.write_state({"shops": {handle.shop: handle.api_token}, "env": dict(stack.wiring.env),
                                      "function_log": str(config.function_log or "")})
        _print_running(stack, handle, path, config.function_log)
        while not stop.wait(0.5):
            pass
        click.echo("stopping…")
    finally:
        stack.stop()
    click.echo("stopped")


def _print_running(stack: Any, handle: Any, state_file: Path | None, function_log: Path | None) -> None:
    status = stack.status()
    table = Table(title="Dropship connector running locally (Ctrl-C stops it)", title_justify="left",
                  show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("Manage Orders", f"{stack.page_url(handle.shop)}   (sign in with the seller token)")
    table.add_row("API", f"{stack.api_url}   (the HTTP API routes of infra/template.yaml)")
    table.add_row("AWS (moto)", f"{stack.moto_url}   (tables: {', '.join(status['tables'].values()) or '-'})")
    table.add_row("AliExpress sim", stack.aliexpress.url)
    table.add_row("ShopBase sim", f"{stack.shopbase.url}   (store: {stack.shopbase.shop_url(handle.shop)})")
    table.add_row("Shop", f"{handle.shop}: webhooks for {len(handle.webhook_topics)} topics, AliExpress "
                          f"connected: {handle.aliexpress_connected}, seller token in {state_file or '-'}")
    table.add_row("Functions", ", ".join(status["functions"]))
    table.add_row("Event sources", ", ".join([*status["streams"], *status["queues"],
                                              *(f"{k} {v['expression']}" for k, v in status["schedules"].items())]))
    table.add_row("Function logs", str(function_log or "stdout"))
    out = console()
    out.print(table)
    hint = f" --state-file {state_file}" if state_file and state_file != default_state_file() else ""
    out.print(f"Try, in another terminal:  .venv/bin/dropship orders{hint}   ·   .venv/bin/dropship url shopbase{hint}"
              "   ·   docs/local-runtime.md \"Try it by hand\"")


@cli.command()
@stack_options(default_ports=False)
@click.option("--orders", type=click.IntRange(14, 500), default=30, show_default=True,
              help="How many store orders the customers place (at least the 14 the story's roles need).")
@click.option("--keep-running", is_flag=True,
              help="Keep the stack up after the story (until Ctrl-C) to look at it with the other commands; "
                   f"writes the state file to ${STATE_DIR_ENV} or .local-state.")
def demo(orders: int, keep_running: bool, **options: Any) -> None:
    """Start everything, play the demo story end to end, and check every order's outcome.

    Exit 0 when every store order ended where the story says, 1 otherwise (one line per problem).
    """
    require_local_extra("demo")
    from local.demo import run_demo

    _quiet_libraries(options["verbose"])
    state_dir = default_state_dir() if keep_running else None
    if state_dir is not None and (state_dir / "stack.json").exists():
        try:
            running = load_stack(state_dir / "stack.json", wait=0)
        except StackError:
            running = None
        if running is not None:
            raise CliError(f"a stack is already running with the state file {running.path} (pid "
                           f"{running.state.get('pid')}); stop it, or set {STATE_DIR_ENV} to another folder")
    config = _stack_config(options, state_dir)
    code = run_demo(config, orders=orders, verbose=options["verbose"], keep_running=keep_running)
    raise click.exceptions.Exit(code)


@cli.command()
@state_file_option
@json_option
def status(state_file: Path | None, as_json: bool) -> None:
    """What the running stack wired from the template: URLs, functions, event sources, with counters."""
    data = _stack(state_file).status()
    show(data, lambda: views.status_view(data), as_json)


@cli.command()
@click.argument("name", type=click.Choice(["page", "api", "moto", "shopbase", "aliexpress", "store"]))
@shop_option
@state_file_option
def url(name: str, shop: str, state_file: Path | None) -> None:
    """Print one URL of the running stack (for shell variables: API=$(dropship url api)).

    \b
    page        the --shop's Manage Orders page (open it in a browser; sign in with `dropship token`)
    api         the HTTP API (seller API, webhooks, OAuth callback)
    moto        the AWS endpoint (aws --endpoint-url …)
    shopbase    the ShopBase simulator (its /_sim/… controls)
    aliexpress  the AliExpress simulator (its /_sim/… controls)
    store       the --shop's store in the ShopBase simulator (its Admin API)
    """
    stack = _stack(state_file)
    try:
        if name == "store":
            click.echo(f"{stack.url('shopbase')}/shops/{shop}")
        elif name == "page":
            click.echo(f"{stack.url('api')}/app?{urlencode({'shop': shop})}")
        else:
            click.echo(stack.url(name))
    except StackError as error:
        raise CliError(str(error)) from error


@cli.command()
@shop_option
@state_file_option
def token(shop: str, state_file: Path | None) -> None:
    """Print a local shop's seller API token (for curl: -H "Authorization: Bearer $TOKEN")."""
    try:
        click.echo(_stack(state_file).token(shop))
    except StackError as error:
        raise CliError(str(error)) from error


def _seller(state_file: Path | None, shop: str) -> tuple[RunningStack, Any]:
    stack = _stack(state_file)
    try:
        return stack, stack.seller(shop)
    except StackError as error:
        raise CliError(str(error)) from error


@cli.command()
@shop_option
@click.option("--tab", type=click.Choice([key for key, _ in views.TABS]), default="all", show_default=True,
              help="The Manage Orders tab.")
@click.option("--only", type=click.Choice(ONLY), default=None,
              help="Print only these values of the tab's orders, one per line (for shell scripts).")
@state_file_option
@json_option
def orders(shop: str, tab: str, only: str | None, state_file: Path | None, as_json: bool) -> None:
    """A shop's orders by Manage Orders tab, with every tab's count.

    Each order shows what its next step needs: line items with variant ids, AliExpress order ids,
    tracking numbers, and the reason when it failed.
    """
    _, api = _seller(state_file, shop)
    try:
        page = api.orders(tab)
        links = _links(api) if not only and not as_json else None
    except StackError as error:
        raise CliError(str(error)) from error
    if only:
        values: list[str] = []
        for order in page["orders"]:
            if only == "order_ids":
                values.append(order["order_id"])
            elif only == "variant_ids":
                values += [str(i["variant_id"]) for i in order.get("items", []) if i.get("variant_id")]
            else:
                values += [str(v) for v in order.get(only, [])]
        for value in dict.fromkeys(values):
            click.echo(value)
        return
    show(page, lambda: views.orders_table(page, links, shop), as_json)


@cli.command()
@click.argument("order_id")
@shop_option
@state_file_option
@json_option
def order(order_id: str, shop: str, state_file: Path | None, as_json: bool) -> None:
    """One order's whole story: status history, items and their AliExpress links, AliExpress orders,
    packages (ShopBase fulfillments) and the emails the customer got."""
    stack, api = _seller(state_file, shop)
    try:
        detail = api.order(order_id)
        links = _links(api)
    except StackError as error:
        raise CliError(str(error)) from error
    numbers = {p["tracking_number"] for p in detail.get("packages", [])}
    emails = [e.view() for e in _sent(stack) if e.tracking_number in numbers] if numbers else []
    story = views.order_summary(detail, links, emails)
    show(story, lambda: views.order_story(story), as_json)


def _links(api: Any) -> dict[str, Any]:
    """The shop's variant links, or none when the template has no links route (a partial template)."""
    try:
        return dict(api.links())
    except StackError:
        return {}


def _sent(stack: RunningStack) -> list[Any]:
    from local.ses_outbox import OutboxUnavailable, fetch_sent

    try:
        return fetch_sent(stack.moto, stack.api)
    except OutboxUnavailable as error:
        raise CliError(str(error)) from error


@cli.command()
@click.option("--order", "order_id", default=None, metavar="ID",
              help="Only the emails about this store order (by its id; the --shop's order).")
@shop_option
@click.option("--body", is_flag=True, help="Show each email's body as text (it greets the customer by name).")
@state_file_option
@json_option
def emails(order_id: str | None, shop: str, body: bool, state_file: Path | None, as_json: bool) -> None:
    """The emails customers were sent, from the local SES (recipients masked; bodies with --body)."""
    from local.ses_outbox import as_dicts

    stack = _stack(state_file)
    sent = _sent(stack)
    if order_id is not None:
        try:
            detail = stack.seller(shop).order(order_id)
        except StackError as error:
            raise CliError(str(error)) from error
        numbers = {p["tracking_number"] for p in detail.get("packages", [])}
        sent = [e for e in sent if e.tracking_number in numbers]
    data = as_dicts(sent, body=body)
    show({"emails": data}, lambda: views.emails_table(data), as_json)


@cli.command()
@click.argument("order_ids", nargs=-1, metavar="[ID]...")
@shop_option
@click.option("--all", "place_all", is_flag=True, help="Every order in Awaiting Order.")
@state_file_option
@json_option
def place(order_ids: tuple[str, ...], shop: str, place_all: bool, state_file: Path | None, as_json: bool) -> None:
    """Place store orders on AliExpress through the seller API, and say where each one went.

    The route places up to 10 in the request and queues the rest for the place_orders worker; this waits
    until the worker is done and shows each order's outcome (placed, placed by the worker, or failed: why).
    """
    if place_all == bool(order_ids):
        raise click.UsageError("give order ids or --all (not both)")
    stack, api = _seller(state_file, shop)
    try:
        result = wait_with_progress("Placing on AliExpress…",
                                    lambda: place_orders(api, None if place_all else list(order_ids)), stack)
        wait_with_progress("Waiting for the place_orders worker…", lambda: stack.wait_idle(60), stack)
        rows = where_queued_orders_went(api, result["results"])
    except StackError as error:
        raise CliError(str(error)) from error
    data = {"results": rows, "summary": result["summary"], "sentence": views.placement_sentence(rows)}
    show(data, lambda: _group(views.placement_table(rows), data["sentence"]), as_json)


def _group(*parts: RenderableType | str) -> RenderableType:
    from rich.console import Group

    return Group(*parts)


# ---------------------------------------------------------------- product import (issue 12)
def _product_call(api: Any, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = api.request(method, f"/shops/{api.shop}{path}", **kwargs)
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"error": response.text[:200]}
    if response.status_code != 200:
        raise CliError(f"{method} {path} answered {response.status_code}: {body.get('error', '')}")
    return body


@cli.command("import")
@click.argument("urls", nargs=-1, required=True, metavar="URL|ID...")
@shop_option
@state_file_option
@json_option
def import_(urls: tuple[str, ...], shop: str, state_file: Path | None, as_json: bool) -> None:
    """Add AliExpress products to the shop's import list (drafts), by product URL or id.

    Any product URL form works (with tracking parameters, any country site); a product already imported or
    pushed is not imported twice.
    """
    _, api = _seller(state_file, shop)
    body = _product_call(api, "POST", "/products/import", json={"urls": list(urls)}, timeout=120)
    lines = [f"{r.get('product_id') or '-'}  {r['outcome']}" + (f": {r['error']}" if r.get("error") else "")
             for r in body["results"]]
    show(body, lambda: "\n".join([*lines, f"{body['imported']} imported"]), as_json)


@cli.command()
@shop_option
@click.option("--status", type=click.Choice(["draft", "pushed", "gone"]), default="draft", show_default=True,
              help="Drafts (the import list), pushed products, or products AliExpress stopped selling.")
@state_file_option
@json_option
def drafts(shop: str, status: str, state_file: Path | None, as_json: bool) -> None:
    """The import list: the shop's drafts (or its pushed products), newest first."""
    _, api = _seller(state_file, shop)
    body = _product_call(api, "GET", "/products", params={"status": status, "limit": "100"})

    def view() -> RenderableType:
        table = views.titled_table(f"{status} products ({len(body['products'])})",
                                   ("product id", "title", "variants", "cost", "store product"), overflow="ellipsis")
        for p in body["products"]:
            cost = p.get("cost_min") if p.get("cost_min") == p.get("cost_max") else \
                f"{p.get('cost_min')}-{p.get('cost_max')}"
            table.add_row(p["product_id"], str(p.get("title", ""))[:60], str(p.get("variant_count", "")),
                          str(cost), str(p.get("store_product_id") or "-"))
        return table

    show(body, view, as_json)


@cli.command()
@click.argument("product_ids", nargs=-1, required=True, metavar="ID...")
@shop_option
@click.option("--publish", is_flag=True, help="Published at once (default: a hidden draft in the store).")
@state_file_option
@json_option
def push(product_ids: tuple[str, ...], shop: str, publish: bool, state_file: Path | None, as_json: bool) -> None:
    """Push drafts to the ShopBase store: one store product each, every variant linked to its AliExpress SKU."""
    _, api = _seller(state_file, shop)
    results = [_product_call(api, "POST", f"/products/{pid}/push", json={"publish": publish}, timeout=60)
               for pid in product_ids]
    lines = [f"{r['product_id']} → store product {r['store_product_id']} ({r['linked_variants']} variants linked"
             f"{', published' if r['published'] else ', hidden'})" + "".join(f"\n  warning: {w}" for w in
                                                                              r.get("warnings", []))
             for r in results]
    show({"results": results}, lambda: "\n".join(lines), as_json)


@cli.command("sync-now")
@click.option("--at", default=None, metavar="HH:MM|ISO",
              help="Run as if it were this time: HH:MM (UTC, today) or an ISO timestamp [default: now].")
@click.option("--date", default=None, metavar="YYYY-MM-DD", help="The day for --at HH:MM [default: today, UTC].")
@click.option("--schedule", default=None, metavar="NAME",
              help="One schedule or its function's logical id [default: every schedule].")
@state_file_option
@json_option
def sync_now(at: str | None, date: str | None, schedule: str | None, state_file: Path | None,
             as_json: bool) -> None:
    """Fire the schedule(s) now — the status sync at 00:00 / 12:00 UTC — and wait until it settled.

    Exit 1 when a run failed. Shows how the Manage Orders tabs of the stack's shops changed.
    """
    stack = _stack(state_file)
    when = scheduled_time(at, date)
    before = _all_counts(stack)
    label = f"Sync as if at {when:%Y-%m-%d %H:%M} UTC…" if when else "Sync now…"
    try:
        runs = wait_with_progress(label, lambda: stack.fire_schedules(schedule, when.isoformat() if when else None),
                                  stack)
        idle = wait_with_progress("Waiting for sync workers, tracking pushes and emails…",
                                  lambda: stack.wait_idle(60), stack)
    except StackError as error:
        raise CliError(str(error)) from error
    after = _all_counts(stack)
    changes = {}
    for shop, was in before.items():
        now = after.get(shop)
        changes[shop] = views.counts_change(was, now) if isinstance(was, dict) and isinstance(now, dict) \
            else f"tab counts not available ({was if isinstance(was, str) else now})"
    data = {"runs": runs, "settled": idle, "changes": changes, "counts": after}

    def view() -> RenderableType:
        lines = [f"{shop}: {change}" for shop, change in changes.items()]
        if not idle:
            lines.append("the stack did not settle within 60 s: work is still going on")
        return _group(views.runs_table(runs), *lines)

    show(data, view, as_json)
    if not all(r["ok"] for r in runs):
        raise click.exceptions.Exit(1)


def _all_counts(stack: RunningStack) -> dict[str, dict[str, int] | str]:
    """Each local shop's tab counts, or why they could not be read."""
    counts: dict[str, dict[str, int] | str] = {}
    for shop in stack.shops:
        try:
            counts[shop] = stack.seller(shop).counts()
        except StackError as error:
            counts[shop] = str(error)
    return counts


@cli.command("wait")
@click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True, help="Give up after "
                                                                                            "this many seconds.")
@state_file_option
def wait_idle(timeout: float, state_file: Path | None) -> None:
    """Wait until the stack is idle: webhooks delivered, streams and queues drained (exit 1 on timeout).

    Webhooks, streams and queues work in the background, as on AWS; run this after a simulator call to
    see its whole effect.
    """
    stack = _stack(state_file)
    try:
        idle = wait_with_progress("Waiting for webhooks, streams and queues…", lambda: stack.wait_idle(timeout),
                                  stack)
    except StackError as error:
        raise CliError(str(error)) from error
    if not idle:
        raise CliError(f"the stack was still busy after {timeout:g} s")


@cli.command()
@click.option("--hours", type=click.FloatRange(min=0), required=True,
              help="How far to move the AliExpress simulator's clock (suppliers ship, tokens expire).")
@state_file_option
@json_option
def advance(hours: float, state_file: Path | None, as_json: bool) -> None:
    """Move the AliExpress simulator's clock forward."""
    stack = _stack(state_file)
    try:
        base = stack.url("aliexpress")
    except StackError as error:
        raise CliError(str(error)) from error
    seconds = timedelta(hours=hours).total_seconds()
    response = http_session().post(f"{base}/_sim/advance", json={"seconds": seconds}, timeout=30)
    if response.status_code != 200:
        raise CliError(f"the AliExpress simulator answered {response.status_code}: {response.text[:200]}")
    clock = response.json()
    show(clock, lambda: f"AliExpress clock +{hours:g} h: now "
                        f"{datetime.fromtimestamp(clock['now'], UTC):%Y-%m-%d %H:%M} UTC "
                        f"({clock['offset'] / 3600:g} h ahead of real time)", as_json)


# ---------------------------------------------------------------- onboarding (local/onboarding.py)
def _onboarding() -> Any:
    return importlib.import_module("local.onboarding")


def target_options(f: F) -> F:
    f = state_file_option(f)
    f = click.option("--local", "local_stack", is_flag=True,
                     help="Work on the running local stack (its moto, its functions' environment, the ShopBase "
                          "simulator), found through its state file.")(f)
    return click.option("--stack", "stack_name", envvar="DROPSHIP_STACK", show_envvar=True, default=None,
                        metavar="NAME", help="Work on this deployed CloudFormation stack (its outputs name the "
                                             "table, secrets and API; boto3's default credentials and region).")(f)


@dataclass
class Where:
    """Where a shop command works: a deployed stack or the running local one."""

    api_url: str
    local: RunningStack | None


@contextmanager
def onboarding_target(local_stack: bool, stack_name: str | None, state_file: Path | None) -> Iterator[Where]:
    """Point this process at the target; onboarding's refusals and AWS errors become one-line errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    onboarding = _onboarding()
    if local_stack == bool(stack_name):
        raise click.UsageError("say where: --stack NAME (a deployed stack) or --local (the running local stack)")
    saved = dict(os.environ)
    try:
        local = _stack(state_file) if local_stack else None
        target = onboarding.local_target(local.state) if local is not None else onboarding.stack_target(stack_name)
        onboarding.use(target)
        yield Where(str(target.api_url).rstrip("/"), local)
    except onboarding.OnboardingError as error:
        raise CliError(str(error)) from error
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"AWS: {error}") from error
    finally:  # main() may run inside another program (a test): leave its environment as it was
        os.environ.clear()
        os.environ.update(saved)
        importlib.import_module("shared.wiring").reset()


def _remember_token(stack: RunningStack | None, shop: str, token: str | None) -> None:
    """Locally, the state file keeps each shop's seller token so that `dropship orders --shop` works."""
    if stack is None:
        return
    shops = dict(stack.state.get("shops", {}))
    if token is None:
        shops.pop(shop, None)
    else:
        shops[shop] = token
    stack.state = {**stack.state, "shops": shops}
    write_json_atomic(stack.path, stack.state)


def _ensure_simulated_store(stack: RunningStack, shop: str, access_token: str, webhook_secret: str) -> bool:
    """Locally the store is the ShopBase simulator's: create it with these credentials when it is not there."""
    session = http_session()
    base = stack.url("shopbase")
    known = {s["name"] for s in session.get(f"{base}/_sim/shops", timeout=10).json().get("shops", [])}
    if shop in known:
        return False
    response = session.post(f"{base}/_sim/shops", json={"name": shop, "access_token": access_token,
                                                          "webhook_secret": webhook_secret}, timeout=10)
    if response.status_code >= 300:
        raise CliError(f"the ShopBase simulator refused the store {shop!r}: {response.text[:200]}")
    return True


@cli.group()
def shop() -> None:
    """Onboard and manage shops: on a deployed stack (--stack NAME) or the running local one (--local).

    \b
    add SHOP --shopbase-token T     the shop's secret and settings; a seller token, printed once
    webhooks SHOP                   every webhook topic on the ShopBase store, at this API (idempotent)
    connect-link SHOP               the link the seller opens to connect AliExpress
    rotate-token SHOP               a new seller token (printed once; the old one stops working)
    rotate-webhook-secret SHOP      store the secret ShopBase now signs this shop's webhooks with
    remove SHOP --confirm SHOP      the shop's webhooks, orders, settings, links and secrets
    """


@shop.command("add")
@click.argument("shop_name", metavar="SHOP")
@click.option("--shopbase-token", required=True, help="The store's ShopBase Admin API access token.")
@click.option("--webhook-secret", default=None,
              help="The secret ShopBase signs this shop's webhooks with [default: generated, only right for the "
                   "simulator].")
@click.option("--sender-email", default=None, help="The verified SES sender of the customer emails.")
@click.option("--auto-place", is_flag=True, help="Place paid orders on AliExpress automatically.")
@click.option("--replace", is_flag=True, help="Overwrite a shop that exists (or restore one removed < 7 days ago).")
@target_options
@json_option
def shop_add(shop_name: str, shopbase_token: str, webhook_secret: str | None, sender_email: str | None,
             auto_place: bool, replace: bool, local_stack: bool, stack_name: str | None, state_file: Path | None,
             as_json: bool) -> None:
    """Add a shop: its secret (webhook secret, ShopBase token, seller token hash) and settings.

    The seller token is printed once; only its SHA-256 is stored. With --local, the store is created in the
    ShopBase simulator when it is not there, and the token goes into the state file for the other commands.
    """
    with onboarding_target(local_stack, stack_name, state_file) as where:
        added = _onboarding().add_shop(shop_name, shopbase_token=shopbase_token, webhook_secret=webhook_secret,
                                       sender_email=sender_email, auto_place=auto_place, replace=replace)
        created = (_ensure_simulated_store(where.local, added.shop, shopbase_token, added.webhook_secret)
                   if where.local is not None else False)
    _remember_token(where.local, added.shop, added.seller_token)
    flag = "--local" if where.local is not None else f"--stack {stack_name}"
    data = {"shop": added.shop, "seller_token": added.seller_token, "simulated_store_created": created}
    show(data, lambda: _group(
        f"Shop {added.shop} added{' (its store created in the ShopBase simulator)' if created else ''}.",
        f"Seller token (shown once; only its hash is stored): [bold]{added.seller_token}[/bold]",
        f"Next: dropship shop webhooks {added.shop} {flag}"), as_json)


@shop.command("webhooks")
@click.argument("shop_name", metavar="SHOP")
@click.option("--api-url", default=None, help="The HTTP API's base URL the webhooks point at [default: the "
                                              "stack's ApiUrl output, or the local API].")
@target_options
@json_option
def shop_webhooks(shop_name: str, api_url: str | None, local_stack: bool, stack_name: str | None,
                  state_file: Path | None, as_json: bool) -> None:
    """Register every webhook topic on the shop's ShopBase store: created, kept, or corrected (moved to this
    API's address); other webhooks are never touched. Safe to run again."""
    with onboarding_target(local_stack, stack_name, state_file) as where:
        changes = _onboarding().register_webhooks(shop_name, api_url or where.api_url)
    rows = [{"topic": c.topic, "action": c.action, "address": c.address} for c in changes]

    def view() -> RenderableType:
        table = views.titled_table(f"Webhooks of {shop_name}", ("Topic", "Action", "Address"))
        for row in rows:
            table.add_row(row["topic"], row["action"], row["address"])
        return table

    show({"shop": shop_name, "webhooks": rows}, view, as_json)


@shop.command("connect-link")
@click.argument("shop_name", metavar="SHOP")
@click.option("--api-url", default=None, help="The HTTP API's base URL [default: the stack's ApiUrl output, or "
                                              "the local API].")
@target_options
def shop_connect_link(shop_name: str, api_url: str | None, local_stack: bool, stack_name: str | None,
                      state_file: Path | None) -> None:
    """Print the link that starts the seller's AliExpress connection (opened with the seller's token)."""
    with onboarding_target(local_stack, stack_name, state_file) as where:
        link = _onboarding().connect_link(shop_name, api_url or where.api_url)
    click.echo(link)


@shop.command("rotate-token")
@click.argument("shop_name", metavar="SHOP")
@target_options
def shop_rotate_token(shop_name: str, local_stack: bool, stack_name: str | None, state_file: Path | None) -> None:
    """Give the shop a new seller token, printed once; the old one stops working within the secrets' cache
    time (SECRET_MAX_AGE_SECONDS)."""
    with onboarding_target(local_stack, stack_name, state_file) as where:
        new_token = _onboarding().rotate_seller_token(shop_name)
    _remember_token(where.local, shop_name, new_token)
    click.echo(new_token)


@shop.command("rotate-webhook-secret")
@click.argument("shop_name", metavar="SHOP")
@click.option("--webhook-secret", default=None,
              help="The secret ShopBase now signs with (rotate it on ShopBase's side first) [default: generated, "
                   "only right for a ShopBase you control].")
@target_options
def shop_rotate_webhook_secret(shop_name: str, webhook_secret: str | None, local_stack: bool,
                               stack_name: str | None, state_file: Path | None) -> None:
    """Store the secret ShopBase now signs this shop's webhooks with (printed)."""
    with onboarding_target(local_stack, stack_name, state_file):
        secret = _onboarding().rotate_webhook_secret(shop_name, webhook_secret=webhook_secret)
    click.echo(secret)


@shop.command("remove")
@click.argument("shop_name", metavar="SHOP")
@click.option("--confirm", required=True, metavar="SHOP",
              help="The shop's name again: nothing is removed unless it matches.")
@target_options
@json_option
def shop_remove(shop_name: str, confirm: str, local_stack: bool, stack_name: str | None, state_file: Path | None,
                as_json: bool) -> None:
    """Remove a shop: its webhooks on ShopBase, its orders, settings and links, and its secrets (which
    Secrets Manager keeps 7 days for recovery). Export its orders first if the seller wants them."""
    with onboarding_target(local_stack, stack_name, state_file) as where:
        removed = _onboarding().remove_shop(shop_name, confirm=confirm)
    _remember_token(where.local, removed.shop, None)
    fields = dataclasses.asdict(removed)
    show(fields, lambda: "\n".join(f"{k}: {v}" for k, v in fields.items()), as_json)


# ---------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """The console script (`dropship`) and `python -m local.cli`."""
    try:
        result = cli.main(args=argv, prog_name="dropship", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as error:
        error.show()
        return int(error.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
