"""POST /shops/{shop}/orders/place and …/retry, the PlaceOrdersQueue worker, and auto-place from the webhook."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.place_orders import app as worker
from shared import wiring
from shared.logic.accounts import AliExpressAccounts
from shared.logic.place_request import PlaceRequests
from shared.logic.placement import Placer
from shared.models.order import OrderStatus
from simulators.aliexpress import AliExpressSimulator
from tests.integration.test_seller_orders_api import call
from tests.integration.test_webhook_order import deliver
from tests.placement.conftest import BOTTLE, BOTTLE_SILVER, SKIRT, link, new_order, run_threads


@pytest.fixture
def linked(connected: str, tokens: dict[str, str]) -> str:
    link(connected, "1000221", BOTTLE, BOTTLE_SILVER)
    link(connected, "1000387", SKIRT)
    return connected


@pytest.fixture
def queue_url(env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url = boto3.client("sqs").create_queue(QueueName="place-orders-test")["QueueUrl"]
    monkeypatch.setenv("PLACE_ORDERS_QUEUE_URL", url)
    wiring.reset()  # settings are read again with the queue
    return str(url)


def queued(url: str) -> list[dict[str, Any]]:
    """Receive (and leave invisible) every message, as SQS records for the worker."""
    sqs = boto3.client("sqs")
    records: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return records
        records += [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                     "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                     "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:place",
                     "awsRegion": "us-east-1"} for m in batch]


def place(context: Any, shop: str, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    return call(context, "POST", f"/shops/{shop}/orders/place", token, body=body)


def test_place_one_through_the_api(linked: str, tokens: dict[str, str], order_paid: dict[str, Any],
                                   ae: AliExpressSimulator, lambda_context: Any) -> None:
    assert deliver(lambda_context, linked, "orders/paid", order_paid)[0] == 200
    status, body = place(lambda_context, linked, tokens[linked], {"order_ids": ["5549662"]})
    assert status == 200, body
    [result] = body["results"]
    assert result["outcome"] == "placed" and result["ae_order_ids"] == [o["order_id"] for o in ae.orders()]
    assert body["summary"]["placed"] == 1
    status, order = call(lambda_context, "GET", f"/shops/{linked}/orders/5549662", tokens[linked])
    assert order["status"] == "awaiting_payment" and order["ae_orders"][0]["ae_order_id"] == result["ae_order_ids"][0]


def test_place_all_answers_per_order(linked: str, tokens: dict[str, str], ae: AliExpressSimulator,
                                     lambda_context: Any) -> None:
    new_order(linked, "7001")
    new_order(linked, "7002", lines=[("1000221", 1), ("9999999", 1)])  # not linked
    new_order(linked, "7003")
    new_order(linked, "7004", status=OrderStatus.PENDING)  # not in Awaiting Order: not picked by "all"
    status, body = place(lambda_context, linked, tokens[linked], {"all": True})
    assert status == 200
    outcomes = {r["order_id"]: (r["outcome"], r["reason_code"]) for r in body["results"]}
    assert outcomes == {"7001": ("placed", None), "7002": ("failed", "UNLINKED_ITEM"), "7003": ("placed", None)}
    assert body["summary"] == {"placed": 2, "failed": 1, "skipped": 0, "queued": 0}
    # Asked again by id: already placed / failed / wrong tab, each with its why.
    status, body = place(lambda_context, linked, tokens[linked], {"order_ids": ["7001", "7002", "7004", "7404"]})
    assert [(r["outcome"], r["reason_code"]) for r in body["results"]] == [
        ("skipped", "already_placed"), ("skipped", "wrong_status"), ("skipped", "wrong_status"),
        ("skipped", "not_found")]
    assert len(ae.orders()) == 2


def test_beyond_the_synchronous_bound_orders_are_queued_and_the_worker_places_them(
        linked: str, tokens: dict[str, str], queue_url: str, ae: AliExpressSimulator, lambda_context: Any) -> None:
    wiring.override("place_requests", PlaceRequests(wiring.placer(wiring.API_PROFILE), wiring.orders(),
                                                    wiring.placement_queue(), wiring.auto_placer(), max_inline=2))
    for n in range(5):
        new_order(linked, f"710{n}")
    status, body = place(lambda_context, linked, tokens[linked], {"order_ids": [f"710{n}" for n in range(5)]})
    assert status == 200
    assert [r["outcome"] for r in body["results"]] == ["placed", "placed", "queued", "queued", "queued"]
    records = queued(queue_url)
    assert sorted(json.loads(r["body"])["order_id"] for r in records) == ["7102", "7103", "7104"]
    response = worker.lambda_handler({"Records": records}, lambda_context)
    assert response == {"batchItemFailures": []}
    repo = wiring.orders()
    assert all(repo.get(linked, f"710{n}").status is OrderStatus.AWAITING_PAYMENT for n in range(5))  # type: ignore[union-attr]
    assert len(ae.orders()) == 5
    # A redelivered message changes nothing.
    assert worker.lambda_handler({"Records": records[:1]}, lambda_context) == {"batchItemFailures": []}
    assert len(ae.orders()) == 5


def test_worker_reports_in_doubt_placements_as_batch_failures(linked: str, queue_url: str, ae: AliExpressSimulator,
                                                              accounts: AliExpressAccounts,
                                                              lambda_context: Any) -> None:
    # The worker's own wiring, with a client that does not retry (no backoff sleeps in the test).
    wiring.override("placer", Placer(wiring.orders(), wiring.links(), accounts, wiring.shops()))
    new_order(linked, "7201")
    new_order(linked, "7202")
    wiring.placement_queue().send(linked, ["7201", "7202"])  # type: ignore[union-attr]
    records = queued(queue_url)
    # The first order meets an unavailable AliExpress.
    ae.inject_fault(1, method="aliexpress.ds.order.create", error_code="isp.service-unavailable")
    response = worker.lambda_handler({"Records": records}, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    assert wiring.orders().get(linked, "7201").status is OrderStatus.AWAITING_ORDER  # type: ignore[union-attr]
    assert wiring.orders().get(linked, "7202").status is OrderStatus.AWAITING_PAYMENT  # type: ignore[union-attr]
    # Redelivered later: placed with the same reference.
    assert worker.lambda_handler({"Records": records[:1]}, lambda_context) == {"batchItemFailures": []}
    assert sorted(o["out_order_id"] for o in ae.orders()) == [f"{linked}-7201-1", f"{linked}-7202-1"]


def test_two_concurrent_place_requests_create_one_aliexpress_order(linked: str, tokens: dict[str, str],
                                                                   ae: AliExpressSimulator,
                                                                   lambda_context: Any) -> None:
    new_order(linked, "7301")
    ae.set_latency(0.2)
    results = run_threads(2, lambda _: place(lambda_context, linked, tokens[linked], {"order_ids": ["7301"]}))
    outcomes = sorted(body["results"][0]["outcome"] for _, body in results)
    assert outcomes == ["placed", "skipped"]
    assert len(ae.orders()) == 1


def test_retry_a_failed_order(linked: str, tokens: dict[str, str], lambda_context: Any) -> None:
    new_order(linked, "7401", lines=[("1000221", 1), ("5555555", 1)])
    def outcome() -> str:
        return str(place(lambda_context, linked, tokens[linked], {"order_ids": ["7401"]})[1]["results"][0]["outcome"])

    assert outcome() == "failed"
    link(linked, "5555555", SKIRT)
    status, order = call(lambda_context, "POST", f"/shops/{linked}/orders/7401/retry", tokens[linked])
    assert status == 200 and order["status"] == "awaiting_order" and order["reason"] is None
    assert order["history"][-1]["cause"] == "seller_retry"
    assert outcome() == "placed"
    status, body = call(lambda_context, "POST", f"/shops/{linked}/orders/7401/retry", tokens[linked])
    assert status == 409 and "only failed orders" in body["error"]


def test_placement_routes_need_the_shops_token(linked: str, tokens: dict[str, str], ae: AliExpressSimulator,
                                              lambda_context: Any) -> None:
    new_order(linked, "7501", lines=[("8888888", 1)])
    assert place(lambda_context, linked, "", {"all": True})[0] == 401
    assert place(lambda_context, linked, tokens["other-store"], {"all": True})[0] == 401
    assert call(lambda_context, "POST", f"/shops/{linked}/orders/7501/retry", None)[0] == 401
    # Another shop cannot see, place or retry this shop's order.
    status, body = place(lambda_context, "other-store", tokens["other-store"], {"order_ids": ["7501"]})
    assert status == 200 and body["results"][0]["reason_code"] == "not_found"
    assert call(lambda_context, "POST", "/shops/other-store/orders/7501/retry", tokens["other-store"])[0] == 404
    assert wiring.orders().get(linked, "7501").status is OrderStatus.AWAITING_ORDER  # type: ignore[union-attr]
    assert place(lambda_context, linked, tokens[linked], {})[0] == 422
    assert place(lambda_context, linked, tokens[linked], {"all": True, "order_ids": ["1"]})[0] == 422
    assert ae.orders() == []


def test_auto_place_shop_gets_paid_orders_queued_from_the_webhook(linked: str, queue_url: str,
                                                                  order_paid: dict[str, Any],
                                                                  ae: AliExpressSimulator,
                                                                  lambda_context: Any) -> None:
    wiring.shops().update_settings(linked, auto_place=True)
    unpaid = dict(order_paid, id=6001, financial_status="pending")
    assert deliver(lambda_context, linked, "orders/create", unpaid)[0] == 200
    assert queued(queue_url) == []  # pending: nothing to place yet
    assert deliver(lambda_context, linked, "orders/paid", order_paid)[0] == 200
    records = queued(queue_url)
    assert [json.loads(r["body"]) for r in records] == [{"shop": linked, "order_id": "5549662"}]
    assert worker.lambda_handler({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert wiring.orders().get(linked, "5549662").status is OrderStatus.AWAITING_PAYMENT  # type: ignore[union-attr]
    # The same webhook again after placement: nothing queued, nothing placed twice.
    assert deliver(lambda_context, linked, "orders/paid", order_paid)[1] == {"outcome": "duplicate"}
    assert queued(queue_url) == []
    assert len(ae.orders()) == 1


def test_shop_without_auto_place_queues_nothing(linked: str, queue_url: str, order_paid: dict[str, Any],
                                                lambda_context: Any) -> None:
    assert deliver(lambda_context, linked, "orders/paid", order_paid)[0] == 200
    assert queued(queue_url) == []


def test_a_retried_order_of_an_auto_place_shop_is_queued(linked: str, tokens: dict[str, str], queue_url: str,
                                                         ae: AliExpressSimulator, lambda_context: Any) -> None:
    new_order(linked, "7601", lines=[("1000221", 500)])  # more than the supplier has
    assert place(lambda_context, linked, tokens[linked], {"order_ids": ["7601"]})[1]["results"][0]["reason_code"] \
        == "INVENTORY_HOLD_ERROR"
    wiring.shops().update_settings(linked, auto_place=True)
    ae.seed_product(BOTTLE, store_id="1100", skus=[{"sku_id": "120001", "sku_attr": BOTTLE_SILVER, "stock": 999}])
    assert call(lambda_context, "POST", f"/shops/{linked}/orders/7601/retry", tokens[linked])[0] == 200
    records = queued(queue_url)
    assert [json.loads(r["body"])["order_id"] for r in records] == ["7601"]
    assert worker.lambda_handler({"Records": records}, lambda_context) == {"batchItemFailures": []}
    assert [o["out_order_id"] for o in ae.orders()] == [f"{linked}-7601-2"]


def test_a_failed_enqueue_fails_the_webhook_so_shopbase_redelivers(linked: str, order_paid: dict[str, Any],
                                                                   queue_url: str, lambda_context: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wiring.shops().update_settings(linked, auto_place=True)
    monkeypatch.setenv("PLACE_ORDERS_QUEUE_URL", queue_url.replace("place-orders-test", "no-such-queue"))
    wiring.reset()
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        deliver(lambda_context, linked, "orders/paid", order_paid)
    monkeypatch.setenv("PLACE_ORDERS_QUEUE_URL", queue_url)
    wiring.reset()
    # ShopBase delivers again: the order is stored already (duplicate), and it is queued this time.
    assert deliver(lambda_context, linked, "orders/paid", order_paid)[1] == {"outcome": "duplicate"}
    assert [json.loads(r["body"])["order_id"] for r in queued(queue_url)] == ["5549662"]


def test_auto_place_without_a_queue_is_loud(linked: str, order_paid: dict[str, Any], lambda_context: Any,
                                            capsys: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    wiring.shops().update_settings(linked, auto_place=True)
    capsys.readouterr()
    assert deliver(lambda_context, linked, "orders/paid", order_paid)[0] == 200
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("AutoPlaceNotConfigured") == [1.0] for line in emitted)  # the EMF metric
    assert any(r.levelname == "ERROR" and "no PlaceOrdersQueue" in r.getMessage() for r in caplog.records)
