"""Driving the HTTP Lambda handlers in-process with API Gateway v2 events, bodies given as raw bytes.

`invoke` answers (status, JSON body) the way API Gateway would: a handler that raises is the 500 API Gateway
sends for a failed integration (the body then names the exception, for the test's message).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local.apigw import http_event
from shared.shopbase.signature import sign_webhook

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def invoke(handler: Handler, event: dict[str, Any], context: Any) -> tuple[int, dict[str, Any]]:
    try:
        response = handler(event, context)
    except Exception as error:  # an unhandled error is API Gateway's 500
        return 500, {"crash": f"{type(error).__name__}: {error}"[:300]}
    raw = response.get("body") or ""
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"raw": raw[:300]}
    return int(response["statusCode"]), body if isinstance(body, dict) else {"value": body}


def with_body(event: dict[str, Any], body: bytes | None, *, base64_body: bool) -> dict[str, Any]:
    """Put raw bytes in the event: base64 (as API Gateway does for binary bodies) or as plain text, where bytes
    that are not UTF-8 become lone surrogates (the only way a JSON event string can carry them)."""
    if body is None:
        event.pop("body", None)
        event["isBase64Encoded"] = False
        return event
    if base64_body:
        import base64

        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["body"] = body.decode("utf-8", "surrogateescape")
        event["isBase64Encoded"] = False
    return event


def webhook_event(shop: str, topic: str, body: bytes, *, secret: str | None, base64_body: bool = True,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A ShopBase delivery; `secret` None sends it unsigned."""
    sent = {"content-type": "application/json", **(headers or {})}
    if secret is not None:
        sent["x-shopbase-hmac-sha256"] = sign_webhook(secret, body)
    event = http_event("POST", f"/webhooks/shopbase/{shop}/{topic}", headers=sent,
                       route_key=f"POST /webhooks/shopbase/{{shop}}/{topic}", path_parameters={"shop": shop})
    return with_body(event, body, base64_body=base64_body)


def seller_event(method: str, path: str, token: str | None, *, body: bytes | None = None, query: str = "",
                 base64_body: bool = False, headers: dict[str, str] | None = None) -> dict[str, Any]:
    sent = {"content-type": "application/json", **(headers or {})}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    event = http_event(method, path, headers=sent, query=query)
    return with_body(event, body, base64_body=base64_body)
