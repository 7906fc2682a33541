"""Sync now through the real seller API handler: one order, a whole shop (inline or queued), per-shop limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.seller_api import app as seller_api
from functions.seller_api import routes_sync
from local.apigw import http_event
from shared.data.shops import clear_secret_cache, put_shop_secrets
from shared.data.sync_runs import SyncRunRepository
from shared.logic.auth import hash_token
from shared.logic.sync import parse_message, process_message
from shared.settings import get_settings
from tests.sync.conftest import APP_KEY, APP_SECRET, BOTTLE_BLACK, World


@pytest.fixture
def api(world: World, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The seller API configured as deployed: gateway URL and queue from env, app key/secret from Secrets Manager."""
    monkeypatch.setenv("ALIEXPRESS_GATEWAY_URL", world.sim.url)
    monkeypatch.setenv("SYNC_QUEUE_URL", queue_url)
    monkeypatch.setenv("ALIEXPRESS_CALLS_PER_SECOND", "200")
    get_settings.cache_clear()
    boto3.client("secretsmanager").create_secret(Name=get_settings().app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": APP_KEY, "aliexpress_app_secret": APP_SECRET, "state_signing_key": "k" * 32}))
    put_shop_secrets(world.shop, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token("tok-demo")})
    put_shop_secrets("other-store", {"webhook_secret": "whsec-o", "api_token_sha256": hash_token("tok-other")})
    clear_secret_cache()
    routes_sync.syncer.cache_clear()
    routes_sync.gate.cache_clear()
    yield {world.shop: "tok-demo", "other-store": "tok-other"}
    # Cached per container: they hold this test's moto clients.
    routes_sync.syncer.cache_clear()
    routes_sync.gate.cache_clear()


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
                                                                 lambda_context: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_sync, "ORDER_SYNCS_PER_MINUTE", 2)
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
    for _ in range(routes_sync.INLINE_MAX + 3):
        world.place([(BOTTLE_BLACK, 1)], pay=True)
    status, body, _ = call(lambda_context, f"/shops/{world.shop}/sync", api[world.shop])
    assert status == 202 and body["mode"] == "queued" and body["orders"] == routes_sync.INLINE_MAX + 3
    sqs = boto3.client("sqs")
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in batch:
            process_message(run_deps, parse_message(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    run = SyncRunRepository().get(body["run_id"])
    assert run is not None and run.ended_at is not None
    assert run.totals.examined == routes_sync.INLINE_MAX + 3 == run.totals.changed
