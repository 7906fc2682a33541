"""Sync fixtures: the AliExpress simulator over HTTP, a connected shop, and orders placed on it for real."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from shared import wiring
from shared.aliexpress.client import AliExpressClient
from shared.data.aliexpress_tokens import AliExpressTokenStore, StoredToken
from shared.data.links import LinkRepository
from shared.data.orders import OrderRepository
from shared.data.sync_runs import SyncQueue
from shared.logic.accounts import AliExpressAccounts
from shared.logic.order_sync import OrderSyncer
from shared.logic.rate_budget import RateBudget
from shared.logic.sync_runs import RunDeps
from shared.models.order import AeOrder, LineItem, Order, OrderStatus
from shared.models.shop import Link
from simulators.aliexpress import AliExpressSimulator

APP_KEY = "500777"
APP_SECRET = "sync-sim-secret"
BOTTLE = "1005008453688391"
BOTTLE_SILVER = "12000037020000371"
BOTTLE_BLACK = "12000037020000372"
SKIRT = "1005006001234567"
SKIRT_SKU = "12000036000000001"
ADDRESS = {"address": "1 Main St", "city": "Austin", "province": "Texas", "country": "US", "zip": "78701",
           "full_name": "Jo Doe", "mobile_no": "5125550100", "phone_country": "+1"}
SKU_ATTR = {BOTTLE_SILVER: "14:193#Silver", BOTTLE_BLACK: "14:175#Black", SKIRT_SKU: ""}
PRODUCT_OF = {BOTTLE_SILVER: BOTTLE, BOTTLE_BLACK: BOTTLE, SKIRT_SKU: SKIRT}


class WriteCounter:
    """Counts DynamoDB writes to order items (pk SHOP#…, sk ORDER#…) via botocore's event hooks."""

    WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")

    def __init__(self) -> None:
        self.order_writes = 0
        self.all_writes = 0

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in self.WRITES:
            return
        self.all_writes += 1
        text = json.dumps(params, default=str)
        if '"ORDER#' in text:
            self.order_writes += 1

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self)


@dataclass
class World:
    sim: AliExpressSimulator
    shop: str
    token: str
    client: AliExpressClient
    accounts: AliExpressAccounts
    orders: OrderRepository
    syncer: OrderSyncer
    links: LinkRepository
    budget: RateBudget
    writes: WriteCounter
    seq: list[int] = field(default_factory=lambda: [1000])

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.now(), UTC)

    def place(self, lines: list[tuple[str, int]], *, order_id: str | None = None, pay: bool = False) -> Order:
        """A store order with one line per (sku, quantity), placed on the simulator, stored awaiting_payment."""
        self.seq[0] += 1
        oid = order_id or str(self.seq[0])
        line_items = [LineItem(id=f"{oid}-{i}", variant_id=f"v-{sku}", product_id=f"p-{sku}", quantity=qty,
                               title=f"item {sku}") for i, (sku, qty) in enumerate(lines)]
        for sku, _ in lines:
            self.links.put(Link(shop=self.shop, variant_id=f"v-{sku}", product_id=PRODUCT_OF[sku],
                                sku_attr=SKU_ATTR[sku], sku_id=sku))
        ae_ids = self.client.create_order(
            self.token, out_order_id=f"sb-{oid}", logistics_address=ADDRESS,
            product_items=[{"product_id": PRODUCT_OF[sku], "product_count": qty, "sku_attr": SKU_ATTR[sku]}
                           for sku, qty in lines])
        ae_orders = []
        for ae_id in ae_ids:
            skus = {ln["sku_id"] for ln in self.sim.order(ae_id)["lines"]}
            ae_orders.append(AeOrder(ae_order_id=ae_id,
                                     line_item_ids=[li.id for li, (sku, _) in zip(line_items, lines, strict=True)
                                                    if sku in skus]))
        if pay:
            self.sim.pay(ae_ids)
        order = Order(shop=self.shop, order_id=oid, name=f"#{oid}", status=OrderStatus.AWAITING_PAYMENT,
                      created_at=self.now(), line_items=line_items, ae_orders=ae_orders)
        stored = self.orders.mutate(self.shop, oid, lambda _: order, assume_absent=True).order
        assert stored is not None
        return stored

    def get(self, order_id: str) -> Order:
        order = self.orders.get(self.shop, order_id)
        assert order is not None
        return order


@pytest.fixture
def sim() -> Iterator[AliExpressSimulator]:
    with AliExpressSimulator(app_key=APP_KEY, app_secret=APP_SECRET, seed=42) as simulator:
        simulator.seed_product(BOTTLE, store_id="1103800006", store_name="Bottles", subject="Bottle",
                               skus=[{"sku_id": BOTTLE_SILVER, "sku_attr": SKU_ATTR[BOTTLE_SILVER], "stock": 10**6},
                                     {"sku_id": BOTTLE_BLACK, "sku_attr": SKU_ATTR[BOTTLE_BLACK], "stock": 10**6}])
        simulator.seed_product(SKIRT, store_id="1102000777", store_name="Skirts", subject="Skirt",
                               skus=[{"sku_id": SKIRT_SKU, "sku_attr": "", "stock": 10**6}])
        yield simulator


def tokens() -> AliExpressTokenStore:
    return AliExpressTokenStore(wiring.aws_client("secretsmanager"), wiring.settings().aliexpress_token_prefix)


def connect(sim: AliExpressSimulator, shop: str) -> str:
    issued = sim.issue_token(expires_in=365 * 86400, refresh_expires_in=400 * 86400)
    now_ms = int(sim.now() * 1000)
    tokens().put(shop, StoredToken(
        access_token=issued["access_token"], refresh_token=issued["refresh_token"],
        expire_time=now_ms + 365 * 86400 * 1000, refresh_token_valid_time=now_ms + 400 * 86400 * 1000))
    wiring.shops().update_settings(shop, aliexpress_connected=True)
    return str(issued["access_token"])


@pytest.fixture
def world(table: Any, shop: str, sim: AliExpressSimulator) -> Iterator[World]:
    token = connect(sim, shop)
    budget = RateBudget(wiring.rate_budget_store(), calls_per_second=500, headroom=0)
    session = requests.Session()
    client = AliExpressClient(sim.url, APP_KEY, APP_SECRET, session=session, timeout=(2.0, 5.0),
                              before_call=budget, sleep=lambda _: None)
    accounts = AliExpressAccounts(client, tokens(), wiring.shops(), clock=time_source(sim))
    orders = wiring.orders()
    links = wiring.links()
    writes = WriteCounter()
    writes.attach(orders._table.meta.client)
    syncer = OrderSyncer(orders, accounts, links, clock=lambda: datetime.fromtimestamp(sim.now(), UTC))
    yield World(sim=sim, shop=shop, token=token, client=client, accounts=accounts, orders=orders, syncer=syncer,
                links=links, budget=budget, writes=writes)
    session.close()


def time_source(sim: AliExpressSimulator) -> Callable[[], float]:
    # Tokens live on the simulator's clock, which tests move forward; the client keeps signing with real
    # time (the simulator checks request timestamps against the real clock).
    return sim.now


@pytest.fixture
def queue_url(aws: None) -> str:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="sync-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url: str = sqs.create_queue(QueueName="sync", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    return url


@pytest.fixture
def run_deps(world: World, queue_url: str) -> RunDeps:
    return RunDeps(orders=world.orders, runs=wiring.sync_runs(), queue=SyncQueue(queue_url, wiring.aws_client("sqs")),
                   syncer=world.syncer, shards=wiring.settings().sync_shards, clock=world.now)
