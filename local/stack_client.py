"""A running local stack seen from another process: its state file, the seller API, the control endpoints.

Everything here is plain HTTP (requests) and JSON: it imports nothing of moto, PyYAML or the runtime, so the
CLI's client commands work and fail clearly without the `[local]` extra. The state file is written by
`dropship run` (`local/state_file.py`: atomic, mode 600); its `shops` hold each local shop's seller token.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from local.state_file import StateFileMissing, wait_for_json

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_ENV = "DROPSHIP_STATE_DIR"
PLACE_CHUNK = 10  # order ids per POST …/orders/place (the route places this many inline)


def time_travel_env() -> dict[str, str]:
    """The functions' environment a local stack adds: `sync-now --at 00:00` and the demo fire a slot "as if it
    were that time", while the sync refuses slots older than SYNC_SLOT_MAX_AGE_SECONDS by the real clock; 0
    turns that guard off locally (an explicit value in the environment wins)."""
    return {"SYNC_SLOT_MAX_AGE_SECONDS": os.environ.get("SYNC_SLOT_MAX_AGE_SECONDS", "0")}


class StackError(Exception):
    """The running stack cannot be reached, or answered something this client cannot use."""


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or ROOT / ".local-state")


def default_state_file() -> Path:
    return default_state_dir() / "stack.json"


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy from the environment
    return session


@dataclass
class RunningStack:
    """URLs and shop tokens from the state file, plus the runtime's /_local/ control endpoints."""

    state: dict[str, Any]
    path: Path

    @property
    def api(self) -> str:
        return str(self.state["api"])

    @property
    def moto(self) -> str:
        return str(self.state["moto"])

    def url(self, name: str) -> str:
        value = self.state.get(name)
        if not value:
            raise StackError(f"this stack has no {name} (it runs without simulators)")
        return str(value)

    @property
    def shops(self) -> list[str]:
        return list(self.state.get("shops", {}))

    def token(self, shop: str) -> str:
        tokens = self.state.get("shops", {})
        if shop not in tokens:
            raise StackError(f"shop {shop!r} is not onboarded in this stack; known: {', '.join(tokens) or 'none'}")
        return str(tokens[shop])

    def seller(self, shop: str) -> SellerApi:
        return SellerApi(self.api, shop, self.token(shop))

    # ---------------------------------------------------------------- control endpoints
    def _control(self, method: str, path: str, body: dict[str, Any] | None = None,
                 timeout: float = 30) -> dict[str, Any]:
        try:
            response = http_session().request(method, f"{self.api}/_local/{path}", json=body, timeout=timeout)
        except requests.RequestException as error:
            raise StackError(f"the stack at {self.api} does not answer ({error}); is `dropship run` running?") \
                from error
        answer = _json(response)
        if response.status_code != 200:
            raise StackError(str(answer.get("error") or response.text[:300]))
        return answer

    def status(self) -> dict[str, Any]:
        return self._control("GET", "status", timeout=10)

    def fire_schedules(self, name: str | None, time_iso: str | None) -> list[dict[str, Any]]:
        """Every matching schedule run once now, as if at `time_iso` (answers when the runs ended)."""
        return list(self._control("POST", "schedules/fire", {"name": name, "time": time_iso}, timeout=600)["runs"])

    def wait_idle(self, timeout: float = 60) -> bool:
        """Until webhooks, streams and queues have nothing left to deliver; False after `timeout` s."""
        return bool(self._control("POST", "wait", {"timeout": timeout}, timeout=timeout + 30)["idle"])


def load_stack(path: Path | None = None, wait: float = 5.0) -> RunningStack:
    """The running stack of this state file; waits up to `wait` s for one that is still starting."""
    path = path or default_state_file()
    try:
        state = wait_for_json(path, wait, lambda content: "api" in content)
    except StateFileMissing as error:
        raise StackError(f"no running stack ({path} not found after {wait:g} s): start one with "
                         "`.venv/bin/dropship run` (or `make run`)") from error
    except TimeoutError as error:
        raise StackError(f"{error}: is `dropship run` still starting?") from error
    stack = RunningStack(state, path)
    try:
        http_session().get(f"{stack.api}/_local/status", timeout=3).raise_for_status()
    except requests.RequestException as error:
        raise StackError(f"the stack in {path} does not answer at {stack.api} ({error}); "
                         "is `dropship run` still running?") from error
    return stack


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"error": f"HTTP {response.status_code}: {response.text[:300]}"}
    return data if isinstance(data, dict) else {"value": data}


class SellerApi:
    """The seller API over HTTP with the shop's bearer token."""

    def __init__(self, api_url: str, shop: str, token: str) -> None:
        self.base = api_url.rstrip("/")
        self.shop = shop
        self._session = http_session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self._session.request(method, f"{self.base}{path}", **kwargs)

    def _get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request("GET", path, **kwargs)
        if response.status_code != 200:
            raise StackError(f"GET {path} answered {response.status_code}: {_json(response).get('error', '')}")
        return _json(response)

    def orders(self, tab: str = "all", limit: int = 100) -> dict[str, Any]:
        """Every order of a tab (following cursors) and the tab counts."""
        collected: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"tab": tab, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
            page = self._get(f"/shops/{self.shop}/orders", params=params)
            collected.extend(page["orders"])
            cursor = page.get("next_cursor")
            if not cursor:
                return {"tab": tab, "orders": collected, "counts": page["counts"]}

    def counts(self) -> dict[str, int]:
        return dict(self._get(f"/shops/{self.shop}/orders", params={"limit": "1"})["counts"])

    def order(self, order_id: str) -> dict[str, Any]:
        return self._get(f"/shops/{self.shop}/orders/{order_id}")

    def links(self) -> dict[str, dict[str, Any]]:
        """Variant id → its AliExpress link."""
        return {str(link["variant_id"]): link for link in self._get(f"/shops/{self.shop}/links")["links"]}


def place_orders(api: SellerApi, order_ids: list[str] | None) -> dict[str, Any]:
    """POST /shops/{shop}/orders/place (`None`: every order in Awaiting Order), in chunks the route accepts.

    Orders the route did not attempt ("deferred", when no worker queue is configured) are asked for again
    up to 10 times; the answer is one result per store order.
    """
    results: dict[str, dict[str, Any]] = {}

    def post(body: dict[str, Any]) -> list[dict[str, Any]]:
        response = api.request("POST", f"/shops/{api.shop}/orders/place", json=body, timeout=120)
        if response.status_code != 200:
            raise StackError(f"place answered {response.status_code}: {_json(response).get('error', '')}")
        return list(_json(response).get("results", []))

    answered = post({"all": True}) if order_ids is None else [
        r for i in range(0, len(order_ids), PLACE_CHUNK) for r in post({"order_ids": order_ids[i:i + PLACE_CHUNK]})]
    for rounds in range(11):
        results.update({str(r["order_id"]): r for r in answered})
        deferred = [str(r["order_id"]) for r in answered if r.get("reason_code") == "deferred"]
        if not deferred or rounds == 10:
            break
        answered = [r for i in range(0, len(deferred), PLACE_CHUNK)
                    for r in post({"order_ids": deferred[i:i + PLACE_CHUNK]})]
    ordered = list(results.values())
    return {"results": ordered, "summary": dict(Counter(str(r.get("outcome")) for r in ordered))}


def where_queued_orders_went(api: SellerApi, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each result with `final`: what became of the order once the worker ran (call after the stack settled).

    placed → "placed"; queued and now past Awaiting Order → "placed by the worker"; failed (inline or by the
    worker) → "failed" with the order's reason; anything else → its current status.
    """
    out = []
    for result in results:
        row = dict(result)
        order = api.order(str(result["order_id"]))
        status = order["status"]
        row["name"] = order.get("name")
        if result.get("outcome") == "placed":
            row["final"] = "placed"
        elif status == "failed":
            row.update(final="failed", reason=order.get("reason") or result.get("reason"),
                       reason_code=order.get("reason_code") or result.get("reason_code"))
        elif status in ("awaiting_payment", "awaiting_shipment", "fulfilled") and result.get("outcome") == "queued":
            row["final"] = "placed by the worker"
            row["ae_order_ids"] = [a["ae_order_id"] for a in order.get("ae_orders") or []]
        else:
            row["final"] = status
        out.append(row)
    return out


def poll_while(work: Callable[[], Any], tick: Callable[[float], None], every: float = 0.5) -> Any:
    """Run `work()` in a thread and call `tick(elapsed)` every `every` s until it ends; its result or error."""
    import threading

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    while thread.is_alive():
        tick(time.monotonic() - started)
        thread.join(every)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
