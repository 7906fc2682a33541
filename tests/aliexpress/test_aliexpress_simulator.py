"""The AliExpress simulator: order lifecycle on its clock, idempotency, rate limit, latency, controls, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.aliexpress import AliExpressClient, ApiCallLimitError
from simulators.aliexpress import AliExpressSimulator, ControlError
from tests.aliexpress.aliexpress_data import ADDRESS, BOTTLE, BOTTLE_BLACK, BOTTLE_SILVER, SKIRT

Place = Callable[..., list[str]]
MakeClient = Callable[..., AliExpressClient]
HOUR = 3600.0
DAY = 86400.0
REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- idempotency


def test_out_order_id_is_an_idempotency_key_for_24h(sim: AliExpressSimulator, place: Place) -> None:
    first = place(out_order_id="sb-7")
    sim.advance(23 * HOUR)
    assert place(out_order_id="sb-7") == first
    assert len(sim.orders()) == 1
    assert place(out_order_id="sb-8") != first
    sim.advance(2 * HOUR)  # sb-7 was first seen 25 h ago
    assert place(out_order_id="sb-7") != first
    assert len(sim.orders()) == 3
    assert sim.stats()["orders_created"] == 3


def test_idempotency_is_per_account(sim: AliExpressSimulator, client: AliExpressClient, place: Place) -> None:
    mine = place(out_order_id="sb-9")
    other = sim.issue_token(account={"user_id": "42"})["access_token"]
    theirs = client.create_order(
        other,
        out_order_id="sb-9",
        logistics_address=ADDRESS,
        product_items=[{"product_id": SKIRT, "product_count": 1, "sku_attr": ""}],
    )
    assert mine != theirs


# ---------------------------------------------------------------- lifecycle on the clock


def test_order_moves_to_shipped_with_tracking(
    sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place
) -> None:
    sim.configure(ship_delay=2 * DAY, tracking_number_delay=6 * HOUR, delivery_delay=8 * DAY)
    [oid] = place()
    sim.advance(5 * DAY)
    assert client.get_order(token, oid).order_status == "PLACE_ORDER_SUCCESS"  # unpaid orders wait

    sim.pay([oid])
    order = client.get_order(token, oid)
    assert (order.order_status, order.logistics_status) == ("WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_SEND_GOODS")
    assert order.order_paidtime_string
    assert client.get_tracking(token, oid) == []

    sim.advance(2 * DAY + 1)
    order = client.get_order(token, oid)
    assert (order.order_status, order.logistics_status) == ("WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS")
    [package] = client.get_tracking(token, oid)
    assert package.mail_no == "" and package.cp_website_url == ""  # no number from the carrier yet
    assert package.package_item_list[0].sku_id == BOTTLE_BLACK
    assert order.logistics_info_list == []

    sim.advance(6 * HOUR)
    [package] = client.get_tracking(token, oid)
    assert package.mail_no.startswith("LP00") and package.mail_no in (package.tracking_url or "")
    assert package.eta and package.eta > package.detail_node_list[-1].time_stamp  # type: ignore[operator]
    stamps = [n.time_stamp or 0 for n in package.detail_node_list]
    assert stamps == sorted(stamps, reverse=True)
    assert [li.logistics_no for li in client.get_order(token, oid).logistics_info_list] == [package.mail_no]

    sim.advance(8 * DAY)
    order = client.get_order(token, oid)
    assert (order.order_status, order.logistics_status) == ("FINISH", "BUYER_ACCEPT_GOODS")
    assert all(c.end_reason is None for c in order.child_order_list)
    assert client.get_tracking(token, oid)[0].detail_node_list[0].tracking_name == "Delivered"


def test_auto_pay_and_risk_control(
    sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place
) -> None:
    sim.configure(auto_pay=True, risk_control_seconds=2 * HOUR, ship_delay=HOUR)
    [oid] = place()
    assert client.get_order(token, oid).order_status == "RISK_CONTROL"
    sim.advance(2 * HOUR)
    assert client.get_order(token, oid).order_status == "WAIT_SELLER_SEND_GOODS"
    sim.advance(HOUR)
    assert client.get_order(token, oid).order_status == "WAIT_BUYER_ACCEPT_GOODS"


def test_try_to_pay_pays_at_once(sim: AliExpressSimulator, place: Place) -> None:
    [oid] = place(ds_extend={"payment": {"try_to_pay": "true", "pay_currency": "USD"}})
    assert sim.order(oid)["paid_at"] is not None
    assert sim.order(oid)["order_status"] == "WAIT_SELLER_SEND_GOODS"


def test_unpaid_order_times_out(sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place) -> None:
    sim.configure(pay_timeout=DAY)
    [oid] = place()
    assert 86399 <= (client.get_order(token, oid).pay_timeout_second or 0) <= 86400
    sim.advance(DAY)
    order = client.get_order(token, oid)
    assert order.order_status == "FINISH"
    assert order.child_order_list[0].end_reason == "buyer_pay_timeout"


def test_split_shipment(sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place) -> None:
    sim.configure(auto_pay=True, ship_delay=DAY, packages_per_order=2, package_interval=DAY)
    [oid] = place(
        [
            {"product_id": BOTTLE, "product_count": 2, "sku_attr": "14:193"},
            {"product_id": BOTTLE, "product_count": 1, "sku_attr": "14:175"},
        ]
    )
    sim.advance(DAY)
    order = client.get_order(token, oid)
    assert (order.order_status, order.logistics_status) == ("SELLER_PART_SEND_GOODS", "SELLER_SEND_PART_GOODS")
    [first] = client.get_tracking(token, oid)
    assert [(i.sku_id, i.quantity) for i in first.package_item_list] == [(BOTTLE_SILVER, 2)]

    sim.advance(DAY)
    order = client.get_order(token, oid)
    assert (order.order_status, order.logistics_status) == ("WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS")
    packages = client.get_tracking(token, oid)
    assert len(packages) == 2 and packages[0].mail_no != packages[1].mail_no
    assert [(i.sku_id, i.quantity) for i in packages[1].package_item_list] == [(BOTTLE_BLACK, 1)]
    assert len(order.logistics_info_list) == 2


def test_manual_partial_ship(sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place) -> None:
    [oid] = place([{"product_id": BOTTLE, "product_count": 3, "sku_attr": "14:193"}])
    sim.pay(oid)
    sim.ship(oid, items=[{"sku_id": BOTTLE_SILVER, "quantity": 1}], mail_no="LP001")
    assert client.get_order(token, oid).order_status == "SELLER_PART_SEND_GOODS"
    sim.ship(oid, mail_no="LP002")
    assert client.get_order(token, oid).order_status == "WAIT_BUYER_ACCEPT_GOODS"
    assert [(p.mail_no, p.package_item_list[0].quantity) for p in client.get_tracking(token, oid)] == [
        ("LP001", 1),
        ("LP002", 2),
    ]
    with pytest.raises(ControlError):
        sim.ship(oid)
    sim.deliver(oid)
    assert client.get_order(token, oid).order_status == "FINISH"


def test_cancel_ends_with_end_reason(
    sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place
) -> None:
    [oid] = place([{"product_id": BOTTLE, "product_count": 3, "sku_attr": "14:175"}])
    sim.cancel([oid], end_reason="seller_send_goods_timeout", end_reason_desc="Seller did not ship in time")
    order = client.get_order(token, oid)
    assert order.order_status == "FINISH"
    assert [(c.end_reason, c.end_reason_desc) for c in order.child_order_list] == [
        ("seller_send_goods_timeout", "Seller did not ship in time")
    ]
    sim.advance(30 * DAY)
    assert client.get_order(token, oid).order_status == "FINISH"
    # The cancelled units went back to stock.
    place([{"product_id": BOTTLE, "product_count": 3, "sku_attr": "14:175"}])


def test_pending_cancel_freeze_issue_and_raw_status(
    sim: AliExpressSimulator, client: AliExpressClient, token: str, place: Place
) -> None:
    skirt = [{"product_id": SKIRT, "product_count": 1, "sku_attr": ""}]
    a, b, c, d = (place(skirt)[0] for _ in range(4))
    sim.cancel(a, pending=True)
    sim.freeze(b)
    sim.open_issue(c)
    sim.set_status(d, "SOMETHING_NEW", "NO_LOGISTICS")
    statuses = [client.get_order(token, o).order_status for o in (a, b, c, d)]
    assert statuses == ["IN_CANCEL", "IN_FROZEN", "IN_ISSUE", "SOMETHING_NEW"]
    assert client.get_order(token, d).logistics_status == "NO_LOGISTICS"
    sim.advance(30 * DAY)  # held orders do not move
    assert client.get_order(token, b).order_status == "IN_FROZEN"
    sim.resume(b)
    assert client.get_order(token, b).order_status == "PLACE_ORDER_SUCCESS"


def test_order_controls_reject_unknown_orders(sim: AliExpressSimulator) -> None:
    with pytest.raises(ControlError):
        sim.pay(["123"])
    with pytest.raises(ControlError):
        sim.advance(-1)
    with pytest.raises(ControlError):
        sim.configure(no_such_option=True)


# ---------------------------------------------------------------- rate limit, latency, stats


def test_rate_limit_answers_api_call_limit(sim: AliExpressSimulator, make_client: MakeClient, token: str) -> None:
    sim.set_rate_limit(5)
    client = make_client(max_retries=0)
    limited: list[ApiCallLimitError] = []
    ok: list[int] = []

    def call() -> None:
        try:
            client.get_tracking(token, "1")
        except ApiCallLimitError as err:
            limited.append(err)
        except Exception:
            ok.append(1)  # the order is unknown: the call got through the limiter

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = sim.stats()
    assert len(limited) + len(ok) == 12 and limited
    assert limited[0].code == "ApiCallLimit" and "this ban will last 1 seconds" in limited[0].message
    assert stats["api_call_limit_errors"] == len(limited)
    assert stats["peak_accepted_per_second"] <= 5 < stats["peak_calls_per_second"]


def test_latency_does_not_serialize_requests(
    sim: AliExpressSimulator, make_client: MakeClient, token: str
) -> None:
    sim.set_latency(0.3)
    clients = [make_client() for _ in range(6)]
    started = time.monotonic()
    threads = [threading.Thread(target=c.get_product, args=(token, SKIRT, "US")) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5  # serialized, six calls would take 1.8 s
    assert sim.stats()["max_concurrent"] >= 3


def test_stats_count_calls_and_errors(sim: AliExpressSimulator, client: AliExpressClient, place: Place) -> None:
    place()
    with pytest.raises(Exception):
        client.get_tracking("bad-token", "1")
    stats = sim.stats()
    assert stats["calls"] == {"aliexpress.ds.order.create": 1, "aliexpress.ds.order.tracking.get": 1}
    assert stats["errors"] == {"IllegalAccessToken": 1}
    assert sim.reset_stats()["total_calls"] == 0


def test_faults_target_one_method_and_run_out(
    sim: AliExpressSimulator, make_client: MakeClient, token: str, place: Place
) -> None:
    client = make_client(max_retries=0)
    [oid] = place()
    sim.inject_fault(2, method="aliexpress.ds.product.get", error_code="InternalError")
    assert client.get_order(token, oid).order_id == oid  # other methods are untouched
    for _ in range(2):
        with pytest.raises(Exception, match="InternalError"):
            client.get_product(token, SKIRT, "US")
    assert client.get_product(token, SKIRT, "US").product_id == SKIRT


# ---------------------------------------------------------------- control API over HTTP


def _ctl(sim: AliExpressSimulator, action: str, body: dict[str, Any] | None = None) -> Any:
    if body is None:
        response = requests.get(f"{sim.url}/_sim/{action}", timeout=5)
    else:
        response = requests.post(f"{sim.url}/_sim/{action}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_http_control_api(sim: AliExpressSimulator, client: AliExpressClient) -> None:
    _ctl(sim, "reset", {})
    _ctl(sim, "configure", {"auto_pay": True, "ship_delay": 3600})
    _ctl(sim, "seed_product", {"product_id": "1005000000000009", "store_id": "77", "skus": [{"stock": 5}]})
    token = _ctl(sim, "issue_token", {"expires_in": 10 * DAY})["access_token"]
    [oid] = client.create_order(
        token,
        out_order_id="sb-http",
        logistics_address=ADDRESS,
        product_items=[{"product_id": "1005000000000009", "product_count": 1, "sku_attr": ""}],
    )
    assert _ctl(sim, "orders")[0]["order_id"] == oid
    assert _ctl(sim, "advance", {"seconds": 3601})["offset"] == 3601
    assert _ctl(sim, f"orders/{oid}")["order_status"] == "WAIT_BUYER_ACCEPT_GOODS"
    _ctl(sim, "set_status", {"order_id": oid, "order_status": "IN_FROZEN"})
    assert client.get_order(token, oid).order_status == "IN_FROZEN"
    _ctl(sim, "inject_fault", {"count": 1, "http_status": 503})
    assert requests.delete(f"{sim.url}/_sim/faults", timeout=5).status_code == 200
    _ctl(sim, "set_rate_limit", {"per_second": 100})
    _ctl(sim, "set_latency", {"seconds": 0})
    _ctl(sim, "revoke_token", {"access_token": token})
    assert _ctl(sim, "stats")["orders_created"] == 1
    assert _ctl(sim, "config")["rate_limit"] == 100
    assert _ctl(sim, "clock")["offset"] == 3601
    assert _ctl(sim, "products")[0]["store_id"] == "77"
    assert _ctl(sim, "tokens")[0]["revoked"] is True


def test_http_control_api_errors(sim: AliExpressSimulator) -> None:
    assert requests.post(f"{sim.url}/_sim/pay", json={"order_ids": ["1"]}, timeout=5).status_code == 400
    assert requests.post(f"{sim.url}/_sim/configure", json={"bogus": 1}, timeout=5).status_code == 400
    assert requests.post(f"{sim.url}/_sim/lock", json={}, timeout=5).status_code == 404
    assert requests.post(f"{sim.url}/_sim/advance", data="not json", timeout=5).status_code == 400


def test_gateway_speaks_the_raw_protocol(sim: AliExpressSimulator, token: str) -> None:
    """No client: the flat envelope for a system API and the documented not-found tracking body."""
    response = requests.post(f"{sim.url}/rest/auth/token/create", data={"code": "x", "app_key": "k"}, timeout=5)
    body = response.json()
    assert set(body) == {"type", "code", "message", "request_id"} and body["code"] == "InvalidAppKey"
    response = requests.post(f"{sim.url}/sync", data={"method": "aliexpress.ds.order.tracking.get"}, timeout=5)
    assert "error_response" in response.json()


def test_cli_prints_its_url() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.aliexpress", "--port", "0", "--app-key", "K", "--app-secret", "S", "--demo"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        token = json.loads(proc.stdout.readline())["access_token"]
        assert url.startswith("http://127.0.0.1:")
        client = AliExpressClient(url, "K", "S", session=requests.Session())
        assert client.get_product(token, "1005008453688391", "US").subject == "500ML Insulated Water Bottle"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
