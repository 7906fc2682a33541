"""`dropship demo` end to end (a smaller story), in-process: exit 0, its story in store orders, its summary,
and with --keep-running a stack the other commands can look at."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from local.cli import cli
from local.demo import run_demo
from local.stack import StackConfig
from local.state_file import wait_for_json


def test_demo_story_checks_out(tmp_path: Path) -> None:
    out = io.StringIO()
    config = StackConfig(api_port=0, moto_port=0, aliexpress_port=0, shopbase_port=0, state_dir=tmp_path,
                         function_log=tmp_path / "functions.log", poll_interval=0.05, retry_delay=0.05)
    stop = threading.Event()
    result: dict[str, Any] = {}

    def play() -> None:
        # One order comes from two suppliers: two AliExpress orders, each package fulfilled with its own items.
        result["code"] = run_demo(config, orders=14, out=out, two_suppliers=1, keep_running=True, stop=stop)

    player = threading.Thread(target=play, daemon=True)
    player.start()
    try:
        # --keep-running: once the story is told, the stack stays up for the other commands.
        wait_for_json(tmp_path / "stack.json", 600, lambda s: "shops" in s, alive=player.is_alive)
        looked = CliRunner().invoke(cli, ["emails", "--json"], env={"DROPSHIP_STATE_DIR": str(tmp_path)})
        emails = json.loads(looked.stdout)["emails"]
    finally:
        stop.set()
        player.join(60)
    text = out.getvalue()
    assert result.get("code") == 0, text
    assert not (tmp_path / "stack.json").exists()  # gone with the stack
    assert "8 of 8 steps played" in text and "OK: every store order is where the story says" in text
    # Off a terminal each step says when it starts (no silent minute), then what it did.
    assert "→ Sync at 12:00 UTC → tracking → email…" in text and "✓ Sync at 12:00 UTC → tracking → email (" in text
    last_counts = [line for line in text.splitlines() if "Manage Orders →" in line][-1]
    assert "Pending: 2" in last_counts and "Canceled: 2" in last_counts and "Failed: 3" in last_counts
    assert "Awaiting Order: 0" in last_counts and "Awaiting Shipment: 0" in last_counts

    # Placement counts store orders, and says where the queued ones went: its failures are the Failed tab.
    placed = next(line for line in text.splitlines() if line.startswith("✓ Seller places orders"))
    found = re.search(r"(\d+) store orders: (\d+) placed in the request, (\d+) queued and placed by the "
                      r"place_orders worker, (\d+) failed", placed)
    assert found, placed
    total, inline, worker, failed = (int(n) for n in found.groups())
    assert (total, failed) == (10, 3) and inline + worker == 7
    assert text.count("Link variant 2000050 to an AliExpress product") >= 2 and "street address" in text

    # Paying is told in store orders too; the order from two suppliers has two AliExpress orders.
    paid = re.search(r"(\d+) store orders paid on AliExpress \(their (\d+) AliExpress orders", text)
    assert paid and int(paid[2]) == int(paid[1]) + 1, text

    summary = text[text.index("Summary"):]
    assert re.search(r"Failed \(3\)\s+#1007 \(5600007\): Link variant", summary), summary
    fulfillments = re.search(r"Fulfillments\s+(\d+) in ShopBase for (\d+) fulfilled store orders", summary)
    sent = re.search(r"Emails\s+(\d+) sent to customers, one per package", summary)
    assert fulfillments and sent and fulfillments[1] == sent[1] == str(len(emails)), summary
    assert all(e["tracking_number"] and e["to"][0].startswith("c***@") for e in emails)
    assert int(fulfillments[2]) == 14 - 2 - 2 - 3 - 1  # minus pending, canceled, failed, unpaid on AliExpress
    assert "Look at" in summary and "/moto-api/" in summary and str(tmp_path / "functions.log") in summary
    assert "alive until Ctrl-C" in summary and "The stack stays up" in text
    assert (tmp_path / "functions.log").stat().st_size > 0  # function output went to the log, not stdout
