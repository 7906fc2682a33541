"""infra/template.yaml wiring for connection, seller API and placement: routes, queue, least privilege."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from local.template import load_template

TOKEN_SECRETS = "secret:dropship/${Stage}/aliexpress/*"
MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def actions_on(template: dict[str, Any], role: str, fragment: str) -> set[str]:
    found: set[str] = set()
    for statement in statements(template, role):
        if fragment in json.dumps(statement["Resource"]):
            actions = statement["Action"]
            found |= set(actions if isinstance(actions, list) else [actions])
    return found


def test_routes_and_handlers() -> None:
    resources = load_template()["Resources"]
    connect = resources["ConnectAliExpressFunction"]["Properties"]
    assert connect["Handler"] == "functions.connect_aliexpress.app.lambda_handler"
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in connect["Events"].values()}
    assert routes == {("GET", "/connect/aliexpress"), ("GET", "/connect/aliexpress/callback")}
    seller = resources["SellerApiFunction"]["Properties"]
    assert seller["Handler"] == "functions.seller_api.app.lambda_handler" and seller["Timeout"] < 30
    assert any(e["Properties"]["Path"] == "/shops/{proxy+}" for e in seller["Events"].values())
    worker = resources["PlaceOrdersFunction"]["Properties"]
    assert worker["Events"]["Queue"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["PlaceOrdersQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"] and queue["RedrivePolicy"]["maxReceiveCount"] == 5
    make = MAKEFILE.read_text()
    for logical_id in ("ConnectAliExpressFunction", "SellerApiFunction", "PlaceOrdersFunction"):
        assert re.search(rf"^build-{logical_id}:\n\t\$\(call lambda_artifact,", make, re.M), logical_id


def test_token_secrets_only_for_functions_that_call_aliexpress() -> None:
    template = load_template()
    for role in ("ConnectAliExpressRole", "SellerApiRole", "PlaceOrdersRole"):
        assert actions_on(template, role, TOKEN_SECRETS) == {
            "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"}
        # Never a wildcard action.
        assert all("*" not in json.dumps(s["Action"]) for s in statements(template, role))
    webhook = template["Resources"]["WebhookOrderFunction"]["Properties"]["Policies"]
    assert TOKEN_SECRETS not in json.dumps(webhook)
    assert actions_on(template, "PlaceOrdersRole", "shops/*") == set()  # the worker never reads shop secrets
