"""The seller's API: /shops/{shop}/... (Manage Orders tabs, links, placing, sync now, manual fulfillment).

Every /shops/{shop}/ route needs that shop's API token (Authorization: Bearer …). Feature routes live in
routes_*.py modules as Powertools Routers; this file only wires them and maps errors to statuses.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, UnauthorizedError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.seller_api import (
    routes_fulfill,
    routes_links,
    routes_orders,
    routes_placement,
    routes_settings,
    routes_sync,
)
from functions.seller_api.common import ApiError, error_response
from shared.data.orders import InvalidCursor
from shared.logic.auth import is_valid_seller_token
from shared.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()
app.include_router(routes_orders.router)
app.include_router(routes_fulfill.router)
app.include_router(routes_links.router)
app.include_router(routes_placement.router)
app.include_router(routes_sync.router)
app.include_router(routes_settings.router)


def require_shop_token(app: APIGatewayHttpResolver, next_middleware: Any) -> Response:
    path = app.current_event.path
    parts = path.strip("/").split("/")
    # Stage-prefixed paths ("/prod/shops/...") are normalised by the resolver; "shops" is the first segment.
    if parts and parts[0] == "shops" and len(parts) >= 2:
        shop = parts[1]
        if not is_valid_seller_token(shop, app.current_event.headers.get("authorization")):
            raise UnauthorizedError("unauthorized")
    return next_middleware(app)


app.use(middlewares=[require_shop_token])


@app.exception_handler(UnauthorizedError)
def unauthorized(_: UnauthorizedError) -> Response:
    return error_response(401, "unauthorized")


@app.exception_handler(NotFoundError)
def not_found_error(error: NotFoundError) -> Response:
    return error_response(404, str(error.msg) or "not found")


@app.exception_handler(ValidationError)
def invalid_body(error: ValidationError) -> Response:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return error_response(422, f"{field}: {first['msg']}", field=field)


@app.exception_handler(InvalidCursor)
def invalid_cursor(error: InvalidCursor) -> Response:
    return error_response(400, str(error))


@app.exception_handler(ApiError)
def api_error(error: ApiError) -> Response:
    return error_response(error.status, error.message, **error.extra)


@app.not_found
def no_route(_: Exception) -> Response:
    return Response(status_code=404, content_type=content_types.APPLICATION_JSON, body='{"error": "not found"}')


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
