"""The fuzz suite's world and its tallies.

One world per module: moto (DynamoDB, Secrets Manager, SQS) with the table from infra/template.yaml, the AliExpress
simulator over HTTP, two shops with orders, links and settings: "demo-store" (the target: its webhook secret and
seller API token sign and authorise the inputs) and "other-store" (the bystander: nothing may ever change its data).
The Lambda handlers run in-process on API Gateway v2 events.

Every DynamoDB and Secrets Manager write is recorded through botocore's event hooks (`Writes`), so a property can
say "no write at all" (bad signature or token) or "no write naming the bystander". Each test records its tally
(inputs tried, answers by status) as a user property; the summary at the end of the run adds them up (over xdist
workers too), and FUZZ_REPORT=<path> also writes them as JSON.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.seller_api import app as seller_api
from functions.webhook_order import app as webhook
from local.template import load_template, table_create_args
from shared import wiring
from shared.logic.auth import hash_token
from simulators.aliexpress import AliExpressSimulator
from tests.conftest import FIXTURES, FakeLambdaContext
from tests.integration.lambda_http import invoke, seller_event, webhook_event

TARGET, BYSTANDER = "demo-store", "other-store"
SECRETS = {TARGET: "whsec-demo-fuzz", BYSTANDER: "whsec-other-fuzz"}
TOKENS = {TARGET: "tok-demo-fuzz", BYSTANDER: "tok-other-fuzz"}
APP_KEY, APP_SECRET = "fuzz-app-key", "fuzz-app-secret"
BOTTLE, SKIRT = "1005001", "1005002"
BOTTLE_SILVER = "14:193#Silver;5:100014064"
ORDER_IDS = [str(1001 + n) for n in range(6)]  # each shop's seeded orders


class Writes:
    """Every write call the data layer makes (DynamoDB, Secrets Manager), as JSON text of its parameters."""

    OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                            "PutSecretValue", "CreateSecret", "UpdateSecret", "DeleteSecret"})

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in self.OPERATIONS:
            self.calls.append(f"{model.name} {json.dumps(params, default=str)}")

    def clear(self) -> None:
        self.calls.clear()

    def naming(self, shop: str) -> list[str]:
        return [call for call in self.calls if shop in call]


@dataclass
class Tally:
    """Inputs tried and answers by status, for the report."""

    name: str
    tried: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, status: int) -> None:
        self.tried += 1
        self.statuses[status] += 1

    def as_dict(self) -> dict[str, Any]:
        statuses = {str(status): count for status, count in sorted(self.statuses.items())}
        return {"test": self.name, "tried": self.tried, "statuses": statuses}


@dataclass
class World:
    context: FakeLambdaContext
    writes: Writes
    order_paid: dict[str, Any]
    cursors: dict[str, str]  # issued page cursors, by "<shop>/<tab>"

    def deliver(self, shop: str, topic: str, body: bytes, *, secret: str | None, base64_body: bool = True,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        event = webhook_event(shop, topic, body, secret=secret, base64_body=base64_body, headers=headers)
        return invoke(webhook.lambda_handler, event, self.context)

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
             query: str = "", base64_body: bool = False) -> tuple[int, dict[str, Any]]:
        event = seller_event(method, path, None, body=body, query=query, base64_body=base64_body, headers=headers)
        return invoke(seller_api.lambda_handler, event, self.context)

    def shop_state(self, shop: str) -> Any:
        """Everything a shop owns: its items (full scan, filtered) and its secrets' values."""
        client = boto3.client("dynamodb")
        items, kwargs = [], {"TableName": wiring.settings().table_name}
        while True:
            page = client.scan(**kwargs)
            items += [i for i in page["Items"] if shop in json.dumps(i)]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        sm = boto3.client("secretsmanager")
        secrets = {s["Name"]: sm.get_secret_value(SecretId=s["ARN"])["SecretString"]
                   for s in sm.list_secrets()["SecretList"] if shop in s["Name"]}
        return sorted(items, key=json.dumps), secrets


def _seed(world: World, sim: AliExpressSimulator) -> None:
    for shop in (TARGET, BYSTANDER):
        wiring.shop_secrets().put(shop, {"webhook_secret": SECRETS[shop], "shopbase_access_token": f"sb-{shop}",
                                         "api_token_sha256": hash_token(TOKENS[shop])})
        for n, order_id in enumerate(ORDER_IDS):
            payload = dict(world.order_paid, id=int(order_id), created_at=f"2026-11-2{n}T00:00:00Z",
                           financial_status="paid" if n % 3 else "pending")
            status, answer = world.deliver(shop, "orders/paid", json.dumps(payload).encode(), secret=SECRETS[shop])
            assert status == 200, answer
        auth = {"authorization": f"Bearer {TOKENS[shop]}"}
        status, answer = world.call("PATCH", f"/shops/{shop}/settings", headers=auth,
                                    body=json.dumps({"sender_email": f"orders@{shop}.example"}).encode())
        assert status == 200, answer
        wiring.aliexpress_accounts().connect(shop, sim.issue_code())
        for variant, product, sku_attr in (("1000221", BOTTLE, BOTTLE_SILVER), ("1000387", SKIRT, "")):
            status, answer = world.call("PUT", f"/shops/{shop}/links/{variant}", headers=auth,
                                        body=json.dumps({"product_id": product, "sku_attr": sku_attr}).encode())
            assert status == 200, answer
        status, answer = world.call("POST", f"/shops/{shop}/orders/place", headers=auth,
                                    body=json.dumps({"order_ids": ORDER_IDS[1:3]}).encode())
        assert status == 200, answer
        for tab in ("all", "awaiting_order", "pending"):
            status, page = world.call("GET", f"/shops/{shop}/orders", headers=auth, query=f"tab={tab}&limit=1")
            assert status == 200 and page["next_cursor"], page
            world.cursors[f"{shop}/{tab}"] = page["next_cursor"]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    order_paid = json.loads((FIXTURES / "shopbase" / "order_paid.json").read_text())
    with mock_aws(), AliExpressSimulator(app_key=APP_KEY, app_secret=APP_SECRET, seed=11) as sim, \
            pytest.MonkeyPatch.context() as env:
        sim.seed_product(BOTTLE, subject="Insulated bottle", store_id="1100", skus=[
            {"sku_id": "120001", "sku_attr": BOTTLE_SILVER, "price": "5.10", "stock": 100_000}])
        sim.seed_product(SKIRT, subject="Mini skirt", store_id="1100",
                         skus=[{"sku_id": "120003", "sku_attr": "", "price": "7", "stock": 100_000}])
        env.setenv("ALIEXPRESS_GATEWAY_URL", sim.url)
        env.setenv("ALIEXPRESS_CALLS_PER_SECOND", "200")
        env.delenv("PLACE_ORDERS_QUEUE_URL", raising=False)
        wiring.reset()
        boto3.client("dynamodb").create_table(**table_create_args(load_template(), "OrdersTable",
                                                                  wiring.settings().table_name))
        env.setenv("SYNC_QUEUE_URL", boto3.client("sqs").create_queue(QueueName="fuzz-sync")["QueueUrl"])
        wiring.reset()
        boto3.client("secretsmanager").create_secret(Name=wiring.settings().app_secret_name, SecretString=json.dumps(
            {"aliexpress_app_key": APP_KEY, "aliexpress_app_secret": APP_SECRET, "state_signing_key": "fuzz-state"}))
        writes = Writes()
        wiring.table().meta.client.meta.events.register("provide-client-params.dynamodb.*", writes)
        wiring.aws_client("secretsmanager").meta.events.register("provide-client-params.secrets-manager.*", writes)
        built = World(context=FakeLambdaContext(), writes=writes, order_paid=order_paid, cursors={})
        _seed(built, sim)
        writes.clear()
        try:
            yield built
        finally:
            wiring.reset()


# ------------------------------------------------------------------ tallies: per test, then for the whole run

_tallies: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _tallies.extend(json.loads(value) for name, value in report.user_properties if name == "fuzz_tally")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _tallies:
        return
    total: Counter[str] = Counter()
    terminalreporter.section("fuzz: inputs tried and answers by status")
    for tally in sorted(_tallies, key=lambda t: t["test"]):
        total.update(tally["statuses"])
        statuses = ", ".join(f"{status}: {count}" for status, count in tally["statuses"].items())
        terminalreporter.write_line(f"{tally['test']}: {tally['tried']} inputs ({statuses})")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(total.items()))
    terminalreporter.write_line(f"total: {sum(t['tried'] for t in _tallies)} inputs ({statuses})")
    if os.environ.get("FUZZ_REPORT"):
        Path(os.environ["FUZZ_REPORT"]).write_text(json.dumps({"tests": _tallies, "statuses": dict(total)}, indent=2))
