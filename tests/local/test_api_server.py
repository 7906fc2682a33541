"""The local HTTP API: real requests in, API Gateway v2 events to the template's routes, answers out."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from local.stack import Stack
from local.template import load_template


def _template(tmp_path: Path) -> Path:
    template = load_template()
    template["Resources"]["EchoFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "Handler": "tests.local.probe.echo_handler", "Events": {
            "One": {"Type": "HttpApi", "Properties": {"Method": "GET", "Path": "/echo/{item}"}},
            "Any": {"Type": "HttpApi", "Properties": {"Method": "ANY", "Path": "/files/{proxy+}"}}}}}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def test_requests_become_api_gateway_v2_events(tmp_path: Path, start_stack: Callable[..., Stack]) -> None:
    stack = start_stack(_template(tmp_path))
    http = requests.Session()
    http.trust_env = False
    answer = http.get(f"{stack.api_url}/echo/a%20b?x=1&y=two", headers={"X-Custom-Header": "Yes"}, timeout=10)
    assert answer.status_code == 200
    event: dict[str, Any] = answer.json()
    assert event["version"] == "2.0" and event["routeKey"] == "GET /echo/{item}"
    assert event["pathParameters"] == {"item": "a b"}
    assert event["rawQueryString"] == "x=1&y=two" and event["queryStringParameters"] == {"x": "1", "y": "two"}
    assert event["headers"]["x-custom-header"] == "Yes"  # lower-cased, as HTTP APIs do
    assert event["requestContext"]["http"]["method"] == "GET"

    posted = http.post(f"{stack.api_url}/files/a/b.txt", data=b"\x89PNG\x00\xff",
                       headers={"Content-Type": "image/png"}, timeout=10).json()
    assert posted["routeKey"] == "ANY /files/{proxy+}" and posted["pathParameters"] == {"proxy": "a/b.txt"}
    assert posted["isBase64Encoded"] is True and base64.b64decode(posted["body"]) == b"\x89PNG\x00\xff"
    text = http.put(f"{stack.api_url}/files/x", json={"a": 1}, timeout=10).json()
    assert text["isBase64Encoded"] is False and text["body"] == '{"a": 1}'

    binary = http.get(f"{stack.api_url}/files/report.bin", timeout=10)
    assert (binary.status_code, binary.content, binary.headers["x-probe"]) == (201, b"\x00\xffbytes", "1")

    failed = http.get(f"{stack.api_url}/files/boom", timeout=10)
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})
    missing = http.get(f"{stack.api_url}/nowhere", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    wrong_method = http.post(f"{stack.api_url}/echo/1", timeout=10)
    assert wrong_method.status_code == 404
    # The real routes are served too: a webhook with no valid signature is the function's own 401.
    webhook = http.post(f"{stack.api_url}/webhooks/shopbase/demo-store/orders/paid", data=b"{}", timeout=10)
    assert webhook.status_code == 401
