"""Connect a shop's AliExpress account (OAuth code flow).

GET /connect/aliexpress?shop=…            → 302 to AliExpress's authorize page with a signed, 10-minute state.
    Needs the shop's seller API token (Authorization: Bearer …): without it anyone could bind their own
    AliExpress account to someone else's shop and receive its customers' orders.
GET /connect/aliexpress/callback?code=&state= → token exchange, tokens stored, shop marked connected.
    A bad or expired state is a 400 and nothing is stored.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aliexpress.errors import AliExpressError, InvalidCodeError
from shared.data.shops import get_shop_secrets
from shared.logic.accounts import InvalidState, app_credentials, default_accounts, sign_state, verify_state
from shared.logic.auth import is_valid_seller_token
from shared.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def redirect_uri() -> str:
    """The callback registered in the AliExpress console (ALIEXPRESS_REDIRECT_URI); it must match exactly.

    Unset, it is this API's own callback URL (the template cannot pass the API's URL to a function that is
    one of its integrations without a dependency cycle).
    """
    uri = os.environ.get("ALIEXPRESS_REDIRECT_URI", "").strip()
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
    if not shop:
        return _json(400, {"error": "shop is required"})
    if get_shop_secrets(shop) is None:
        return _json(404, {"error": "unknown shop"})
    if not is_valid_seller_token(shop, app.current_event.headers.get("authorization")):
        return _json(401, {"error": "unauthorized"})
    key = app_credentials().state_signing_key.get_secret_value()
    location = default_accounts().client.authorize_url(redirect_uri(), sign_state(shop, key, time.time()))
    return Response(status_code=302, content_type=content_types.TEXT_PLAIN, body="", headers={"Location": location})


@app.get("/connect/aliexpress/callback")
def callback() -> Response:
    params = app.current_event.query_string_parameters or {}
    key = app_credentials().state_signing_key.get_secret_value()
    try:
        shop = verify_state(params.get("state") or "", key, time.time())
    except InvalidState as error:
        metrics.add_metric(name="AliExpressConnectRejected", unit=MetricUnit.Count, value=1)
        return _json(400, {"error": f"invalid state: {error}"})
    code = (params.get("code") or "").strip()
    if not code:
        # The seller declined on AliExpress's page (no code comes back).
        return _json(400, {"error": "AliExpress returned no authorization code: the connection was not approved"})
    if get_shop_secrets(shop) is None:
        return _json(404, {"error": "unknown shop"})
    try:
        default_accounts().connect(shop, code)
    except InvalidCodeError:
        return _json(400, {"error": "the authorization code is invalid or expired: start the connection again"})
    except AliExpressError as error:
        logger.warning("aliexpress token exchange failed", extra={"shop": shop, "code": error.code})
        return _json(502, {"error": "AliExpress did not complete the connection; try again", "code": error.code})
    return _json(200, {"shop": shop, "aliexpress_connected": True})


@app.not_found
def not_found(_: Exception) -> Response:
    return _json(404, {"error": "not found"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
