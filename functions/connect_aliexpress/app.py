"""Connect a shop's AliExpress account (OAuth code flow); the use case is shared.logic.accounts.AliExpressConnect.

GET /connect/aliexpress?shop=…            → 302 to AliExpress's authorize page with a signed, 10-minute state.
    Needs the shop's seller API token (Authorization: Bearer …): 400 without a shop, 404 for an unknown shop,
    401 without the token.
GET /connect/aliexpress/callback?code=&state= → token exchange, tokens stored, shop marked connected.
    A bad or expired state, a missing or refused code is a 400 and nothing is stored; 502 when AliExpress fails.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.observability import logger, metrics, tracer
from shared.web import install_error_handlers, json_response

app = APIGatewayHttpResolver()
install_error_handlers(app)


def redirect_uri() -> str:
    """The callback registered in the AliExpress console (ALIEXPRESS_REDIRECT_URI); it must match exactly.

    Unset, it is this API's own callback URL (the template cannot pass the API's URL to a function that is
    one of its integrations without a dependency cycle).
    """
    uri = wiring.settings().aliexpress_redirect_uri.strip()
    if uri:
        return uri
    context = app.current_event.request_context
    stage = context.stage
    prefix = "" if not stage or stage == "$default" else f"/{stage}"
    return f"https://{context.domain_name}{prefix}/connect/aliexpress/callback"


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
    shop = wiring.aliexpress_connect().complete((params.get("code") or "").strip(), params.get("state") or "")
    return json_response({"shop": shop, "aliexpress_connected": True})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
