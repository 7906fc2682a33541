"""The running stack and the browser of the page's browser test.

`dropship run` (what `make run` starts) runs as a subprocess on free ports; the seller's catalog and store orders
are seeded through the simulators and the seller API, as a seller's store would produce them. Chromium is
Debian's (/usr/bin/chromium), driven by Playwright through `executable_path` (Playwright's own browser download
cannot be reached from here) with a fresh profile.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from local.state_file import wait_for_json
from local.template import ROOT

try:
    from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
except ImportError as error:  # the dev extra pins it: `make install`
    raise ImportError("playwright is not installed: .venv/bin/pip install -e '.[dev]' (make install)") from error

__all__ = ["ARTIFACTS", "INJECTED_NAME", "INJECTED_TITLE", "BrowserStack", "Page", "expect"]

CHROMIUM = Path(os.environ.get("DROPSHIP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1366, "height": 900}
ARTIFACTS = ROOT / "test-artifacts" / "page"  # git-ignored
SHOP = "demo-store"
AE_PRODUCT = "1005008453688391"
SKUS = {"1000221": "14:193#Silver", "1000387": "14:175#Black"}  # the fixture order's variants
PRODUCT_TITLE = "500ML Insulated Water Bottle"
INJECTED_NAME = '<img src=x onerror="window.__pwned=1">'  # a customer name holding HTML
INJECTED_TITLE = "<script>window.__pwned=2</script><b>Bottle</b>"  # a product title holding script


@dataclass
class BrowserStack:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    log: Path
    http: requests.Session
    orders: dict[str, str] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    requested_urls: list[str] = field(default_factory=list)
    shop: str = SHOP
    product_title: str = PRODUCT_TITLE

    @property
    def api(self) -> str:
        return str(self.state["api"])

    @property
    def token(self) -> str:
        return str(self.state["shops"][SHOP])

    @property
    def page_url(self) -> str:
        return f"{self.api}/app?{urlencode({'shop': SHOP})}"

    def seller(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, f"{self.api}/shops/{SHOP}{path}", headers=headers, timeout=60, **kwargs)

    def counts(self) -> dict[str, int]:
        return dict(self.seller("GET", "/orders", params={"limit": "1"}).json()["counts"])

    def wait_idle(self) -> None:
        answer = self.http.post(f"{self.api}/_local/wait", json={"timeout": 60}, timeout=90).json()
        assert answer["idle"], "the stack did not settle"

    def sim(self, which: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.state[which]}{path}", timeout=30, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def screenshot(self, page: Page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def start_stack(tmp: Path) -> BrowserStack:
    log = tmp / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "TABLE_NAME"))}
    command = [sys.executable, "-m", "local.cli", "run", "--state-dir", str(tmp)]
    for name in ("api", "moto", "aliexpress", "shopbase"):
        command += [f"--{name}-port", "0"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    http = requests.Session()
    http.trust_env = False
    try:
        state = wait_for_json(tmp / "stack.json", 90, lambda content: "shops" in content,
                              alive=lambda: process.poll() is None)
    except (TimeoutError, FileNotFoundError) as error:
        process.kill()
        raise AssertionError(f"the stack did not start ({error}):\n{log.read_text()[-3000:]}") from error
    return BrowserStack(process, state, log, http)


def order_payload(base: dict[str, Any], order_id: int, **changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(base)
    order.update(id=order_id, name=f"#{order_id}", **changes)
    for n, item in enumerate(order["line_items"]):
        item["id"] = order_id * 10 + n
    return order


def seed(stack: BrowserStack, order_paid: dict[str, Any]) -> None:
    """The seller's AliExpress catalog linked to the store's variants, and five store orders."""
    stack.sim("aliexpress", "POST", "/_sim/seed_product", json={
        "product_id": AE_PRODUCT, "store_id": "1103800006", "subject": PRODUCT_TITLE,
        "skus": [{"sku_attr": attr, "price": "8.12", "stock": 500} for attr in SKUS.values()]})
    for variant, attr in SKUS.items():
        linked = stack.seller("PUT", f"/links/{variant}", json={"product_id": AE_PRODUCT, "sku_attr": attr})
        assert linked.status_code == 200, linked.text
    injected = order_payload(order_paid, 7100003)
    injected["customer"] = dict(injected["customer"], first_name=INJECTED_NAME)
    injected["shipping_address"] = dict(injected["shipping_address"], first_name=INJECTED_NAME)
    injected["line_items"][0]["title"] = INJECTED_TITLE
    payloads = {
        "a": order_payload(order_paid, 7100001),
        "b": order_payload(order_paid, 7100002),
        "injected": injected,
        "pending": order_payload(order_paid, 7100004, financial_status="pending"),
        "bad": order_payload(order_paid, 7100005,
                             shipping_address=dict(order_paid["shipping_address"], address1="", address2="")),
    }
    for role, payload in payloads.items():
        stack.sim("shopbase", "POST", f"/_sim/shops/{SHOP}/orders", json={"order": payload})
        stack.orders[role] = str(payload["id"])
    stack.wait_idle()
    placed = stack.seller("POST", "/orders/place", json={"order_ids": [stack.orders["bad"]]})
    assert placed.status_code == 200 and placed.json()["results"][0]["outcome"] == "failed", placed.text
    stack.wait_idle()


def require_chromium() -> None:
    if not CHROMIUM.is_file():
        apt = "apt-get install -y chromium" if shutil.which("apt-get") else "install Debian's chromium package"
        raise AssertionError(f"no Chromium at {CHROMIUM}: {apt} (as root; `make test` does it where it can), "
                             "or point DROPSHIP_CHROMIUM at a Chromium binary")


def browser_context(stack: BrowserStack) -> Iterator[BrowserContext]:
    require_chromium()
    profile = tempfile.mkdtemp(prefix="dropship-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=LAPTOP,
                accept_downloads=True)
            context.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            yield context
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def watch(stack: BrowserStack, page: Page) -> Page:
    """Record the page's console errors, uncaught errors and every URL it requests."""
    stack.console_errors.clear()
    page.on("console", lambda message: stack.console_errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: stack.console_errors.append(str(error)))
    page.on("request", lambda request: stack.requested_urls.append(request.url))
    return page
