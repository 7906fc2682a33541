"""Fixtures for product import (issue 12): both simulators over HTTP on 127.0.0.1, moto for DynamoDB (both tables
created from infra/template.yaml) and Secrets Manager, a shop connected to AliExpress through the real code
exchange, the seller API called in-process, and counters of AliExpress, ShopBase and DynamoDB calls."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.apigw import http_event
from local.template import load_template, table_create_args
from shared import wiring
from shared.logic.auth import hash_token
from simulators.aliexpress import AliExpressSimulator
from simulators.shopbase import ShopBaseSimulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "products"
APP_KEY, APP_SECRET = "sim-app-key", "sim-app-secret"
SHOP, SELLER_TOKEN, SHOPBASE_TOKEN = "demo-store", "tok-demo", "sbtok-demo"
PRODUCTS_TABLE = "dropship-products-test"

WATCH = "1005008252021087"  # Color x Ships From, sku_price 10x the cost, HTML with junk
JUICER = "1005006057059635"  # SKUs without sku_attr (only `id`), like Example A
MUG = "1005001111111111"  # one SKU, no option
BIG = "1005009999999999"  # 9 colours x 8 sizes x 7 warehouses = 504 variants
WATCH_HTML = ('<div class="detailmodule_html"><p style="color:red">Luxury <b>watch</b></p>'
              '<script>steal()</script><img src="https://ae01.alicdn.com/kf/Sdetail.jpg" onerror="x()">'
              '<img src="https://www.google-analytics.com/collect?tid=1" width="1" height="1">'
              '<div class="store-promotion"><p>Coupon inside</p></div><p>Welcome to my store!</p></div>')
WATCH_SKUS = [
    {"sku_id": "12000044382493157", "sku_attr": "14:200005100#984 Gold Blue;200007763:201336100#China",
     "price": "17.50", "list_price": "175.01", "stock": 3373,
     "images": {"200005100": "https://ae01.alicdn.com/kf/Sgoldblue.jpg"}},
    {"sku_id": "12000044382493158", "sku_attr": "14:193#984 Silver Black;200007763:201336100#China",
     "price": "17.20", "list_price": "172.00", "stock": 40},
    {"sku_id": "12000044382493159", "sku_attr": "14:200005100#984 Gold Blue;200007763:201336103#Germany",
     "price": "19.90", "list_price": "199.00", "stock": 12},
    {"sku_id": "12000044382493160", "sku_attr": "14:193#984 Silver Black;200007763:201336103#Germany",
     "price": "19.60", "list_price": "196.00", "stock": 0},
]


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def seed_catalog(sim: AliExpressSimulator) -> None:
    sim.seed_product(WATCH, subject="POEDAGAR Luxury Fashion Men Watch", store_id="1103800100",
                     store_name="POEDAGAR Official Store", skus=WATCH_SKUS, detail=WATCH_HTML,
                     image_urls=["https://ae01.alicdn.com/kf/S6809b8.jpg", "https://ae01.alicdn.com/kf/S0b2dc9.jpg",
                                 "https://ae01.alicdn.com/kf/S77aa01.jpg"],
                     freight={"CAINIAO_STANDARD": "1.50", "CAINIAO_FULFILLMENT_STD": "2.90"})
    sim.seed_product(JUICER, subject="Mini Electric Juicer 400ml", store_id="1102923213",
                     store_name="Isfriday CH Store", omit_sku_attr=True,
                     skus=[{"sku_id": "12000035530517031", "sku_attr": "14:200006151#400ml", "price": "10.94",
                            "list_price": "14.20", "stock": 492},
                           {"sku_id": "12000035530517032", "sku_attr": "14:200006152#600ml", "price": "12.40",
                            "stock": 80}])
    sim.seed_product(MUG, subject="Ceramic Mug", store_id="1103800200", store_name="Mug Store",
                     skus=[{"sku_id": "12000011111111111", "sku_attr": "", "price": "3.00", "stock": 500}])
    big = [{"sku_id": f"1300{c}{s}{w}", "sku_attr": f"14:{100 + c}#C{c};5:{200 + s}#S{s};200007763:{300 + w}#W{w}",
            "price": "4.00", "stock": 10} for c in range(9) for s in range(8) for w in range(7)]
    sim.seed_product(BIG, subject="Everything T-shirt", store_id="1103800300", store_name="Shirts", skus=big)


@pytest.fixture
def ae() -> Iterator[AliExpressSimulator]:
    with AliExpressSimulator(app_key=APP_KEY, app_secret=APP_SECRET, seed=12) as sim:
        seed_catalog(sim)
        yield sim


@pytest.fixture
def sb() -> Iterator[ShopBaseSimulator]:
    with ShopBaseSimulator(seed=12) as sim:
        sim.create_shop(SHOP, access_token=SHOPBASE_TOKEN, webhook_secret="whsec-demo")
        yield sim


@pytest.fixture
def env(table: Any, ae: AliExpressSimulator, sb: ShopBaseSimulator,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ALIEXPRESS_GATEWAY_URL", ae.url)
    monkeypatch.setenv("SHOPBASE_BASE_URL", f"{sb.url}/shops/{{shop}}")
    monkeypatch.setenv("PRODUCTS_TABLE_NAME", PRODUCTS_TABLE)
    monkeypatch.setenv("ALIEXPRESS_CALLS_PER_SECOND", "200")
    monkeypatch.delenv("PLACE_ORDERS_QUEUE_URL", raising=False)
    wiring.reset()
    boto3.client("dynamodb").create_table(**table_create_args(load_template(), "ProductsTable", PRODUCTS_TABLE))
    boto3.client("secretsmanager").create_secret(Name=wiring.settings().app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": APP_KEY, "aliexpress_app_secret": APP_SECRET, "state_signing_key": "state-key"}))
    fast_shopbase()
    yield
    wiring.reset()


def fast_shopbase(**options: Any) -> None:
    """ShopBase clients without real sleeps in their retries, with a short read timeout (stall faults)."""
    wiring.override("shopbase_client_options", {"timeout": (1.0, 1.5), "sleep": lambda _: None,
                                                 "backoff_base": 0.01, **options})


@pytest.fixture
def connected(env: None, ae: AliExpressSimulator) -> str:
    wiring.shop_secrets().put(SHOP, {"webhook_secret": "whsec-demo", "shopbase_access_token": SHOPBASE_TOKEN,
                                     "api_token_sha256": hash_token(SELLER_TOKEN)})
    wiring.aliexpress_accounts().connect(SHOP, ae.issue_code())
    return SHOP


def call(context: Any, method: str, path: str, body: Any = None, query: str = "",
         token: str = SELLER_TOKEN) -> tuple[int, dict[str, Any]]:
    from functions.seller_api import app as seller_api

    event = http_event(method, path, headers={"authorization": f"Bearer {token}"}, query=query,
                       body=json.dumps(body) if body is not None else None)
    response = seller_api.lambda_handler(event, context)
    return int(response["statusCode"]), json.loads(response["body"])


class DynamoCalls:
    """DynamoDB requests per operation, counted at botocore (retries included) on the wired tables' clients."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._hooked: set[int] = set()

    def hook(self) -> DynamoCalls:
        for table in (wiring.table(), wiring.products_table()):
            client = table.meta.client
            if id(client) not in self._hooked:
                client.meta.events.register("before-call.dynamodb", self._count)
                self._hooked.add(id(client))
        return self

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


def aliexpress_calls(ae: AliExpressSimulator) -> dict[str, int]:
    return {k: v for k, v in ae.stats()["calls"].items() if k.startswith("aliexpress.")}


def shopbase_calls(sb: ShopBaseSimulator) -> dict[str, int]:
    return dict(sb.stats()["shops"][SHOP]["calls"])


def import_products(context: Any, *urls: str) -> dict[str, Any]:
    status, body = call(context, "POST", f"/shops/{SHOP}/products/import", {"urls": list(urls)})
    assert status == 200, body
    return body
