"""The simulator's HTTP surface: URL schemes, auth, bucket headers, control API, CLI."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from shopbase_testkit import SHOP, TOKEN, admin

from shared.models.shopbase_order import ShopBaseOrder
from shared.shopbase import protocol
from simulators.shopbase import ShopBaseSimulator
from simulators.shopbase import protocol as sim_protocol

AUTH = {protocol.ACCESS_TOKEN_HEADER: TOKEN}
REPO = Path(__file__).resolve().parents[2]


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_path_prefix_and_host_header_schemes(sim: ShopBaseSimulator) -> None:
    order = sim.make_order(SHOP)
    http = _session()
    by_prefix = http.get(f"{sim.shop_url(SHOP)}/admin/orders/{order['id']}.json", headers=AUTH, timeout=5)
    by_host = http.get(
        f"{sim.url}/admin/orders/{order['id']}.json",
        headers={**AUTH, "Host": "acme.onshopbase.com"},
        timeout=5,
    )
    assert by_prefix.status_code == by_host.status_code == 200
    assert by_prefix.json() == by_host.json()
    assert http.get(f"{sim.url}/shops/nobody/admin/orders.json", headers=AUTH, timeout=5).status_code == 404


def test_call_limit_header_on_every_answer(sim: ShopBaseSimulator) -> None:
    http = _session()
    url = f"{sim.shop_url(SHOP)}/admin/orders/1.json"
    unauthorised = http.get(url, timeout=5)
    assert unauthorised.status_code == 401 and protocol.CALL_LIMIT_HEADER in unauthorised.headers
    answers = [http.get(url, headers=AUTH, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    used = [protocol.parse_call_limit(a.headers[protocol.CALL_LIMIT_HEADER]) for a in answers]
    assert used == [(1, 30), (2, 30), (3, 30)]
    assert http.get(f"{sim.shop_url(SHOP)}/admin/nothing.json", headers=AUTH, timeout=5).status_code == 404
    assert http.delete(f"{sim.shop_url(SHOP)}/admin/orders.json", headers=AUTH, timeout=5).status_code == 405


def test_bucket_answers_429_with_retry_after(sim: ShopBaseSimulator) -> None:
    sim.set_rate_limit(SHOP, burst=5, leak_rate=2.0)
    http = _session()
    url = f"{sim.shop_url(SHOP)}/admin/webhooks.json"
    statuses = [http.get(url, headers=AUTH, timeout=5) for _ in range(7)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
    limited = statuses[-1]
    assert limited.headers[protocol.CALL_LIMIT_HEADER] == "5/5"
    assert 0 < float(limited.headers[protocol.RETRY_AFTER_HEADER]) <= 0.5
    assert sim.stats()["shops"][SHOP]["rate_limited"] == 2
    sim.set_rate_limit(SHOP, leak_rate=100.0)  # configurable leak: the bucket drains fast
    time.sleep(0.1)
    assert http.get(url, headers=AUTH, timeout=5).status_code == 200


def test_generated_orders_are_realistic_and_quirky(sim: ShopBaseSimulator) -> None:
    orders = [sim.make_order(SHOP, n_items=n, paid=n % 2 == 0) for n in (1, 2, 3, 8)]
    for raw in orders:
        order = ShopBaseOrder.model_validate(raw)
        assert raw["closed_at"] == 0 and raw["fulfillment_status"] == ""
        assert raw["email"].endswith("@example.com")
        assert order.total_price is not None and order.total_price > 0
        assert all(li.fulfillable_quantity == li.quantity > 0 for li in order.line_items)
    assert [len(o["line_items"]) for o in orders] == [1, 2, 3, 8]
    assert [o["financial_status"] for o in orders] == ["pending", "paid", "pending", "paid"]
    prices = [li["price"] for o in orders for li in o["line_items"]]
    assert any(isinstance(p, str) for p in prices) and any(isinstance(p, float) for p in prices)
    assert len({li["id"] for o in orders for li in o["line_items"]}) == 14
    assert [o["name"] for o in orders] == ["#1001", "#1002", "#1003", "#1004"]


def test_order_list_pages_and_filters(sim: ShopBaseSimulator) -> None:
    ids = [sim.make_order(SHOP, n_items=1)["id"] for _ in range(5)]

    def listed(query: str) -> list[int]:
        answer = admin(sim.shop_url(SHOP), "GET", f"{sim_protocol.ORDERS_PATH}?{query}")
        assert answer.status_code == 200
        return [o["id"] for o in answer.json()[sim_protocol.ORDERS_KEY]]

    assert listed("limit=2&page=1") == ids[:2] and listed("limit=2&page=3") == ids[4:]
    sim.cancel_order(SHOP, ids[0])
    assert ids[0] not in listed("limit=250&status=open")
    assert sorted(listed("limit=250&status=any")) == ids


def test_fulfillment_tracking_update(sim: ShopBaseSimulator) -> None:
    order = sim.make_order(SHOP, n_items=1)
    url = sim.shop_url(SHOP)
    made = admin(url, "POST", protocol.FULFILLMENTS_PATH.format(order_id=order["id"]),
                 {"fulfillment": {"tracking_number": "OLD1", "tracking_company": "4PX"}}).json()["fulfillment"]
    path = sim_protocol.FULFILLMENT_PATH.format(order_id=order["id"], fulfillment_id=made["id"])
    change = {"tracking_number": "NEW2", "tracking_company": "USPS", "tracking_url": "https://t.example/NEW2"}
    updated = admin(url, "PUT", path, {"fulfillment": change}).json()["fulfillment"]
    assert (updated["tracking_number"], updated["tracking_numbers"], updated["tracking_company"]) == (
        "NEW2", ["NEW2"], "USPS")
    assert sim.get_order(SHOP, order["id"])["fulfillments"][0]["tracking_number"] == "NEW2"
    missing = sim_protocol.FULFILLMENT_PATH.format(order_id=order["id"], fulfillment_id=42)
    assert admin(url, "PUT", missing, {"fulfillment": {"tracking_number": "X"}}).status_code == 404


def test_control_api_over_http(sim: ShopBaseSimulator) -> None:
    http = _session()
    base = f"{sim.url}/_sim"
    shop = http.post(f"{base}/shops", json={"name": "beta", "access_token": "tb", "burst": 10}, timeout=5).json()
    assert shop["domain"] == "beta.onshopbase.com" and shop["burst"] == 10
    order = http.post(f"{base}/shops/beta/orders", json={"n_items": 2, "paid": False}, timeout=5).json()
    assert order["financial_status"] == "pending"
    paid = http.post(f"{base}/shops/beta/orders/{order['id']}/paid", timeout=5).json()
    assert paid["financial_status"] == "paid" and paid["updated_at"] > order["updated_at"]
    item = order["line_items"][0]
    fulfilled = http.post(
        f"{base}/shops/beta/orders/{order['id']}/fulfill",
        json={"tracking_number": "M1", "line_items": [{"id": item["id"], "quantity": 1}]},
        timeout=5,
    ).json()
    assert fulfilled["tracking_number"] == "M1"
    refund = http.post(f"{base}/shops/beta/orders/{order['id']}/refund", json={}, timeout=5).json()
    assert refund["order_id"] == order["id"]
    assert http.get(f"{base}/shops/beta/orders/{order['id']}", timeout=5).json()["financial_status"] == "refunded"
    assert http.post(f"{base}/shops/beta/orders/{order['id']}/cancel", json={"reason": "fraud"}, timeout=5).ok
    given: dict[str, Any] = {"id": 777, "name": "#9", "line_items": [{"id": 1, "quantity": 2, "price": 3}]}
    created = http.post(f"{base}/shops/beta/orders", json={"order": given}, timeout=5).json()
    assert created["line_items"][0]["fulfillable_quantity"] == 2
    assert http.post(f"{base}/shops/beta/orders", json={"order": given}, timeout=5).status_code == 409
    assert http.delete(f"{base}/shops/beta/orders/777", timeout=5).ok
    assert http.get(f"{base}/shops/beta/orders/777", timeout=5).status_code == 404

    assert http.post(f"{base}/faults", json={"fail_next": {"count": 1, "status": 500}}, timeout=5).ok
    api = f"{sim.shop_url('beta')}/admin/orders/{order['id']}.json"
    assert http.get(api, headers={protocol.ACCESS_TOKEN_HEADER: "tb"}, timeout=5).status_code == 500
    assert http.get(api, headers={protocol.ACCESS_TOKEN_HEADER: "tb"}, timeout=5).status_code == 200
    assert http.post(f"{base}/shops/beta/rate_limit", json={"leak_rate": 50}, timeout=5).ok
    assert http.post(f"{base}/delivery", json={"duplicate_rate": 0.5}, timeout=5).ok
    assert http.post(f"{base}/deliver", timeout=5).json() == {"results": []}
    stats = http.get(f"{base}/stats", timeout=5).json()
    assert stats["shops"]["beta"]["calls"] == {f"GET {sim_protocol.ORDER_PATH}": 2}
    assert stats["shops"]["beta"]["faults"] == {"error": 1}
    assert stats["shops"]["beta"]["fulfillments"] == {str(order["id"]): 1}
    assert http.get(f"{base}/shops/beta/notifications", timeout=5).json()["notifications"][0]["source"] == "admin"
    assert http.post(f"{base}/shops", json={"access_token": "x"}, timeout=5).status_code == 400
    assert http.get(f"{base}/nothing", timeout=5).status_code == 404

    assert http.post(f"{base}/reset", json={"keep_shops": True}, timeout=5).ok
    after = http.get(f"{base}/stats", timeout=5).json()
    assert after["shops"]["beta"]["orders"] == 0 and after["calls_total"] == 0
    assert http.post(f"{base}/reset", timeout=5).ok
    assert http.get(f"{base}/shops", timeout=5).json() == {"shops": []}


def test_stop_does_not_hang_on_stalled_requests() -> None:
    sim = ShopBaseSimulator().start()
    sim.create_shop("acme", access_token="t")
    sim.fail_next(1, stall=True, stall_seconds=30)
    http = _session()
    with contextlib.suppress(requests.Timeout):
        http.get(f"{sim.shop_url('acme')}/admin/orders.json", headers={protocol.ACCESS_TOKEN_HEADER: "t"}, timeout=0.2)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2


def test_cli_prints_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.shopbase", "--port", "0", "--shop", "demo", "--orders", "1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("ShopBase simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1].strip()
        assert _session().get(f"{url}/_sim/health", timeout=5).json() == {"ok": True}
        assert "demo" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
