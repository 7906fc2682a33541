"""Sync now through the real seller API handler: one order, a whole shop (inline or queued), per-shop limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.seller_api import app as seller_api
from local.apigw import http_event
from shared import wiring
from shared.logic.auth import hash_token
from shared.logic.sync_now import INLINE_MAX, SyncNow, SyncNowLimits
from shared.logic.sync_runs import parse_message, process_message
from tests.sync.conftest import APP_KEY, APP_SECRET, BOTTLE_BLACK, World


@pytest.fixture
def api(world: World, queue_url: str) -> Iterator[dict[str, str]]:
    """The seller API configured as deployed: gateway URL and queue from its settings, app key/secret from
    Secrets Manager; everything else built by the wiring."""
    wiring.override("settings", wiring.settings().model_copy(update={
        "aliexpress_gateway_url": world.sim.url, "sync_queue_url": queue_url, "aliexpress_calls_per_second": 200}))
    boto3.client("secretsmanager").create_secret(Name=wiring.settings().app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": APP_KEY, "aliexpress_app_secret": APP_SECRET, "state_signing_key": "k" * 32}))
    wiring.shop_secrets().put(world.shop, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token("tok-demo")})
    wiring.shop_secrets().put("other-store", {"webhook_secret": "whsec-o", "api_token_sha256": hash_token("tok-other")})
    yield {world.shop: "tok-demo", "other-store": "tok-other"}


def call(context: Any, path: str, token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    event = http_event("POST", path, headers={"authorization": f"Bearer {token}"})
    response = seller_api.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]), response.get("headers") or {}


def test_sync_one_order_now_answers_with_the_new_state(world: World, api: dict[str, str],
                                                       lambda_context: Any) -> None:
    order = world.place([(BOTTLE_BLACK, 1)], pay=True)
    world.sim.ship(order.ae_orders[0].ae_order_id, mail_no="LPNOW1")
    status, body, _ = call(lambda_context, f"/shops/{world.shop}/orders/{order.order_id}/sync", api[world.shop])
    assert status == 200
    assert body["sync"]["outcome"] == "changed"
    assert body["order"]["status"] == "awaiting_shipment"
    assert [p["tracking_number"] for p in body["order"]["packages"]] == ["LPNOW1"]


def test_sync_now_errors(world: World, api: dict[str, str], lambda_context: Any) -> None:
    assert call(lambda_context, f"/shops/{world.shop}/orders/999/sync", api[world.shop])[0] == 404
    assert call(lambda_context, f"/shops/{world.shop}/orders/999/sync", api["other-store"])[0] == 401
    order = world.place([(BOTTLE_BLACK, 1)])
    world.sim.cancel(order.ae_orders[0].ae_order_id)
    assert call(lambda_context, f"/shops/{world.shop}/orders/{order.order_id}/sync", api[world.shop])[0] == 200
    status, body, _ = call(lambda_context, f"/shops/{world.shop}/orders/{order.order_id}/sync", api[world.shop])
    assert status == 409 and body["order_status"] == "failed"


def test_per_shop_limit_answers_429_without_starving_other_shops(world: World, api: dict[str, str],
                                                                 lambda_context: Any) -> None:
    wiring.override("sync_now", SyncNow(wiring.orders(), wiring.order_syncer(), wiring.interval_gate(),
                                        wiring.sync_now_order_limit(), None,
                                        limits=SyncNowLimits(order_syncs_per_minute=2),
                                        # Mid-minute and still: three calls can never straddle a window boundary.
                                        clock=lambda: 1_800_000_030.0))
    order = world.place([(BOTTLE_BLACK, 1)])
    path = f"/shops/{world.shop}/orders/{order.order_id}/sync"
    results = [call(lambda_context, path, api[world.shop]) for _ in range(3)]
    assert [r[0] for r in results[:2]] == [200, 200]
    status, body, headers = results[2]
    assert status == 429 and "limited to 2 orders a minute" in body["error"]
    assert int(headers["Retry-After"]) >= 1 and body["retry_after"] >= 1
    # Another shop has its own allowance.
    assert call(lambda_context, "/shops/other-store/orders/1/sync", api["other-store"])[0] == 404


def test_sync_small_shop_inline_then_429(world: World, api: dict[str, str], lambda_context: Any) -> None:
    paid = world.place([(BOTTLE_BLACK, 1)], pay=True)
    world.place([(BOTTLE_BLACK, 1)])
    status, body, _ = call(lambda_context, f"/shops/{world.shop}/sync", api[world.shop])
    assert status == 200 and body["mode"] == "inline"
    assert body["examined"] == 2 and body["changed"] == 2 and body["failed"] == 0
    assert world.get(paid.order_id).status.value == "awaiting_shipment"
    status, body, _ = call(lambda_context, f"/shops/{world.shop}/sync", api[world.shop])
    assert status == 429 and "minutes ago" in body["error"]


def test_sync_big_shop_is_queued(world: World, api: dict[str, str], queue_url: str, run_deps: Any,
                                 lambda_context: Any) -> None:
    for _ in range(INLINE_MAX + 3):
        world.place([(BOTTLE_BLACK, 1)], pay=True)
    status, body, _ = call(lambda_context, f"/shops/{world.shop}/sync", api[world.shop])
    assert status == 202 and body["mode"] == "queued" and body["orders"] == INLINE_MAX + 3
    sqs = boto3.client("sqs")
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in batch:
            process_message(run_deps, parse_message(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    run = wiring.sync_runs().get(body["run_id"])
    assert run is not None and run.ended_at is not None
    assert run.totals.examined == INLINE_MAX + 3 == run.totals.changed
