"""The page is served by the API itself with a CSP that forbids inline script; its OpenAPI description is generated
from the routes and kept in the repo (this test fails when they drift); the browser's AliExpress connect flow."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from functions.connect_aliexpress import app as connect
from functions.seller_api.routes_page import PAGE_DIR, openapi_json
from local.apigw import http_event
from shared import wiring
from tests.page.conftest import SHOP, Api

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_in_the_repo_is_the_one_the_code_generates(api: Api) -> None:
    generated = openapi_json()
    committed = (ROOT / "docs" / "openapi.json").read_text()
    assert committed == generated, ("docs/openapi.json drifted from the routes: regenerate it with "
                                    "`.venv/bin/python -m functions.seller_api.routes_page > docs/openapi.json`")
    status, served, _headers = api("GET", "/openapi.json", token=None)
    assert status == 200 and served == json.loads(generated)
    paths = served["paths"]
    assert {"/shops/{shop}/orders", "/shops/{shop}/orders.csv", "/shops/{shop}/orders/{order_id}/view",
            "/shops/{shop}/overview", "/shops/{shop}/aliexpress/connect", "/shops/{shop}/orders/place"} <= set(paths)
    names = {p["name"] for p in paths["/shops/{shop}/orders"]["get"]["parameters"]}
    assert {"tab", "q", "since", "until", "attention", "cursor", "limit", "shop"} <= names
    assert "OrderList" in served["components"]["schemas"]


def test_the_page_and_its_files_come_from_our_routes_under_a_strict_csp(api: Api) -> None:
    status, html, headers = api("GET", "/app", token=None)
    assert status == 200 and headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and headers["x-content-type-options"] == "nosniff"
    # No inline script, no handler attributes, nothing from another origin.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and not re.search(r"\son[a-z]+=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for name in ("app.js", "app.css", "icon.svg"):
        status, body, headers = api("GET", f"/app/{name}", token=None)
        assert status == 200 and body == (PAGE_DIR / name).read_text() and "content-security-policy" in headers
    for bad in ("index.html", "..%2Froutes_page.py", "nope.js", "APP.JS"):
        assert api("GET", f"/app/{bad}", token=None)[0] == 404
    status, _, headers = api("GET", "/", token=None)
    assert status == 302 and headers["location"] == "/app"
    # The script never writes HTML from data: everything goes in as text.
    script = (PAGE_DIR / "app.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    assert "localStorage" not in script and "sessionStorage.setItem" in script


def test_the_page_gets_a_signed_authorize_url_with_its_bearer(api: Api) -> None:
    status, body, _ = api("POST", f"/shops/{SHOP}/aliexpress/connect")
    assert status == 200
    query = parse_qs(urlsplit(body["authorize_url"]).query)
    assert query["state"][0].startswith(f"{SHOP}.") and "tok-demo" not in body["authorize_url"]
    assert api("POST", f"/shops/{SHOP}/aliexpress/connect", token="tok-other")[0] == 401


def test_a_browser_at_the_callback_gets_html_and_other_clients_json(tokens: dict[str, str],
                                                                    lambda_context: Any) -> None:
    def callback(query: str, accept: str) -> dict[str, Any]:
        event = http_event("GET", "/connect/aliexpress/callback", query=query, headers={"accept": accept})
        return connect.lambda_handler(event, lambda_context)

    forged = "code=3_x&state=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    page = callback(forged, "text/html,application/xhtml+xml")
    assert page["statusCode"] == 400 and page["headers"]["Content-Type"].startswith("text/html")
    assert "<script>" not in page["body"] and "/app?" in page["body"]
    assert "script-src" not in page["headers"]["Content-Security-Policy"]  # the failure page runs no script
    machine = callback(forged, "application/json")
    assert machine["statusCode"] == 400 and json.loads(machine["body"])["error"].startswith("invalid state")
    assert wiring.aliexpress_tokens().get(SHOP) is None
