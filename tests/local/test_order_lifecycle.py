"""`dropship run` in its own process, driven over HTTP only: orders through every Manage Orders tab.

The stack is the operator's command (ports chosen by the OS, a state file in a temp dir); the test talks to
the seller API, the simulators' control endpoints, the runtime's /_local/ endpoints and moto's endpoint,
and stops it with Ctrl-C (SIGINT) like an operator would.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from local.state_file import wait_for_json
from local.template import ROOT

SHOP = "demo-store"
AE_PRODUCT = "1005008453688391"
SKUS = {"1000221": "14:193#Silver", "1000387": "14:175#Black"}  # the fixture order's variants


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    log: Path
    state_file: Path
    http: requests.Session

    @property
    def api(self) -> str:
        return str(self.state["api"])

    def seller(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.state['shops'][SHOP]}"}
        return self.http.request(method, f"{self.api}/shops/{SHOP}{path}", headers=headers, timeout=60, **kwargs)

    def wait_idle(self) -> None:
        answer = self.http.post(f"{self.api}/_local/wait", json={"timeout": 60}, timeout=90).json()
        assert answer["idle"], "the stack did not settle"

    def statuses(self) -> dict[str, str]:
        page = self.seller("GET", "/orders", params={"limit": "100"}).json()
        return {o["order_id"]: o["status"] for o in page["orders"]}

    def counts(self) -> dict[str, int]:
        return dict(self.seller("GET", "/orders", params={"limit": "1"}).json()["counts"])

    def sync(self, hour: int) -> None:
        when = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
        runs = self.http.post(f"{self.api}/_local/schedules/fire", json={"time": when.isoformat()}, timeout=120)
        assert runs.status_code == 200 and all(r["ok"] for r in runs.json()["runs"]), runs.text
        self.wait_idle()

    def sim(self, which: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.state[which]}{path}", timeout=30, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("stack")
    log = tmp / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "TABLE_NAME"))}
    command = [sys.executable, "-m", "local.cli", "run", "--state-dir", str(tmp)]
    for name in ("api", "moto", "aliexpress", "shopbase"):
        command += [f"--{name}-port", "0"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    http = requests.Session()
    http.trust_env = False
    state_file = tmp / "stack.json"
    try:
        state = wait_for_json(state_file, 60, lambda content: "shops" in content, alive=lambda: process.poll() is None)
    except (TimeoutError, FileNotFoundError) as error:
        raise AssertionError(f"the stack did not start ({error}):\n{log.read_text()[-3000:]}") from error
    yield Running(process, state, log, state_file, http)
    if process.poll() is None:
        process.kill()
        process.wait()


def order_payload(base: dict[str, Any], order_id: int, **changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(base)
    order.update(id=order_id, name=f"#{order_id}", **changes)
    for n, item in enumerate(order["line_items"]):
        item["id"] = order_id * 10 + n
    return order


def test_the_banner_names_the_manage_orders_page_and_it_opens(running: Running) -> None:
    """Issue 13: `make run` prints the page's URL, and the URL opens the page."""
    import re
    import time

    deadline, line = time.monotonic() + 30, None
    while line is None and time.monotonic() < deadline:
        line = next((ln for ln in running.log.read_text(errors="replace").splitlines() if "Manage Orders" in ln), None)
        time.sleep(0.1)
    assert line is not None, running.log.read_text()[-2000:]
    found = re.search(r"http://\S+/app\?shop=\S+", line)
    assert found is not None, line
    page = running.http.get(found.group(0), timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_orders_through_every_tab_then_ctrl_c(running: Running, order_paid: dict[str, Any]) -> None:
    r = running
    # The seller's catalog on AliExpress, linked to the store's variants (seller API → ds.product.get).
    r.sim("aliexpress", "POST", "/_sim/seed_product", json={
        "product_id": AE_PRODUCT, "store_id": "1103800006", "subject": "500ML Insulated Water Bottle",
        "skus": [{"sku_attr": attr, "price": "8.12", "stock": 500} for attr in SKUS.values()]})
    for variant, attr in SKUS.items():
        linked = r.seller("PUT", f"/links/{variant}", json={"product_id": AE_PRODUCT, "sku_attr": attr})
        assert linked.status_code == 200, linked.text

    # Customers order: ShopBase delivers signed webhooks to the runtime's HTTP API.
    happy, unpaid, cancelled, bad = "7000001", "7000002", "7000003", "7000004"
    address = dict(order_paid["shipping_address"], address1="", address2="")
    for payload in (order_payload(order_paid, int(happy)),
                    order_payload(order_paid, int(unpaid), financial_status="pending"),
                    order_payload(order_paid, int(cancelled)),
                    order_payload(order_paid, int(bad), shipping_address=address)):
        r.sim("shopbase", "POST", f"/_sim/shops/{SHOP}/orders", json={"order": payload})
    r.wait_idle()
    assert r.statuses() == {happy: "awaiting_order", unpaid: "pending", cancelled: "awaiting_order",
                            bad: "awaiting_order"}

    r.sim("shopbase", "POST", f"/_sim/shops/{SHOP}/orders/{cancelled}/cancel", json={})
    r.wait_idle()
    assert r.statuses()[cancelled] == "canceled"

    placed = r.seller("POST", "/orders/place", json={"order_ids": [happy, bad]})
    assert placed.status_code == 200, placed.text
    r.wait_idle()
    statuses = r.statuses()
    assert (statuses[happy], statuses[bad]) == ("awaiting_payment", "failed")
    assert "address" in (r.seller("GET", f"/orders/{bad}").json()["reason"] or "").lower()

    ae_ids = [a["ae_order_id"] for a in r.seller("GET", f"/orders/{happy}").json()["ae_orders"]]
    assert len(ae_ids) == 1
    r.sim("aliexpress", "POST", "/_sim/pay", json={"order_ids": ae_ids})
    r.sync(0)
    assert r.statuses()[happy] == "awaiting_shipment"

    shipped = r.sim("aliexpress", "POST", "/_sim/ship", json={"order_id": ae_ids[0]})
    tracking = shipped["packages"][0]["mail_no"]
    r.sync(12)
    assert r.statuses()[happy] == "fulfilled"
    assert r.counts() == {"all": 4, "pending": 1, "awaiting_order": 0, "awaiting_payment": 0,
                          "awaiting_shipment": 0, "fulfilled": 1, "canceled": 1, "failed": 1}
    # Tracking reached ShopBase as one fulfillment; the customer got one email (moto's SES, over HTTP).
    store_order = r.sim("shopbase", "GET", f"/_sim/shops/{SHOP}/orders/{happy}")
    assert [f["tracking_number"] for f in store_order["fulfillments"]] == [tracking]
    ses = boto3.client("ses", endpoint_url=r.state["moto"], region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x", config=Config(account_id_endpoint_mode="disabled"))
    assert ses.get_send_quota()["SentLast24Hours"] == 1

    # A second 12:00 run (a duplicated schedule delivery) changes nothing.
    r.sync(12)
    assert len(r.sim("shopbase", "GET", f"/_sim/shops/{SHOP}/orders/{happy}")["fulfillments"]) == 1
    assert ses.get_send_quota()["SentLast24Hours"] == 1

    # Ctrl-C: everything stops cleanly and the state file is gone.
    r.process.send_signal(signal.SIGINT)
    assert r.process.wait(timeout=30) == 0
    output = r.log.read_text()
    assert "stopped" in output and "Traceback" not in output
    assert not r.state_file.exists()
