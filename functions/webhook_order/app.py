"""ShopBase order webhooks: POST /webhooks/shopbase/{shop}/<topic>.

Verify the shop and the signature on the exact bytes received, parse, apply idempotently, answer fast.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.data.orders import OrderRepository
from shared.data.shops import get_shop_secrets
from shared.logic.auto_place import auto_place_hook
from shared.logic.intake import IntakeResult, Topic, apply_order_webhook, apply_refund_webhook, body_hash
from shared.models.shopbase_order import ShopBaseOrder, ShopBaseRefund
from shared.observability import logger, metrics, tracer
from shared.settings import get_settings
from shared.shopbase.signature import verify_webhook

app = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def repository() -> OrderRepository:
    """One per container (cleared by tests and the local runtime like every lru_cache'd client)."""
    return OrderRepository()


def _error(status: int, message: str, reason: str, **extra: Any) -> Response:
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"WebhookRejected_{reason}", unit=MetricUnit.Count, value=1)
    logger.info("webhook rejected", extra={"reason": reason, "status": status})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"error": message, **extra}))


def _authentic(shop: str, body: bytes) -> bool:
    """Unknown shop, a header naming another shop, and a bad signature all look the same to the caller."""
    headers = app.current_event.headers
    domain = headers.get("x-shopbase-shop-domain")
    if domain is not None and domain.strip().lower() not in {shop, f"{shop}.onshopbase.com"}:
        return False
    secrets = get_shop_secrets(shop)
    if secrets is None:
        return False
    return verify_webhook(secrets.webhook_secret.get_secret_value(), body,
                          headers.get("x-shopbase-hmac-sha256"))


def _receive(shop: str, topic: Topic) -> Response:
    metrics.add_metric(name="WebhookReceived", unit=MetricUnit.Count, value=1)
    raw = app.current_event.decoded_body
    body = raw.encode("utf-8") if isinstance(raw, str) else (raw or b"")
    if len(body) > get_settings().max_webhook_bytes:
        return _error(413, "payload too large", "too_large")
    if not _authentic(shop, body):
        return _error(401, "unauthorized", "unauthorized")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not valid JSON", "malformed")
    if not isinstance(payload, dict):
        return _error(422, "body must be a JSON object", "schema", field="")
    try:
        result = _apply(shop, topic, payload, body)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        return _error(422, f"{field}: {first['msg']}", "schema", field=field)
    auto_place_hook(result.order)  # auto_place shops: a paid, unplaced order goes to PlaceOrdersQueue
    metrics.add_metric(name=f"Webhook_{result.outcome.value}", unit=MetricUnit.Count, value=1)
    logger.info("webhook applied", extra={"shop": shop, "topic": topic.value, "outcome": result.outcome.value,
                                          "order_id": result.order.order_id if result.order else None})
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"outcome": result.outcome.value}))


@tracer.capture_method
def _apply(shop: str, topic: Topic, payload: dict[str, Any], body: bytes) -> IntakeResult:
    if topic is Topic.REFUNDS_CREATE and "line_items" not in payload:
        return apply_refund_webhook(repository(), shop, ShopBaseRefund.model_validate(payload))
    return apply_order_webhook(repository(), shop, topic, ShopBaseOrder.model_validate(payload), body_hash(body))


@app.post("/webhooks/shopbase/<shop>/orders/create")
def orders_create(shop: str) -> Response:
    return _receive(shop, Topic.ORDERS_CREATE)


@app.post("/webhooks/shopbase/<shop>/orders/updated")
def orders_updated(shop: str) -> Response:
    return _receive(shop, Topic.ORDERS_UPDATED)


@app.post("/webhooks/shopbase/<shop>/orders/paid")
def orders_paid(shop: str) -> Response:
    return _receive(shop, Topic.ORDERS_PAID)


@app.post("/webhooks/shopbase/<shop>/orders/cancelled")
def orders_cancelled(shop: str) -> Response:
    return _receive(shop, Topic.ORDERS_CANCELLED)


@app.post("/webhooks/shopbase/<shop>/orders/fulfilled")
def orders_fulfilled(shop: str) -> Response:
    return _receive(shop, Topic.ORDERS_FULFILLED)


@app.post("/webhooks/shopbase/<shop>/refunds/create")
def refunds_create(shop: str) -> Response:
    return _receive(shop, Topic.REFUNDS_CREATE)


@app.not_found
def not_found(_: Exception) -> Response:
    return Response(status_code=404, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"error": "not found"}))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
