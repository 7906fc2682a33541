"""Connect a shop's AliExpress account (OAuth code flow); the use case is shared.logic.accounts.AliExpressConnect.

GET /connect/aliexpress?shop=…            → 302 to AliExpress's authorize page with a signed, 10-minute state.
    Needs the shop's seller API token (Authorization: Bearer …): 400 without a shop, 404 for an unknown shop,
    401 without the token. (The browser page cannot send a header on a navigation: it asks the seller API for
    the same authorize URL, POST /shops/{shop}/aliexpress/connect, then goes there.)
GET /connect/aliexpress/callback?code=&state= → token exchange, tokens stored, shop marked connected.
    A bad or expired state, a missing or refused code is a 400 and nothing is stored; 502 when AliExpress fails.
    A browser (Accept: text/html) is sent back to the seller's page (302 to /app?shop=…&connected=1), or shown
    an HTML page saying what went wrong; any other client gets JSON.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.logic.accounts import stage_prefix
from shared.models.errors import DomainError
from shared.observability import logger, metrics, tracer
from shared.web import (
    APIGatewayHttpResolver,
    Response,
    content_types,
    domain_error_response,
    install_error_handlers,
    json_response,
    status_of,
)

app = APIGatewayHttpResolver()
install_error_handlers(app)
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'self'; base-uri 'none'; "
                                           "form-action 'none'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def redirect_uri() -> str:
    context = app.current_event.request_context
    return wiring.connect_redirect_uri(context.domain_name, context.stage)


def wants_html() -> bool:
    return "text/html" in (app.current_event.headers.get("accept") or "").lower()


def app_url(query: dict[str, str]) -> str:
    return f"{stage_prefix(app.current_event.request_context.stage)}/app?{urlencode(query)}"


@app.get("/connect/aliexpress")
def start() -> Response:
    params = app.current_event.query_string_parameters or {}
    shop = (params.get("shop") or "").strip().lower()
    location = wiring.aliexpress_connect().authorize_url(shop, app.current_event.headers.get("authorization"),
                                                         redirect_uri())
    return Response(status_code=302, content_type=content_types.TEXT_PLAIN, body="", headers={"Location": location})


@app.get("/connect/aliexpress/callback")
def callback() -> Response:
    params = app.current_event.query_string_parameters or {}
    try:
        shop = wiring.aliexpress_connect().complete((params.get("code") or "").strip(), params.get("state") or "")
    except DomainError as error:
        if not wants_html():
            return domain_error_response(error)
        return failure_page(status_of(error), error.message)
    if wants_html():
        return Response(status_code=302, content_type=content_types.TEXT_PLAIN, body="",
                        headers={"Location": app_url({"shop": shop, "connected": "1"}), **PAGE_HEADERS})
    return json_response({"shop": shop, "aliexpress_connected": True})


def failure_page(status: int, message: str) -> Response:
    """What a browser sees when the connection failed: the reason (escaped) and the way back to the page."""
    body = ("<!doctype html><html lang=en><head><meta charset=utf-8><title>AliExpress not connected</title>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f'<link rel=stylesheet href="{html.escape(stage_prefix(app.current_event.request_context.stage))}'
            '/app/app.css"></head><body class=plain><main class=card><h1>AliExpress was not connected</h1>'
            f"<p>{html.escape(message)}</p><p><a href=\"{html.escape(app_url({}))}\">Back to Manage Orders</a> "
            "and press Reconnect to try again.</p></main></body></html>")
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=PAGE_HEADERS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
