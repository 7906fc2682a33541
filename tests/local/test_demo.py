"""`dropship demo` end to end (a smaller story), in-process: exit 0 and the tab counts it printed."""

from __future__ import annotations

import io
from pathlib import Path

from local.demo import run_demo
from local.stack import StackConfig


def test_demo_story_checks_out(tmp_path: Path) -> None:
    out = io.StringIO()
    config = StackConfig(api_port=0, moto_port=0, aliexpress_port=0, shopbase_port=0, state_dir=None,
                         function_log=tmp_path / "functions.log", poll_interval=0.05, retry_delay=0.05)
    # One order comes from two suppliers: two AliExpress orders, each package fulfilled with its own items.
    code = run_demo(config, orders=14, out=out, two_suppliers=1)
    text = out.getvalue()
    assert code == 0, text
    assert "Played 8 of 8 steps" in text
    last_counts = [line for line in text.splitlines() if "Manage Orders" in line][-1]
    assert "Pending: 2" in last_counts and "Canceled: 2" in last_counts and "Failed: 3" in last_counts
    assert "Awaiting Order: 0" in last_counts and "Awaiting Shipment: 0" in last_counts
    assert (tmp_path / "functions.log").stat().st_size > 0  # function output went to the log, not stdout
