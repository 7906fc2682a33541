"""The seller's API: /shops/{shop}/... (Manage Orders tabs, links, placing, sync now, manual fulfillment).

Every /shops/{shop}/ route needs that shop's API token (Authorization: Bearer …). Feature routes live in
routes_*.py modules as Powertools Routers; this file wires them, checks the token, and maps domain errors to
statuses (shared.web).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

# routes_connect, routes_page: the Manage Orders page (issue 13); routes_pricing, routes_products: product import (12)
from functions.seller_api import (
    routes_connect,
    routes_fulfill,
    routes_links,
    routes_orders,
    routes_page,
    routes_placement,
    routes_pricing,
    routes_products,
    routes_settings,
    routes_sync,
)
from shared import wiring
from shared.models.errors import BadRequest
from shared.observability import logger, metrics, tracer
from shared.web import APIGatewayHttpResolver, Response, install_error_handlers, request_body

app = APIGatewayHttpResolver()
app.include_router(routes_orders.router)
app.include_router(routes_fulfill.router)
app.include_router(routes_links.router)
app.include_router(routes_placement.router)
app.include_router(routes_sync.router)
app.include_router(routes_settings.router)
app.include_router(routes_page.router)  # issue 13: GET /app, /app/{file}, /openapi.json
app.include_router(routes_connect.router)  # issue 13: the browser's AliExpress connect
app.include_router(routes_products.router)  # issue 12: import list, edit, push, refresh, log
app.include_router(routes_pricing.router)  # issue 12: pricing and monitoring rules
install_error_handlers(app)


def require_shop_token(app: APIGatewayHttpResolver, next_middleware: Any) -> Response:
    parts = app.current_event.path.strip("/").split("/")
    # Stage-prefixed paths ("/prod/shops/...") are normalised by the resolver; "shops" is the first segment.
    if parts and parts[0] == "shops" and len(parts) >= 2:
        wiring.seller_auth().require(parts[1], app.current_event.headers.get("authorization"))
    return next_middleware(app)


def require_text_body(app: APIGatewayHttpResolver, next_middleware: Any) -> Response:
    """Every seller route reads JSON text: a body that is not UTF-8 is refused before any route runs (Powertools'
    decoded_body would raise on it; shared.web.parse_body reads the raw bytes and says the same)."""
    try:
        request_body(app.current_event).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest("body is not UTF-8 text") from error
    return next_middleware(app)


app.use(middlewares=[require_shop_token, require_text_body])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
