"""The `dropship` CLI: help everywhere, one output style (tables, or JSON with --json), clear errors.

The data commands run in-process (click's CliRunner) against `dropship run` started as its own process on
free ports, the way an operator uses them: one order is taken through the tabs with the CLI's JSON output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import requests
from click.testing import CliRunner, Result

from local.cli import cli, main
from local.state_file import wait_for_json
from local.template import ROOT

SHOP = "demo-store"
AE_PRODUCT = "1005008453688391"
# Commands that print data (a table, or JSON with --json); the others print one value or nothing.
DATA_COMMANDS = ["status", "orders", "order", "emails", "place", "sync-now", "advance", "shop add",
                 "shop webhooks", "shop remove"]


def all_commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


def test_every_command_and_option_has_help() -> None:
    missing = []
    for name, command in all_commands(cli):
        if not (command.help or "").strip():
            missing.append(name)
        missing += [f"{name} {p.opts[0]}" for p in command.params
                    if isinstance(p, click.Option) and not (p.help or "").strip()]
        result = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0 and "Usage: " in result.output, result.output
    assert missing == []


def test_every_data_command_has_json() -> None:
    commands = dict(all_commands(cli))
    assert [n for n in DATA_COMMANDS if "as_json" not in {p.name for p in commands[n].params}] == []


def _blocked_imports_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a Python where moto and PyYAML (the [local] extra) cannot be imported."""
    code = ("import sys; sys.modules['moto'] = None; sys.modules['yaml'] = None; "
            "from local.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("command", ["run", "demo"])
def test_without_the_local_extra_run_and_demo_say_what_to_install(command: str) -> None:
    done = _blocked_imports_run(command, "--api-port", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pip install 'dropship-connector[local]'" in done.stderr
    assert "moto[server]" in done.stderr and "PyYAML" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_local_extra_the_client_commands_still_load(tmp_path: Path) -> None:
    assert _blocked_imports_run("orders", "--help").returncode == 0
    done = _blocked_imports_run("orders", "--state-file", str(tmp_path / "none.json"))
    assert done.returncode == 1 and "no running stack" in done.stderr and "Traceback" not in done.stderr


@dataclass
class Running:
    state: dict[str, Any]
    env: dict[str, str]
    http: requests.Session

    def cli(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def sim(self, which: str, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(f"{self.state[which]}{path}", json=body, timeout=30)
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "TABLE_NAME"))}
    command = [sys.executable, "-m", "local.cli", "run", "--state-dir", str(tmp)]
    for name in ("api", "moto", "aliexpress", "shopbase"):
        command += [f"--{name}-port", "0"]
    log = tmp / "run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        state = wait_for_json(tmp / "stack.json", 90, lambda s: "shops" in s, alive=lambda: process.poll() is None)
    except (TimeoutError, FileNotFoundError) as error:
        process.kill()
        raise AssertionError(f"the stack did not start ({error}):\n{log.read_text()[-3000:]}") from error
    http = requests.Session()
    http.trust_env = False
    yield Running(state, {"DROPSHIP_STATE_DIR": str(tmp)}, http)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def test_one_order_through_the_tabs_with_json(running: Running) -> None:
    r = running
    assert r.cli("url", "api").stdout.strip() == r.state["api"]
    assert r.cli("token").stdout.strip() == r.state["shops"][SHOP]
    status = r.json("status")
    assert status["api"] == r.state["api"] and "SyncStatusFunction" in status["functions"]
    assert "PushTrackingFunction" in r.cli("status").stdout

    created = r.sim("shopbase", f"/_sim/shops/{SHOP}/orders", {"n_items": 1})
    order_id, variant = str(created["id"]), str(created["line_items"][0]["variant_id"])
    r.cli("wait")
    page = r.json("orders", "--tab", "awaiting_order")
    assert page["counts"]["awaiting_order"] == 1 and page["orders"][0]["items"][0]["variant_id"] == variant
    table = r.cli("orders").stdout
    assert "Awaiting Order: 1" in table and variant in table and "link variant" in table  # the next step

    r.sim("aliexpress", "/_sim/seed_product", {"product_id": AE_PRODUCT, "skus": [{"sku_attr": ""}]})
    linked = r.http.put(f"{r.state['api']}/shops/{SHOP}/links/{variant}", json={"product_id": AE_PRODUCT},
                        headers={"Authorization": f"Bearer {r.state['shops'][SHOP]}"}, timeout=30)
    assert linked.status_code == 200, linked.text
    placed = r.json("place", "--all")
    assert [(p["order_id"], p["outcome"], p["final"]) for p in placed["results"]] == [(order_id, "placed", "placed")]
    assert placed["sentence"].startswith("1 store orders: 1 placed in the request")
    ae_ids = placed["results"][0]["ae_order_ids"]
    assert r.cli("orders", "--tab", "awaiting_payment", "--only", "ae_order_ids").stdout.split() == ae_ids

    r.sim("aliexpress", "/_sim/pay", {"order_ids": ae_ids})
    synced = r.json("sync-now", "--at", "00:00")
    assert all(run["ok"] for run in synced["runs"]) and synced["settled"]
    assert synced["changes"][SHOP] == "Awaiting Payment 1 → 0, Awaiting Shipment 0 → 1"
    shipped = r.sim("aliexpress", "/_sim/ship", {"order_id": ae_ids[0]})
    tracking = shipped["packages"][0]["mail_no"]
    assert r.json("sync-now", "--at", "12:00")["counts"][SHOP]["fulfilled"] == 1

    story = r.json("order", order_id)
    assert story["status"] == "fulfilled" and [h["to_status"] for h in story["history"]] == [
        "awaiting_order", "awaiting_payment", "awaiting_shipment", "fulfilled"]
    assert story["items"][0]["link"]["product_id"] == AE_PRODUCT
    assert [p["tracking_number"] for p in story["packages"]] == [tracking]
    assert [e["tracking_number"] for e in story["emails"]] == [tracking]
    # Only a name and a country of the customer: no email address, phone or street.
    assert set(story["customer"]) == {"name", "country"}
    dumped = json.dumps(story)
    assert f"customer{order_id}@" not in dumped and "address1" not in dumped and "phone" not in dumped
    assert "Status history" in r.cli("order", order_id).stdout

    emails = r.json("emails")["emails"]
    assert [(e["order"], e["tracking_number"]) for e in emails] == [(created["name"], tracking)]
    assert emails[0]["to"] == ["c***@example.com"] and "body" not in emails[0]
    with_body = r.json("emails", "--body", "--order", order_id)["emails"]
    assert f"Tracking number {tracking}" in with_body[0]["body"] and "<p>" not in with_body[0]["body"]

    clock = r.json("advance", "--hours", "2")
    assert clock["offset"] >= 7200


def test_errors_are_one_line_without_traceback(running: Running) -> None:
    unknown = running.cli("orders", "--shop", "nope", code=1)
    assert "shop 'nope' is not onboarded" in unknown.stderr and "Traceback" not in unknown.output
    assert "give order ids or --all" in running.cli("place", code=2).output
    assert "Traceback" not in running.cli("sync-now", "--at", "25:99", code=2).output


def test_main_returns_the_exit_code(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["DROPSHIP_STATE_DIR"] = running.env["DROPSHIP_STATE_DIR"]
    try:
        assert main(["url", "api"]) == 0
        assert capsys.readouterr().out.strip() == running.state["api"]
        assert main(["orders", "--shop", "nope"]) == 1
        assert "dropship: shop 'nope'" in capsys.readouterr().err
        assert main(["--help"]) == 0
    finally:
        del os.environ["DROPSHIP_STATE_DIR"]


def test_onboarding_commands_on_the_local_stack(running: Running) -> None:
    r = running
    added = r.json("shop", "add", "shop-two", "--shopbase-token", "shpat_cli_test", "--local")
    token = added["seller_token"]
    assert added["shop"] == "shop-two" and added["simulated_store_created"] is True and len(token) > 20
    # The new token is in the state file: the other commands know the shop at once.
    assert r.cli("token", "--shop", "shop-two").stdout.strip() == token
    assert r.json("orders", "--shop", "shop-two")["counts"]["all"] == 0
    refused = r.cli("shop", "add", "shop-two", "--shopbase-token", "shpat_cli_test", "--local", code=1)
    assert "already onboarded" in refused.stderr and "Traceback" not in refused.output

    hooks = r.json("shop", "webhooks", "shop-two", "--local")["webhooks"]
    assert {h["action"] for h in hooks} == {"created"} and len(hooks) == 6
    assert all(h["address"].startswith(f"{r.state['api']}/webhooks/shopbase/shop-two/") for h in hooks)
    again = r.json("shop", "webhooks", "shop-two", "--local")["webhooks"]
    assert {h["action"] for h in again} == {"kept"}  # idempotent
    assert "orders/create" in r.cli("shop", "webhooks", "shop-two", "--local").stdout

    # Webhooks reach the API, signed with the shop's secret: an order lands in its Awaiting Order.
    r.sim("shopbase", "/_sim/shops/shop-two/orders", {"n_items": 1})
    r.cli("wait")
    assert r.json("orders", "--shop", "shop-two")["counts"]["awaiting_order"] == 1

    link = r.cli("shop", "connect-link", "shop-two", "--local").stdout.strip()
    assert link == f"{r.state['api']}/connect/aliexpress?shop=shop-two"
    rotated = r.cli("shop", "rotate-token", "shop-two", "--local").stdout.strip()
    assert rotated != token and r.cli("token", "--shop", "shop-two").stdout.strip() == rotated
    assert len(r.cli("shop", "rotate-webhook-secret", "shop-two", "--local").stdout.strip()) >= 32

    assert "say where" in r.cli("shop", "remove", "shop-two", "--confirm", "shop-two", code=2).output
    unconfirmed = r.cli("shop", "remove", "shop-two", "--confirm", "shop-2", "--local", code=1)
    assert "confirm with the shop's name" in unconfirmed.stderr
    removed = r.json("shop", "remove", "shop-two", "--confirm", "shop-two", "--local")
    assert removed["shop"] == "shop-two" and removed["orders"] == 1 and removed["webhooks"] == 6
    assert "is not onboarded" in r.cli("token", "--shop", "shop-two", code=1).stderr
    assert "AWS_ENDPOINT_URL" not in os.environ or os.environ["AWS_ENDPOINT_URL"] != r.state["moto"]


def test_the_live_line_shows_progress_on_a_terminal_only() -> None:
    import io
    import time

    from rich.console import Console

    from local.views import LiveLine

    terminal = io.StringIO()
    with LiveLine(Console(file=terminal, force_terminal=True, width=100), "Sync at 12:00 UTC…") as line:
        line.update(detail="waiting for the sync workers")
        time.sleep(0.5)
    shown = terminal.getvalue()
    assert "Sync at 12:00 UTC…" in shown and "waiting for the sync workers" in shown and " s" in shown
    piped = io.StringIO()
    with LiveLine(Console(file=piped, force_terminal=False), "Sync…"):
        time.sleep(0.2)
    assert piped.getvalue() == ""
