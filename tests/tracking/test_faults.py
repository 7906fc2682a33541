"""Fault injection at volume: 200 orders shipping, 20% of ShopBase calls failing, 10% of SES calls failing.

Batches are delivered again until they succeed; at the end every package has exactly one fulfillment and
exactly one email, and the failures that cannot heal are in `failed` with their reasons.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from shared import wiring
from shared.data.mail import SesMailer, ses_client
from shared.models.order import OrderStatus, Package
from simulators.shopbase.server import ShopBaseSimulator
from tests.tracking.conftest import SHOP, all_lines, client_options, our_order, package, save, sent_emails
from tests.tracking.streams import Mapping, StreamTap, pump

ORDERS = int(os.environ.get("FAULT_ORDERS", "200"))
DELETED = 5
BAD_CARRIER = 4


class SesFaults:
    """A seeded fault injector on the SES client (botocore before-call): the call never reaches SES."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.calls = 0
        self.injected = 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.rng.random() >= self.rate:
            return
        self.injected += 1
        kind = self.rng.choice(("throttle", "unavailable", "connect"))
        if kind == "connect":
            raise EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com")
        code, status = ("Throttling", 400) if kind == "throttle" else ("ServiceUnavailable", 503)
        raise ClientError({"Error": {"Code": code, "Message": "injected"},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail")


def test_200_orders_under_faults(env: None, sim: ShopBaseSimulator, tap: StreamTap, push: Mapping,
                                 notify: Mapping) -> None:
    rng = random.Random(2026)
    # Delivered again until they succeed: no retry cap in the mapping nor in the code for this test.
    push.max_retries = notify.max_retries = 10_000
    wiring.override("settings", wiring.settings().model_copy(update={"push_max_attempts": 10_000,
                                                                     "notify_max_attempts": 10_000}))
    wiring.override("shopbase_client_options", client_options(timeout=(0.5, 0.15), max_retries=3))
    wiring.override("mailer", SesMailer(ses_client(), sleep=lambda _: None))
    ses_faults = SesFaults(0.10, seed=5)
    wiring.mailer().client.meta.events.register("before-call.ses.SendEmail", ses_faults)

    shipped: dict[str, list[Package]] = {}
    stores = [sim.make_order(SHOP, n_items=rng.choice((1, 1, 2, 3)), paid=True, emit=False) for _ in range(ORDERS)]
    deleted = {str(s["id"]) for s in stores[:DELETED]}
    bad_carrier = {str(s["id"]) for s in stores[DELETED:DELETED + BAD_CARRIER]}
    for order_id in deleted:
        sim.delete_order(SHOP, int(order_id))
    # 20% of ShopBase calls fail: 5xx (answered after the store applied the request), 429, stalls.
    sim.set_faults(error_rate=0.12, error_statuses=(500, 502, 503), rate_limit_rate=0.05, stall_rate=0.03,
                   stall_seconds=0.3, apply_on_error=True, seed=11)
    started = time.monotonic()
    for n, store in enumerate(stores):
        order_id, lines = str(store["id"]), all_lines(store)
        carrier = "Pony Express 1860" if order_id in bad_carrier else rng.choice(("YunExpress", "China Post", "4PX"))
        # One package per AliExpress order: split orders of several items in two.
        cut = rng.randint(1, len(lines) - 1) if len(lines) > 1 and rng.random() < 0.6 else len(lines)
        groups = [lines[:cut], lines[cut:]] if cut < len(lines) else [lines]
        packages = [package(f"FT{n:05d}{g}0000{g}", group, carrier=carrier) for g, group in enumerate(groups)]
        shipped[order_id] = packages
        # Recorded with its packages in one write (an INSERT record; the other tests ship with a MODIFY).
        order = our_order(store)
        order.packages = packages
        save(order)
    pump(tap, push, notify, rounds=200)
    elapsed = time.monotonic() - started

    stats = sim.stats()["shops"][SHOP]
    repo = wiring.orders()
    emails = Counter(number for mail in sent_emails() for number in _tracking_numbers(mail.body))
    healthy = [oid for oid in shipped if oid not in deleted | bad_carrier]
    for order_id in healthy:
        store = sim.get_order(SHOP, int(order_id))
        numbers = Counter(f["tracking_number"] for f in store["fulfillments"])
        expected = {p.tracking_number for p in shipped[order_id]}
        assert set(numbers) == expected and all(c == 1 for c in numbers.values()), (order_id, numbers)
        for number in expected:
            assert emails[number] == 1, (order_id, number, emails[number])
        stored = repo.get(SHOP, order_id)
        assert stored is not None and stored.status is OrderStatus.FULFILLED, (order_id, stored and stored.status)
        assert all(p.notified_at is not None for p in stored.packages)
    for order_id in deleted | bad_carrier:
        stored = repo.get(SHOP, order_id)
        assert stored is not None and stored.status is OrderStatus.FAILED
        expected_code = "push_order_deleted" if order_id in deleted else "push_invalid_carrier"
        assert stored.reason_code == expected_code and stored.reason
        assert all(emails[p.tracking_number] == 0 for p in shipped[order_id])
    total_packages = sum(len(shipped[oid]) for oid in healthy)
    assert sum(emails.values()) == total_packages
    # Roughly the rates asked for: 20% of ShopBase calls, 10% of SES calls.
    assert sum(stats["faults"].values()) >= 0.12 * stats["calls_total"]
    assert ses_faults.injected >= 0.05 * ses_faults.calls
    assert push.on_failure == [] and notify.on_failure == []
    print(f"\nfaults: {len(healthy)} orders / {total_packages} packages fulfilled+emailed once in {elapsed:.1f}s; "
          f"ShopBase calls {stats['calls_total']}, injected {dict(stats['faults'])}, 429 answered "
          f"{stats['rate_limited']}; SES calls {ses_faults.calls}, injected {ses_faults.injected}; "
          f"push invocations {push.invocations}, notify invocations {notify.invocations}")


def _tracking_numbers(body: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"FT\d{5}\d0000\d", body)))
