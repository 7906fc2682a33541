"""The operator's onboarding (local/onboarding.py) against moto (secrets, settings, token hash) and the ShopBase
simulator (webhooks registered once, re-running changes nothing, stale ones corrected, foreign ones untouched)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import boto3
import pytest

from local import onboarding
from local.onboarding import (
    WEBHOOK_TOPICS,
    InvalidInput,
    NotConfirmed,
    ShopExists,
    ShopNotFound,
    add_shop,
    connect_link,
    register_webhooks,
    remove_shop,
    rotate_seller_token,
    rotate_webhook_secret,
)
from local.template import ROOT, function_specs, load_template
from shared import wiring
from shared.shopbase.client import ShopBaseClient
from simulators.shopbase import ShopBaseSimulator
from tests.infra.conftest import API_URL, APP_SECRET, SHOP, SHOPBASE_TOKEN

OTHER_APP = "https://hooks.partner-app.io/shopbase/orders"


def stored_secret(shop: str = SHOP) -> dict[str, Any]:
    raw = boto3.client("secretsmanager").get_secret_value(SecretId=wiring.shop_secrets().name(shop))["SecretString"]
    return dict(json.loads(raw))


def authenticates(shop: str, token: str) -> bool:
    wiring.reset()  # a fresh container: no cached secret
    return wiring.seller_auth().is_valid(shop, f"Bearer {token}")


def hooks(sim: ShopBaseSimulator, shop: str = SHOP) -> list[tuple[int, str, str]]:
    return sorted((h["id"], h["topic"], h["address"]) for h in sim.webhooks(shop))


# ---------------------------------------------------------------- secrets, settings, tokens (moto)
def test_add_shop_stores_the_secret_the_settings_and_only_the_tokens_hash(table: Any) -> None:
    added = add_shop("Acme", shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET,
                     sender_email="orders@acme.example.com", auto_place=True)
    assert added.shop == SHOP and added.webhook_secret == APP_SECRET
    secret = stored_secret()
    assert set(secret) == {"webhook_secret", "shopbase_access_token", "api_token_sha256"}
    assert secret["webhook_secret"] == APP_SECRET and secret["shopbase_access_token"] == SHOPBASE_TOKEN
    assert secret["api_token_sha256"] == hashlib.sha256(added.seller_token.encode()).hexdigest()
    assert added.seller_token not in json.dumps(secret)
    settings = wiring.shops().get_settings(SHOP)
    assert settings is not None and settings.auto_place and settings.sender_email == "orders@acme.example.com"
    assert not settings.aliexpress_connected
    assert authenticates(SHOP, added.seller_token) and not authenticates(SHOP, "guess")


def test_an_existing_shop_is_refused_and_left_as_it_was(table: Any) -> None:
    first = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    with pytest.raises(ShopExists, match="replace"):
        add_shop(SHOP, shopbase_token="another", webhook_secret="another")
    assert stored_secret()["shopbase_access_token"] == SHOPBASE_TOKEN
    assert authenticates(SHOP, first.seller_token)


def test_replace_overwrites_the_secrets_and_keeps_the_connection_state(table: Any) -> None:
    first = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET, sender_email="a@acme.io")
    wiring.shops().update_settings(SHOP, aliexpress_connected=True)
    second = add_shop(SHOP, shopbase_token="shpat_new", webhook_secret=APP_SECRET, replace=True)
    assert stored_secret()["shopbase_access_token"] == "shpat_new"
    assert authenticates(SHOP, second.seller_token) and not authenticates(SHOP, first.seller_token)
    settings = wiring.shops().get_settings(SHOP)
    assert settings is not None and settings.aliexpress_connected and settings.sender_email == "a@acme.io"


@pytest.mark.parametrize(("shop", "token", "email", "message"), [
    ("not a shop!", SHOPBASE_TOKEN, None, "shop handle"),
    (SHOP, "  ", None, "token is empty"),
    (SHOP, SHOPBASE_TOKEN, "nobody", "not an email"),
])
def test_bad_input_is_refused_and_creates_nothing(table: Any, shop: str, token: str, email: str | None,
                                                  message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        add_shop(shop, shopbase_token=token, sender_email=email)
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []
    assert table.scan()["Items"] == []


def test_a_generated_webhook_secret_is_returned(table: Any) -> None:
    added = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN)
    assert len(added.webhook_secret) >= 32 and stored_secret()["webhook_secret"] == added.webhook_secret


def test_rotating_the_seller_token_changes_only_the_hash(table: Any) -> None:
    first = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    token = rotate_seller_token(SHOP)
    assert token != first.seller_token
    assert authenticates(SHOP, token) and not authenticates(SHOP, first.seller_token)
    secret = stored_secret()
    assert (secret["webhook_secret"], secret["shopbase_access_token"]) == (APP_SECRET, SHOPBASE_TOKEN)


def test_rotating_the_webhook_secret_stores_shopbases_new_one(table: Any) -> None:
    first = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    assert rotate_webhook_secret(SHOP, webhook_secret="rotated-on-shopbase") == "rotated-on-shopbase"
    secret = stored_secret()
    assert secret["webhook_secret"] == "rotated-on-shopbase" and secret["shopbase_access_token"] == SHOPBASE_TOKEN
    assert authenticates(SHOP, first.seller_token)
    wiring.reset()
    found = wiring.shop_secrets().get(SHOP)
    assert found is not None and found.webhook_secret.get_secret_value() == "rotated-on-shopbase"


def test_unknown_shops_are_named(table: Any) -> None:
    for call in (lambda: rotate_seller_token("ghost"), lambda: rotate_webhook_secret("ghost"),
                 lambda: connect_link("ghost", API_URL), lambda: register_webhooks("ghost", API_URL),
                 lambda: remove_shop("ghost", confirm="ghost")):
        with pytest.raises(ShopNotFound, match="ghost"):
            call()


def test_connect_link_is_the_connect_route(table: Any) -> None:
    add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN)
    assert connect_link(SHOP, API_URL + "/") == f"{API_URL}/connect/aliexpress?shop=acme"
    with pytest.raises(InvalidInput, match="ApiUrl"):
        connect_link(SHOP, "not-a-url")


# ---------------------------------------------------------------- webhooks (ShopBase simulator)
def test_webhooks_are_registered_once_and_a_rerun_changes_nothing(shopbase: ShopBaseSimulator) -> None:
    add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    first = register_webhooks(SHOP, API_URL)
    assert [(c.topic, c.action) for c in first] == [(t, "created") for t in WEBHOOK_TOPICS]
    registered = hooks(shopbase)
    assert sorted((topic, address) for _, topic, address in registered) == sorted(
        (t, f"{API_URL}/webhooks/shopbase/acme/{t}") for t in WEBHOOK_TOPICS)
    again = register_webhooks(SHOP, API_URL)
    assert {c.action for c in again} == {"kept"}
    assert hooks(shopbase) == registered  # same ids: nothing created, nothing deleted


def test_a_stale_address_is_corrected_and_other_apps_hooks_are_untouched(shopbase: ShopBaseSimulator) -> None:
    add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    client = ShopBaseClient(SHOP, access_token=SHOPBASE_TOKEN, base_url=shopbase.shop_url(SHOP))
    old_api = "https://0ld0ld0ld0.execute-api.us-east-1.amazonaws.com/prod"
    client.register_webhook("orders/paid", f"{old_api}/webhooks/shopbase/acme/orders/paid")
    client.register_webhook("orders/paid", OTHER_APP)
    changes = {c.topic: c.action for c in register_webhooks(SHOP, API_URL)}
    assert changes.pop("orders/paid") == "corrected" and set(changes.values()) == {"created"}
    paid = sorted(h["address"] for h in shopbase.webhooks(SHOP) if h["topic"] == "orders/paid")
    assert paid == sorted([f"{API_URL}/webhooks/shopbase/acme/orders/paid", OTHER_APP])
    assert len(shopbase.webhooks(SHOP)) == len(WEBHOOK_TOPICS) + 1


# ---------------------------------------------------------------- removal
def _seed_items(table: Any) -> None:
    for sk in ("ORDER#0000001001", "ORDER#0000001002", "LINK#v1", "EMAIL#1001#YT1"):
        table.put_item(Item={"pk": "SHOP#acme", "sk": sk})
    table.put_item(Item={"pk": "SHOP#other", "sk": "ORDER#0000000001"})


def test_remove_needs_the_shops_name_and_changes_nothing_without_it(shopbase: ShopBaseSimulator,
                                                                     table: Any) -> None:
    add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    register_webhooks(SHOP, API_URL)
    _seed_items(table)
    with pytest.raises(NotConfirmed):
        remove_shop(SHOP, confirm="yes")
    assert len(table.scan()["Items"]) == 6 and len(shopbase.webhooks(SHOP)) == len(WEBHOOK_TOPICS)
    assert stored_secret()["shopbase_access_token"] == SHOPBASE_TOKEN


def test_remove_deletes_the_shops_webhooks_data_and_secrets(shopbase: ShopBaseSimulator, table: Any) -> None:
    added = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    register_webhooks(SHOP, API_URL)
    ShopBaseClient(SHOP, access_token=SHOPBASE_TOKEN, base_url=shopbase.shop_url(SHOP)).register_webhook(
        "orders/paid", OTHER_APP)
    _seed_items(table)
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name=wiring.aliexpress_tokens().name(SHOP), SecretString="{}")

    removed = remove_shop(SHOP, confirm=SHOP)
    assert (removed.orders, removed.links, removed.other_items) == (2, 1, 2)  # + SETTINGS and EMAIL#
    assert removed.webhooks == len(WEBHOOK_TOPICS) and removed.webhook_problem is None
    assert set(removed.secrets) == {"dropship/shops/acme", "dropship/aliexpress/acme"}
    assert [h["address"] for h in shopbase.webhooks(SHOP)] == [OTHER_APP]
    assert table.scan()["Items"] == [{"pk": "SHOP#other", "sk": "ORDER#0000000001"}]
    for name in removed.secrets:
        assert sm.describe_secret(SecretId=name).get("DeletedDate") is not None  # recoverable for 7 days
    assert not authenticates(SHOP, added.seller_token)
    with pytest.raises(ShopNotFound):
        remove_shop(SHOP, confirm=SHOP)
    # Adding it back: refused while its secret awaits deletion, restored and overwritten with replace.
    with pytest.raises(ShopExists, match="removed on"):
        add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET)
    again = add_shop(SHOP, shopbase_token=SHOPBASE_TOKEN, webhook_secret=APP_SECRET, replace=True)
    assert authenticates(SHOP, again.seller_token)


# ---------------------------------------------------------------- targets and packaging
def test_the_topics_are_every_webhook_route_of_the_template() -> None:
    [webhook] = [s for s in function_specs(load_template()) if s.logical_id == "WebhookOrderFunction"]
    prefix = "/webhooks/shopbase/{shop}/"
    routed = {e.properties["Path"].removeprefix(prefix) for e in webhook.events_of("HttpApi")}
    assert set(WEBHOOK_TOPICS) == routed


def test_a_deployed_stack_is_found_by_its_outputs(aws: None) -> None:
    outputs = {"ApiUrl": API_URL, "OrdersTableName": "dropship-dev-OrdersTable-X",
               "ShopSecretPrefix": "dropship/dev/shops/", "AliExpressTokenPrefix": "dropship/dev/aliexpress/",
               "AppSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dropship/dev/app-AbCdEf",
               "ShopBaseBaseUrl": "https://{shop}.onshopbase.com"}
    template = {"Resources": {"Nothing": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    boto3.client("cloudformation").create_stack(StackName="dropship-dev", TemplateBody=json.dumps(template))
    target = onboarding.stack_target("dropship-dev")
    assert target.api_url == API_URL
    assert target.environment == {"TABLE_NAME": outputs["OrdersTableName"],
                                  "SHOP_SECRET_PREFIX": "dropship/dev/shops/",
                                  "ALIEXPRESS_TOKEN_PREFIX": "dropship/dev/aliexpress/",
                                  "APP_SECRET_NAME": outputs["AppSecretArn"],
                                  "SHOPBASE_BASE_URL": "https://{shop}.onshopbase.com"}
    with pytest.raises(onboarding.OnboardingError, match="no-such-stack"):
        onboarding.stack_target("no-such-stack")


def test_the_template_outputs_what_a_target_needs() -> None:
    outputs = load_template()["Outputs"]
    for key in ("ApiUrl", "OrdersTableName", "ShopSecretPrefix", "AliExpressTokenPrefix", "AppSecretArn",
                "ShopBaseBaseUrl", "AliExpressCallbackUrl"):
        assert key in outputs, key
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert outputs["ShopSecretPrefix"]["Value"] == env["SHOP_SECRET_PREFIX"]
    assert outputs["AliExpressTokenPrefix"]["Value"] == env["ALIEXPRESS_TOKEN_PREFIX"]


def test_a_local_stack_is_found_by_its_state_file() -> None:
    state = {"api": "http://127.0.0.1:8100", "moto": "http://127.0.0.1:8101",
             "env": {"TABLE_NAME": "dropship-local-OrdersTable", "SHOP_SECRET_PREFIX": "dropship/prod/shops/"}}
    target = onboarding.local_target(state)
    assert target.api_url == "http://127.0.0.1:8100"
    assert target.environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8101"
    assert target.environment["TABLE_NAME"] == "dropship-local-OrdersTable"
    with pytest.raises(onboarding.OnboardingError, match="dropship run"):
        onboarding.local_target({})


def test_onboarding_imports_neither_moto_nor_yaml() -> None:
    """`pip install .` without the [local] extra has neither: the operator's commands must not need them."""
    code = "import sys, local.onboarding; bad = {'moto', 'yaml'} & set(sys.modules); sys.exit(', '.join(bad) or None)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
