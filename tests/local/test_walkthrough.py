"""docs/local-runtime.md "Try it by hand", run as written: the doc's marked blocks against `dropship run`.

Blocks marked `<!-- walkthrough: NAME -->` are read from the doc (so doc and test cannot drift) and run with
bash from the repository root, one after the other; shell variables a block sets are handed to the next
blocks. The only things the test adds are environment variables: free ports (`DROPSHIP_*_PORT=0`) and a
state folder of its own (`DROPSHIP_STATE_DIR`). After each block, its effect is checked over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from local.state_file import wait_for_json
from local.template import ROOT

DOC = ROOT / "docs" / "local-runtime.md"
BLOCK = re.compile(r"<!-- walkthrough: (?P<name>[\w-]+) -->\s*```sh\n(?P<code>.*?)```", re.S)
SHOP = "demo-store"


def first_json(out: str) -> Any:
    """The JSON answer a block's first command (curl) printed, ahead of what the next commands printed."""
    return json.JSONDecoder().raw_decode(out.lstrip())[0]


def after_json(out: str) -> str:
    """What the commands after the first (curl) printed."""
    return out.lstrip()[json.JSONDecoder().raw_decode(out.lstrip())[1]:]


def walkthrough_blocks(text: str) -> list[tuple[str, str]]:
    return [(m["name"], m["code"]) for m in BLOCK.finditer(text)]


@dataclass
class Walk:
    tmp: Path
    env: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)
    shell_vars: dict[str, str] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    def run_block(self, name: str, code: str) -> str:
        """The block in bash (`set -euo pipefail`); the variables it assigns are kept for the next blocks."""
        names = list(dict.fromkeys(re.findall(r"^([A-Z_][A-Z0-9_]*)=", code, re.M)))
        out_file = self.tmp / f"vars-{name}"
        dump = "".join(f'printf "%s\\0" "{n}=${{{n}}}" >> "$WALKTHROUGH_VARS"\n' for n in names)
        script = f"set -euo pipefail\n{code}\n{dump}"
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env={**self.env, **self.shell_vars, "WALKTHROUGH_VARS": str(out_file)})
        assert done.returncode == 0, f"block {name!r} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        if out_file.exists():
            for pair in out_file.read_text().split("\0"):
                if pair:
                    key, _, value = pair.partition("=")
                    self.shell_vars[key] = value
        return done.stdout

    def seller(self, path: str, **params: str) -> Any:
        response = self.http.get(f"{self.state['api']}/shops/{SHOP}{path}", params=params, timeout=30,
                                 headers={"Authorization": f"Bearer {self.state['shops'][SHOP]}"})
        assert response.status_code == 200, response.text
        return response.json()

    def order(self) -> dict[str, Any]:
        return dict(self.seller(f"/orders/{self.shell_vars['ORDER']}"))


def check_start(w: Walk, out: str) -> None:
    assert w.state["shops"][SHOP]
    assert all(w.state[k].startswith("http://127.0.0.1:") for k in ("api", "moto", "shopbase", "aliexpress"))


def check_urls(w: Walk, out: str) -> None:
    v = w.shell_vars
    assert (v["API"], v["SHOPBASE"], v["ALIEXPRESS"]) == (w.state["api"], w.state["shopbase"], w.state["aliexpress"])
    assert v["TOKEN"] == w.state["shops"][SHOP]


def check_customer_orders(w: Walk, out: str) -> None:
    page = w.seller("/orders", tab="awaiting_order")
    assert [o["order_id"] for o in page["orders"]] == [w.shell_vars["ORDER"]]
    assert [i["variant_id"] for i in page["orders"][0]["items"]] == [w.shell_vars["VARIANT"]]
    # `dropship orders` showed what the next step needs: the order and its variant id.
    assert w.shell_vars["ORDER"] in out and w.shell_vars["VARIANT"] in out and "Awaiting Order: 1" in out


def check_seller_api(w: Walk, out: str) -> None:
    answer = first_json(out)
    assert [o["order_id"] for o in answer["orders"]] == [w.shell_vars["ORDER"]]


def check_link_and_place(w: Walk, out: str) -> None:
    assert w.seller(f"/links/{w.shell_vars['VARIANT']}")["product_id"] == "1005008453688391"
    order = w.order()
    assert order["status"] == "awaiting_payment", order
    assert [a["ae_order_id"] for a in order["ae_orders"]] == [w.shell_vars["AE_ORDER"]]
    assert "placed" in out  # `dropship place` said where the order went


def check_pay_and_sync(w: Walk, out: str) -> None:
    assert w.order()["status"] == "awaiting_shipment"
    assert "Awaiting Payment 1 → 0, Awaiting Shipment 0 → 1" in out, out


def check_ship_and_sync(w: Walk, out: str) -> None:
    order = w.order()
    assert order["status"] == "fulfilled"
    tracking = order["packages"][0]["tracking_number"]
    assert order["packages"][0]["fulfillment_id"] and order["packages"][0]["notified_at"]
    assert tracking in out and "Status history" in out  # `dropship order` told the story


def check_store_and_inbox(w: Walk, out: str) -> None:
    tracking = w.order()["packages"][0]["tracking_number"]
    store_order = first_json(out)
    assert [f["tracking_number"] for f in store_order["fulfillments"]] == [tracking]
    inbox = after_json(out)  # `dropship emails --body`
    assert f"Tracking number {tracking}" in inbox and "Emails sent (1)" in inbox  # the body, as text
    assert "@example.com" in inbox and "customer" + w.shell_vars["ORDER"] not in inbox  # the recipient masked


CHECKS: dict[str, Callable[[Walk, str], None]] = {
    "start": check_start, "urls": check_urls, "customer-orders": check_customer_orders,
    "seller-api": check_seller_api, "link-and-place": check_link_and_place, "pay-and-sync": check_pay_and_sync,
    "ship-and-sync": check_ship_and_sync, "store-and-inbox": check_store_and_inbox,
}


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Walk, subprocess.Popen[bytes], Path]]:
    tmp = tmp_path_factory.mktemp("walkthrough")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "TABLE_NAME", "DROPSHIP_"))}
    env.update({f"DROPSHIP_{name}_PORT": "0" for name in ("API", "MOTO", "ALIEXPRESS", "SHOPBASE")})
    env["DROPSHIP_STATE_DIR"] = str(tmp)
    blocks = dict(walkthrough_blocks(DOC.read_text(encoding="utf-8")))
    log = tmp / "run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "-c", blocks["start"]], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    walk = Walk(tmp, env)
    walk.http.trust_env = False
    try:
        walk.state = wait_for_json(tmp / "stack.json", 90, lambda s: "shops" in s, alive=lambda: process.poll() is None)
    except (TimeoutError, FileNotFoundError) as error:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"`dropship run` did not start ({error}):\n{log.read_text()[-3000:]}") from error
    yield walk, process, log
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_the_doc_marks_every_checked_step() -> None:
    names = [name for name, _ in walkthrough_blocks(DOC.read_text(encoding="utf-8"))]
    assert names == list(CHECKS), "docs/local-runtime.md's walkthrough blocks and this test's checks differ"


def test_walkthrough_runs_as_written(walk: tuple[Walk, subprocess.Popen[bytes], Path]) -> None:
    w, process, log = walk
    for name, code in walkthrough_blocks(DOC.read_text(encoding="utf-8")):
        out = log.read_text() if name == "start" else w.run_block(name, code)
        CHECKS[name](w, out)
    assert "Ctrl-C" in log.read_text() and str(w.state["api"]) in log.read_text()  # run printed its URLs
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert "stopped" in log.read_text() and "Traceback" not in log.read_text()
