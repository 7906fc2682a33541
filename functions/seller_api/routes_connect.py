"""The browser's AliExpress connect: POST /shops/{shop}/aliexpress/connect answers the signed authorize URL.

A page cannot send its bearer token on a navigation (and the token never goes in a URL): it POSTs here with the
token, gets AliExpress's authorize URL (the state in it is signed, names the shop, lasts 10 minutes and is used
once), and goes there; AliExpress sends the seller to GET /connect/aliexpress/callback, which sends a browser back
to the page.
"""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from shared import wiring
from shared.web import Response, Router, json_response

router = Router()


def http_event() -> APIGatewayProxyEventV2:
    """The request as the HTTP API (payload v2) gives it."""
    return cast(APIGatewayProxyEventV2, router.current_event)


@router.post("/shops/<shop>/aliexpress/connect", summary="AliExpress's authorize URL for this shop (signed state)",
             responses={200: {"description": '{"authorize_url": "https://…"}'}, 401: {"description": "bad token"}},
             tags=["shop"])
def connect_url(shop: str) -> Response:
    event = http_event()
    context = event.request_context
    url = wiring.aliexpress_connect().authorize_url(shop, event.headers.get("authorization"),
                                                    wiring.connect_redirect_uri(context.domain_name, context.stage))
    return json_response({"authorize_url": url})
