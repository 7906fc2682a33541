"""ShopBase order webhooks: POST /webhooks/shopbase/{shop}/<topic>, one route per topic (404 for any other).

The bytes received go to shared.logic.webhooks (size, signature, parsing, intake, auto-place); this answers
{"outcome": ...} or the one JSON error shape, and counts every rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.logic.intake import Topic
from shared.models.errors import BadRequest, DomainError, Invalid, NotAuthorized, TooLarge
from shared.observability import logger, metrics, tracer
from shared.web import APIGatewayHttpResolver, Response, install_error_handlers, json_response, request_body, status_of

app = APIGatewayHttpResolver()
# The metric suffix of each rejection (WebhookRejected_<reason>).
REJECTION_REASON: dict[type[DomainError], str] = {
    TooLarge: "too_large",
    NotAuthorized: "unauthorized",
    BadRequest: "malformed",
    Invalid: "schema",
}


def rejected(error: DomainError) -> None:
    reason = next((r for kind, r in REJECTION_REASON.items() if isinstance(error, kind)), None)
    if reason is None:
        return  # an unknown route is not a delivery
    metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"WebhookRejected_{reason}", unit=MetricUnit.Count, value=1)
    logger.info("webhook rejected", extra={"reason": reason, "status": status_of(error)})


install_error_handlers(app, on_error=rejected)


def _route(topic: Topic) -> Callable[[str], Response]:
    def receive(shop: str) -> Response:
        metrics.add_metric(name="WebhookReceived", unit=MetricUnit.Count, value=1)
        # The exact bytes sent, whatever they are: size and signature are checked on them before any decoding.
        body = request_body(app.current_event)
        result = wiring.webhook_receiver().receive(shop, topic, app.current_event.headers, body)
        metrics.add_metric(name=f"Webhook_{result.outcome.value}", unit=MetricUnit.Count, value=1)
        logger.info("webhook applied", extra={"shop": shop, "topic": topic.value, "outcome": result.outcome.value,
                                              "order_id": result.order.order_id if result.order else None})
        return json_response({"outcome": result.outcome.value})

    receive.__name__ = f"receive_{topic.name.lower()}"
    return receive


for _topic in Topic:
    app.post(f"/webhooks/shopbase/<shop>/{_topic.value}")(_route(_topic))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
