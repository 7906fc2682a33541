"""`dropship`: the operator's command line for the local stack.

  dropship run                      start everything, print the URLs, run until Ctrl-C
  dropship demo                     start everything and play the seed's story; exit 0 when it all checks out
  dropship status                   what a running stack wired from the template, with counters
  dropship orders --shop S [--tab T]
  dropship sync-now [--at 12:00]    fire the schedule(s) now, as if it were that time (UTC)
  dropship place --shop S (--all | ID...)
  dropship advance --hours H        move the AliExpress simulator's clock

Commands other than run/demo talk to a running stack through .local-state/stack.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import warnings
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import requests

from local.state_file import StateFileMissing, wait_for_json
from local.template import ROOT

STATE_FILE = ROOT / ".local-state" / "stack.json"
PORT_FLAGS = (("api", 8100), ("moto", 8101), ("aliexpress", 8102), ("shopbase", 8103))


class CliError(Exception):
    pass


# ---------------------------------------------------------------- helpers
def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def load_state(path: Path = STATE_FILE, wait: float = 5.0) -> dict[str, Any]:
    """The running stack's state; waits up to `wait` s for a stack that is still starting."""
    try:
        state = wait_for_json(path, wait, lambda content: "api" in content)
    except StateFileMissing as error:
        raise CliError(f"no running stack ({path} not found after {wait:g} s): "
                       "start one with `dropship run`") from error
    except TimeoutError as error:
        raise CliError(f"{error}: is `dropship run` still starting?") from error
    try:
        _session().get(f"{state['api']}/_local/status", timeout=3).raise_for_status()
    except requests.RequestException as error:
        raise CliError(f"the stack in {path} does not answer at {state['api']} ({error}); "
                       "is `dropship run` still running?") from error
    return state


def _token(state: dict[str, Any], shop: str) -> str:
    tokens = state.get("shops", {})
    if shop not in tokens:
        raise CliError(f"shop {shop!r} is not onboarded in this stack; known: {', '.join(tokens) or 'none'}")
    return str(tokens[shop])


def scheduled_time(at: str | None, date: str | None = None) -> datetime | None:
    """"12:00" → today 12:00 UTC (or `date`), an ISO timestamp as given, None → now."""
    if not at:
        return None
    if "T" in at:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    hour, minute = (int(p) for p in at.split(":", 1))
    day = datetime.fromisoformat(date).date() if date else datetime.now(UTC).date()
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def print_counts(counts: dict[str, int], title: str = "", file: Any = None) -> None:
    order = ["all", "pending", "awaiting_order", "awaiting_payment", "awaiting_shipment", "fulfilled",
             "canceled", "failed"]
    cells = "  ".join(f"{name.replace('_', ' ').title()}: {counts.get(name, 0)}" for name in order)
    print(f"{title:<34}{cells}" if title else cells, file=file or sys.stdout, flush=True)


def _add_port_flags(parser: argparse.ArgumentParser, default_zero: bool = False) -> None:
    for name, default in PORT_FLAGS:
        env = f"DROPSHIP_{name.upper()}_PORT"
        fallback = 0 if default_zero else default
        parser.add_argument(f"--{name}-port", type=int, default=int(os.environ.get(env, fallback)),
                            help=f"port for {name} (env {env}; default {fallback}; 0 = any free port)")


def _stack_config(args: argparse.Namespace) -> Any:
    from local.stack import StackConfig

    return StackConfig(
        template_path=Path(args.template), api_port=args.api_port, moto_port=args.moto_port,
        aliexpress_port=args.aliexpress_port, shopbase_port=args.shopbase_port,
        log_level=args.log_level, webhook_duplicate_rate=args.duplicates, webhook_reorder=args.reorder,
        parameters=dict(p.split("=", 1) for p in args.parameter),
        state_dir=Path(args.state_dir) if args.state_dir else None,
        function_log=_function_log(args),
    )


def _function_log(args: argparse.Namespace) -> Path | None:
    if args.function_log == "-":
        return None
    if args.function_log:
        return Path(args.function_log)
    return Path(args.state_dir or ROOT / ".local-state") / "functions.log"


def _quiet_libraries(verbose: bool) -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3", "simulators"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


# ---------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    from local.stack import Stack
    from local.world import onboard

    _quiet_libraries(args.verbose)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stack = Stack(_stack_config(args))
    try:
        try:
            stack.start()
        except OSError as error:
            raise CliError(f"could not start: {error} (a port in use? pick others with --api-port/--moto-port/"
                           "--aliexpress-port/--shopbase-port, or 0 for any free port)") from error
        handle = onboard(stack, args.shop, auto_place=args.auto_place)
        stack.write_state({"shops": {handle.shop: handle.api_token}})
        status = stack.status()
        print(f"""Dropship connector running locally (Ctrl-C to stop)
  API (HTTP API routes of infra/template.yaml)  {stack.api_url}
  AWS endpoint (moto)                           {stack.moto_url}
    e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --region us-east-1 --endpoint-url {stack.moto_url} dynamodb scan --table-name {status['tables'].get('OrdersTable', '?')}
  AliExpress simulator                          {stack.aliexpress.url}
  ShopBase simulator                            {stack.shopbase.url}   (shop {handle.shop}: {stack.shopbase.shop_url(handle.shop)})
  functions: {', '.join(status['functions'])}
  streams: {', '.join(status['streams']) or '-'}   queues: {', '.join(status['queues']) or '-'}   schedules: {', '.join(f"{k} {v['expression']}" for k, v in status['schedules'].items()) or '-'}
  function logs (Powertools JSON, EMF metrics): {_function_log(args) or 'stdout'}
  demo shop {handle.shop}: seller token in {STATE_FILE if args.state_dir else '(no state file)'}; webhooks registered for {', '.join(handle.webhook_topics)}
  AliExpress connected: {handle.aliexpress_connected}
Try: dropship orders --shop {handle.shop}   |   curl -X POST {stack.shopbase.url}/_sim/shops/{handle.shop}/orders -d '{{"n_items": 2}}'""", flush=True)  # noqa: E501
        while not stop.wait(0.5):
            pass
        print("stopping…", flush=True)
    finally:
        stack.stop()
    print("stopped", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from local.demo import run_demo

    _quiet_libraries(args.verbose)
    return run_demo(_stack_config(args), orders=args.orders, verbose=args.verbose)


def cmd_status(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_file))
    print(json.dumps(_session().get(f"{state['api']}/_local/status", timeout=10).json(), indent=2))
    return 0


def cmd_orders(args: argparse.Namespace) -> int:
    from local.world import SellerApi

    state = load_state(Path(args.state_file))
    api = SellerApi(state["api"], args.shop, _token(state, args.shop))
    page = api.orders(args.tab)
    print_counts(page["counts"])
    print(f"\n{args.tab} ({len(page['orders'])}):")
    for order in page["orders"]:
        reason = f"  — {order['reason']}" if order.get("reason") else ""
        print(f"  {order['order_id']:>10}  {order.get('name') or '':<8} {order['status']:<18}{reason}")
    return 0


def cmd_sync_now(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_file))
    when = scheduled_time(args.at, args.date)
    body: dict[str, Any] = {"name": args.schedule, "time": when.isoformat() if when else None}
    response = _session().post(f"{state['api']}/_local/schedules/fire", json=body, timeout=600)
    if response.status_code != 200:
        raise CliError(response.json().get("error", response.text))
    for run in response.json()["runs"]:
        verdict = "ok" if run["ok"] else f"FAILED after {run['attempts']} attempt(s): {run.get('error')}"
        print(f"{run['schedule']} for {run['scheduled_time']}: {verdict}")
    _session().post(f"{state['api']}/_local/wait", json={"timeout": 60}, timeout=90)
    return 0 if all(r["ok"] for r in response.json()["runs"]) else 1


def cmd_place(args: argparse.Namespace) -> int:
    from local.demo import place_orders
    from local.world import SellerApi

    state = load_state(Path(args.state_file))
    if not args.all and not args.ids:
        raise CliError("give order ids or --all")
    api = SellerApi(state["api"], args.shop, _token(state, args.shop))
    result = place_orders(api, None if args.all else list(args.ids))
    print(json.dumps(result, indent=2))
    _session().post(f"{state['api']}/_local/wait", json={"timeout": 60}, timeout=90)
    return 0


def cmd_advance(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_file))
    if not state.get("aliexpress"):
        raise CliError("this stack runs without simulators")
    seconds = timedelta(hours=args.hours).total_seconds()
    response = _session().post(f"{state['aliexpress']}/_sim/advance", json={"seconds": seconds}, timeout=30)
    response.raise_for_status()
    print(json.dumps(response.json()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dropship", description="The dropship connector on one machine.")
    sub = parser.add_subparsers(dest="command", required=True)

    def stack_flags(p: argparse.ArgumentParser, default_zero: bool) -> None:
        _add_port_flags(p, default_zero)
        p.add_argument("--template", default=str(ROOT / "infra" / "template.yaml"))
        p.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                       help="template parameter override")
        p.add_argument("--log-level", default=os.environ.get("DROPSHIP_LOG_LEVEL"),
                       help="override the functions' POWERTOOLS_LOG_LEVEL (the template's by default)")
        p.add_argument("--duplicates", type=float, default=0.0, help="fraction of webhooks delivered twice")
        p.add_argument("--reorder", action="store_true", help="shuffle webhook deliveries")
        p.add_argument("--state-dir", default=str(ROOT / ".local-state"))
        p.add_argument("--function-log", default="",
                       help="file for the functions' logs and metrics (CloudWatch's stand-in; default "
                            "<state dir>/functions.log); '-' = stdout")
        p.add_argument("-v", "--verbose", action="store_true")

    run = sub.add_parser("run", help="start the stack and keep it running")
    stack_flags(run, default_zero=False)
    run.add_argument("--shop", default="demo-store")
    run.add_argument("--auto-place", action="store_true", help="the demo shop places paid orders automatically")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="play the demo story and check the outcome")
    stack_flags(demo, default_zero=True)
    demo.add_argument("--orders", type=int, default=30)
    demo.set_defaults(func=cmd_demo, state_dir="")

    def client_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state-file", default=str(STATE_FILE))

    status = sub.add_parser("status", help="wiring and counters of the running stack")
    client_flags(status)
    status.set_defaults(func=cmd_status)

    orders = sub.add_parser("orders", help="a shop's orders by tab, with counts")
    client_flags(orders)
    orders.add_argument("--shop", default="demo-store")
    orders.add_argument("--tab", default="all")
    orders.set_defaults(func=cmd_orders)

    sync = sub.add_parser("sync-now", help="fire the schedule(s) now")
    client_flags(sync)
    sync.add_argument("--at", help="simulated scheduled time: HH:MM (UTC, today) or an ISO timestamp")
    sync.add_argument("--date", help="day for --at HH:MM (YYYY-MM-DD)")
    sync.add_argument("--schedule", help="schedule or function logical id (default: all schedules)")
    sync.set_defaults(func=cmd_sync_now)

    place = sub.add_parser("place", help="place orders on AliExpress through the seller API")
    client_flags(place)
    place.add_argument("--shop", default="demo-store")
    place.add_argument("--all", action="store_true", help="every order in Awaiting Order")
    place.add_argument("ids", nargs="*")
    place.set_defaults(func=cmd_place)

    advance = sub.add_parser("advance", help="advance the AliExpress simulator's clock")
    client_flags(advance)
    advance.add_argument("--hours", type=float, required=True)
    advance.set_defaults(func=cmd_advance)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as error:
        print(f"dropship: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
