"""The seller's Manage Orders page, served by the API itself: GET /app (the page), GET /app/{file} (its script,
styles and icon), GET /openapi.json (the API it uses, generated from the routes).

No build step, no CDN: the page is three static files beside this module (functions/seller_api/page/), packaged
with the function (the Makefile copies functions/seller_api/ whole). Every answer carries a Content-Security-Policy
that allows only this API's own script, styles and calls (no inline script, no other origin), and the page keeps
the seller's token in sessionStorage only, sending it as a header, never in a URL.
"""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, cast

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from shared.logic.accounts import stage_prefix
from shared.models.errors import NotFound
from shared.models.seller_api import OrderQuery
from shared.web import Response, Router

router = Router()


def http_event() -> APIGatewayProxyEventV2:
    """The request as the HTTP API (payload v2) gives it."""
    return cast(APIGatewayProxyEventV2, router.current_event)
PAGE_DIR = Path(__file__).resolve().parent / "page"
ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}\.(js|css|svg)")
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                 "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
# Images also from AliExpress's CDN: the thumbnails of imported products (shared/logic/order_search.py).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https://*.alicdn.com; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
OPENAPI_TITLE = "Dropship connector: seller API"
OPENAPI_VERSION = "1.0.0"
# Views of the order list: their query parameters, documented from the model that parses them.
QUERY_MODELS: dict[tuple[str, str], type[OrderQuery]] = {
    ("/shops/{shop}/orders", "get"): OrderQuery, ("/shops/{shop}/orders.csv", "get"): OrderQuery}


@cache
def asset(name: str) -> bytes:
    return (PAGE_DIR / name).read_bytes()


def page_response(body: str | bytes, kind: str, cache_control: str) -> Response:
    return Response(status_code=200, content_type=CONTENT_TYPES[kind], body=body,
                    headers={**SECURITY_HEADERS, "Cache-Control": cache_control})


@router.get("/app", include_in_schema=False)
def page() -> Response:
    base = stage_prefix(http_event().request_context.stage)
    html = asset("index.html").decode("utf-8").replace("{{BASE}}", base)
    return page_response(html, "html", "no-store")


@router.get("/", include_in_schema=False)
def root() -> Response:
    """The API's own address opens the page (what `make run` prints)."""
    location = f"{stage_prefix(http_event().request_context.stage)}/app"
    return Response(status_code=302, content_type="text/plain", body="", headers={"Location": location})


@router.get("/app/<name>", include_in_schema=False)
def page_asset(name: str) -> Response:
    match = ASSET_NAME.fullmatch(name)
    if match is None or not (PAGE_DIR / name).is_file():
        raise NotFound(f"page file {name[:60]}")
    # Short cache: a deploy shows up within a minute (the file names carry no hash: no build step).
    return page_response(asset(name).decode("utf-8"), match.group(1), "public, max-age=60")


@router.get("/openapi.json", include_in_schema=False)
def openapi() -> Response:
    return Response(status_code=200, content_type="application/json", body=openapi_json(),
                    headers={"Cache-Control": "public, max-age=300"})


def openapi_document() -> dict[str, Any]:
    """The seller API's OpenAPI description, generated from the routes (Powertools) and the query models."""
    # Here, not at import: Powertools' OpenAPI models (pydantic, built when imported) cost about 0.4 of an
    # `import boto3`, and only this route uses them (cold start).
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    from functions.seller_api.app import app

    for route in [*app._static_routes, *app._dynamic_routes]:
        _document_without_return_annotation(route.func)
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(
        title=OPENAPI_TITLE, version=OPENAPI_VERSION, servers=[Server(url="/")],
        description="Every /shops/{shop}/ route needs the shop's seller API token: Authorization: Bearer <token>. "
                    'Errors are {"error": "<sentence>", ...details}.',
        security_schemes={"sellerToken": HTTPBearer()}, security=[{"sellerToken": []}]))
    for (path, method), model in QUERY_MODELS.items():
        operation = document["paths"][path][method]
        schema = model.model_json_schema()
        operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("in") != "query"] + [
            {"name": name, "in": "query", "required": False, "schema": {k: v for k, v in field.items()
                                                                        if k != "description"},
             "description": field.get("description", "")}
            for name, field in schema["properties"].items()]
    return document


def _document_without_return_annotation(func: Any) -> None:
    """Routes answer a bare `Response` (their models are in `responses=`), which Powertools cannot describe as a
    return type: the signature it reads (inspect.signature honours __signature__) leaves it out. Calls are unchanged."""
    signature = inspect.signature(func)
    if signature.return_annotation is not inspect.Signature.empty:
        func.__signature__ = signature.replace(return_annotation=inspect.Signature.empty)


def openapi_json() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m functions.seller_api.routes_page > docs/openapi.json
    print(openapi_json(), end="")
