"""The operator's onboarding of a shop, as plain functions over boto3 and the ShopBase Admin API.

The same calls work against a deployed stack (boto3's default credentials and region; `use(stack_target(name))`
points the wiring at the stack's table and secret names) and against the local runtime (the environment has
AWS_ENDPOINT_URL; `dropship run` does its demo shop with these very functions, see `local/world.py`).

Everything goes through the project's own code: the shop's secret through `wiring.shop_secrets()`, its
settings through `wiring.shops()`, ShopBase through `ShopBaseClient`. This module imports neither moto nor
PyYAML, so it works from a plain `pip install .`.

What each step stores:
  secret "<SHOP_SECRET_PREFIX><shop>" = {"webhook_secret", "shopbase_access_token", "api_token_sha256"}
      the seller token itself is returned once and never stored (only its SHA-256);
  item pk="SHOP#<shop>", sk="SETTINGS"  = ShopSettings (auto_place, sender_email, ...).

Removing a shop deletes everything of it: its webhooks on ShopBase (those pointing at this app's routes), every
item under its partition (settings, links, email ledger and its ORDERS: the orders are the seller's data and
carry its customers' addresses; an offboarded shop's orders would also stay in the sync index and be synced
with no AliExpress connection), and its two secrets (with Secrets Manager's 7-day recovery window). Export the
orders first if the seller wants them (GET /shops/{shop}/orders); within 35 days the table's point-in-time
recovery can still bring them back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets as token_source
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import boto3
from aws_lambda_powertools.utilities import parameters
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from shared import wiring
from shared.data.orders import shop_pk
from shared.logic.auth import new_api_token
from shared.models.shop import ShopSettings
from shared.shopbase.client import ShopBaseClient, normalize_shop
from shared.shopbase.errors import ShopBaseError, ShopBaseNotFound

# Every ShopBase topic infra/template.yaml routes (POST /webhooks/shopbase/{shop}/<topic>); a test keeps the
# two equal, so this module needs no YAML reader.
WEBHOOK_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "refunds/create",
)
WEBHOOK_ROUTE = "/webhooks/shopbase/{shop}/{topic}"
WEBHOOK_PATH = "/admin/webhooks/{webhook_id}.json"
SECRET_RECOVERY_DAYS = 7
LOCAL_REGION = "us-east-1"  # the local runtime's moto region (local/aws.py)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# ---------------------------------------------------------------- results and errors
@dataclass(frozen=True)
class AddedShop:
    shop: str
    seller_token: str  # shown once: only its SHA-256 is stored
    webhook_secret: str


@dataclass(frozen=True)
class WebhookChange:
    topic: str
    action: Literal["created", "kept", "corrected"]
    address: str


@dataclass(frozen=True)
class RemovedShop:
    shop: str
    orders: int
    links: int
    other_items: int  # settings, email ledger, attempt counters, sync-now gate
    secrets: tuple[str, ...]  # names scheduled for deletion
    webhooks: int  # deleted on ShopBase
    webhook_problem: str | None = None  # why ShopBase's webhooks could not be listed or deleted, if so


class OnboardingError(Exception):
    """A refused onboarding step; the message says what to do. Nothing was changed."""


class InvalidInput(OnboardingError):
    pass


class ShopExists(OnboardingError):
    pass


class ShopNotFound(OnboardingError):
    pass


class NotConfirmed(OnboardingError):
    pass


# ---------------------------------------------------------------- which stack
@dataclass(frozen=True)
class Target:
    """Where the onboarding writes: the API's URL and the environment the wiring reads."""

    api_url: str
    environment: dict[str, str] = field(default_factory=dict)


def stack_target(stack_name: str) -> Target:
    """A deployed stack, from its CloudFormation outputs (boto3's default credentials and region)."""
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise OnboardingError(f"stack {stack_name!r}: {error.response['Error'].get('Message', error)}") from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    needed = ("ApiUrl", "OrdersTableName", "ShopSecretPrefix", "AliExpressTokenPrefix", "AppSecretArn",
              "ShopBaseBaseUrl")
    missing = [key for key in needed if key not in outputs]
    if missing:
        raise OnboardingError(f"stack {stack_name!r} has no output {', '.join(missing)}: deploy this version first")
    return Target(outputs["ApiUrl"], {
        "TABLE_NAME": outputs["OrdersTableName"],
        "SHOP_SECRET_PREFIX": outputs["ShopSecretPrefix"],
        "ALIEXPRESS_TOKEN_PREFIX": outputs["AliExpressTokenPrefix"],
        "APP_SECRET_NAME": outputs["AppSecretArn"],
        "SHOPBASE_BASE_URL": outputs["ShopBaseBaseUrl"],
    })


def local_target(state: Mapping[str, Any]) -> Target:
    """A running local stack, from its state file: `dropship run` writes its API and moto URLs and the
    functions' environment ("env": table and secret names, the ShopBase simulator's URL) there."""
    if not state.get("api") or not state.get("moto"):
        raise OnboardingError("the state file names no running local stack: start one with `dropship run`")
    environment = {str(k): str(v) for k, v in (state.get("env") or {}).items()}
    environment.update({"AWS_ENDPOINT_URL": str(state["moto"]), "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                        "AWS_DEFAULT_REGION": LOCAL_REGION, "AWS_REGION": LOCAL_REGION,
                        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    return Target(str(state["api"]), environment)


def use(target: Target) -> None:
    """Point this process's wiring at `target` (sets the environment, forgets cached clients)."""
    os.environ.update(target.environment)
    wiring.reset()


# ---------------------------------------------------------------- add, rotate
def add_shop(shop: str, *, shopbase_token: str, webhook_secret: str | None = None, sender_email: str | None = None,
             auto_place: bool = False, replace: bool = False) -> AddedShop:
    """Create the shop's secret and settings; the seller token comes back once.

    `webhook_secret` is the secret ShopBase signs this shop's webhooks with: the public app's client secret, or
    the private app's shared secret. Generated when omitted, which is only right for a ShopBase you control
    (the simulator). An existing shop is refused unless `replace` (then secrets are overwritten, settings
    updated, a shop removed less than 7 days ago is restored first).
    """
    shop = _shop_name(shop)
    if not shopbase_token.strip():
        raise InvalidInput("the ShopBase access token is empty")
    if sender_email is not None and not _EMAIL.match(sender_email):
        raise InvalidInput(f"sender email {sender_email!r} is not an email address")
    seller_token, token_hash = new_api_token()
    webhook_secret = webhook_secret or token_source.token_hex(24)
    body = {"webhook_secret": webhook_secret, "shopbase_access_token": shopbase_token.strip(),
            "api_token_sha256": token_hash}
    store = wiring.shop_secrets()
    if replace:
        _restore_if_deleted(store.name(shop))
        store.put(shop, body)
        changes: dict[str, Any] = {"auto_place": auto_place}
        if sender_email is not None:
            changes["sender_email"] = sender_email
        wiring.shops().update_settings(shop, **changes)
    else:
        _create_secret(store.name(shop), body, shop)
        wiring.shops().put_settings(ShopSettings(shop=shop, auto_place=auto_place, sender_email=sender_email))
    return AddedShop(shop, seller_token, webhook_secret)


def rotate_seller_token(shop: str) -> str:
    """A new seller API token (the old one stops working within SECRET_MAX_AGE_SECONDS); shown once."""
    shop = _shop_name(shop)
    current = _read_secret(shop)
    token, token_hash = new_api_token()
    wiring.shop_secrets().put(shop, {**current, "api_token_sha256": token_hash})
    return token


def rotate_webhook_secret(shop: str, *, webhook_secret: str | None = None) -> str:
    """Store the secret ShopBase now signs this shop's webhooks with.

    ShopBase, not this app, chooses that secret (the app's client secret or the private app's shared secret):
    rotate it on ShopBase's side first, then store the new value here. Until both agree, deliveries are refused
    (401) and ShopBase retries them, so do the two steps together. Without `webhook_secret` a random one is
    stored: only for a ShopBase you control (the simulator).
    """
    shop = _shop_name(shop)
    current = _read_secret(shop)
    new_secret = webhook_secret or token_source.token_hex(24)
    if not new_secret.strip():
        raise InvalidInput("the webhook secret is empty")
    wiring.shop_secrets().put(shop, {**current, "webhook_secret": new_secret})
    return new_secret


# ---------------------------------------------------------------- ShopBase webhooks, AliExpress link
class AdminClient(ShopBaseClient):
    """The shop's ShopBase client plus the one call onboarding needs that the pipeline never makes."""

    def delete_webhook(self, webhook_id: int) -> None:
        self._request("DELETE", WEBHOOK_PATH, webhook_id=int(webhook_id))


def webhook_address(api_url: str, shop: str, topic: str) -> str:
    return _api_root(api_url) + WEBHOOK_ROUTE.format(shop=shop, topic=topic)


def register_webhooks(shop: str, api_url: str) -> list[WebhookChange]:
    """Subscribe every routed topic to this API (POST /admin/webhooks.json); safe to run again.

    A subscription already at the right address is kept; one of ours (our route path) at another address (an
    older API URL) is replaced: the new one is created before the old one is deleted, so no delivery is missed.
    Webhooks pointing anywhere else are never touched.
    """
    shop = _shop_name(shop)
    root = _api_root(api_url)
    client = _admin_client(shop)
    existing = client.list_webhooks()
    changes: list[WebhookChange] = []
    for topic in WEBHOOK_TOPICS:
        address = webhook_address(root, shop, topic)
        ours = [h for h in existing if h.topic == topic and _is_our_route(h.address, shop, topic)]
        stale = [h for h in ours if h.address != address]
        if len(stale) < len(ours):
            action: Literal["created", "kept", "corrected"] = "kept"
        else:
            client.register_webhook(topic, address)
            action = "corrected" if stale else "created"
        for hook in stale:
            _delete_quietly(client, hook.id)
        changes.append(WebhookChange(topic, action, address))
    return changes


def connect_link(shop: str, api_url: str) -> str:
    """The URL that starts the seller's AliExpress connection (the existing /connect/aliexpress?shop= route).

    It answers a redirect to AliExpress's consent page when called with the shop's seller token
    (`Authorization: Bearer <token>`), as the seller's app does; the consent page then comes back to the
    AliExpress callback URL registered in AliExpress's console.
    """
    shop = _shop_name(shop)
    if wiring.shop_secrets().get(shop) is None:
        raise ShopNotFound(f"shop {shop!r} is not onboarded: add it first")
    return f"{_api_root(api_url)}/connect/aliexpress?shop={quote(shop)}"


# ---------------------------------------------------------------- remove
def remove_shop(shop: str, *, confirm: str) -> RemovedShop:
    """Delete the shop's webhooks, data and secrets (see the module's docstring); `confirm` must be the shop."""
    shop = _shop_name(shop)
    if confirm != shop:
        raise NotConfirmed(f"removing {shop!r} deletes its orders and secrets: confirm with the shop's name")
    store = wiring.shop_secrets()
    try:
        current: dict[str, Any] | None = _read_secret(shop)
    except ShopNotFound:
        current = None
    webhooks, problem = (_remove_webhooks(shop, current) if current and current.get("shopbase_access_token")
                         else (0, None))
    counts = _delete_items(shop)
    names = [store.name(shop), wiring.aliexpress_tokens().name(shop)]
    deleted = tuple(name for name in names if _delete_secret(name))
    if current is None and not deleted and not sum(counts.values()):
        raise ShopNotFound(f"shop {shop!r} has no secret and no data here")
    parameters.clear_caches()
    return RemovedShop(shop, counts["orders"], counts["links"], counts["other"], deleted, webhooks, problem)


# ---------------------------------------------------------------- helpers
def _shop_name(shop: str) -> str:
    try:
        return normalize_shop(shop)
    except ValueError as error:
        raise InvalidInput(f"{shop!r} is not a ShopBase shop handle (e.g. demo-store)") from error


def _api_root(api_url: str) -> str:
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidInput(f"{api_url!r} is not the API's URL (the stack's ApiUrl output)")
    return api_url.strip().rstrip("/")


def _is_our_route(address: str | None, shop: str, topic: str) -> bool:
    return bool(address) and urlsplit(address or "").path.endswith(WEBHOOK_ROUTE.format(shop=shop, topic=topic))


def _admin_client(shop: str) -> AdminClient:
    found = wiring.shop_secrets().get(shop)
    if found is None or found.shopbase_access_token is None:
        raise ShopNotFound(f"shop {shop!r} is not onboarded (no secret with a ShopBase token): add it first")
    return _client_with_token(shop, found.shopbase_access_token.get_secret_value())


def _client_with_token(shop: str, token: str) -> AdminClient:
    base_url = wiring.settings().shopbase_base_url.format(shop=shop)
    return AdminClient(shop, access_token=token, base_url=base_url, **dict(wiring.shopbase_client_options()))


def _delete_quietly(client: AdminClient, webhook_id: int) -> None:
    with contextlib.suppress(ShopBaseNotFound):  # already gone: what we wanted
        client.delete_webhook(webhook_id)


def _remove_webhooks(shop: str, current: Mapping[str, Any]) -> tuple[int, str | None]:
    client = _client_with_token(shop, str(current["shopbase_access_token"]))
    try:
        hooks = [h for h in client.list_webhooks()
                 if h.topic in WEBHOOK_TOPICS and _is_our_route(h.address, shop, h.topic or "")]
        for hook in hooks:
            _delete_quietly(client, hook.id)
    except ShopBaseError as error:
        # An uninstalled app's token no longer works, and ShopBase then drops its webhooks itself.
        return 0, f"ShopBase webhooks not removed: {error}"
    return len(hooks), None


def _delete_items(shop: str) -> Counter[str]:
    table = wiring.table()
    counts: Counter[str] = Counter(orders=0, links=0, other=0)
    query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(shop_pk(shop)),
                             "ProjectionExpression": "pk, sk", "ConsistentRead": True}
    with table.batch_writer() as batch:  # batches of 25, unprocessed items retried
        while True:
            page = table.query(**query)
            for item in page.get("Items", []):
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                sk = str(item["sk"])
                counts["orders" if sk.startswith("ORDER#") else "links" if sk.startswith("LINK#") else "other"] += 1
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return counts


def _secrets_client() -> Any:
    return wiring.aws_client("secretsmanager")


def _read_secret(shop: str) -> dict[str, Any]:
    """The shop's secret as stored, read uncached (a rotation must not write back a stale copy)."""
    name = wiring.shop_secrets().name(shop)
    try:
        raw = _secrets_client().get_secret_value(SecretId=name)["SecretString"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ResourceNotFoundException", "InvalidRequestException"):
            raise ShopNotFound(f"shop {shop!r} is not onboarded (no secret {name}): add it first") from error
        raise
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise OnboardingError(f"secret {name} is not a JSON object: fix it by hand or add the shop with replace")
    return data


def _create_secret(name: str, body: Mapping[str, Any], shop: str) -> None:
    """One conditional write: creating the secret is what claims the shop."""
    client = _secrets_client()
    try:
        client.create_secret(Name=name, SecretString=json.dumps(body),
                             Description=f"ShopBase shop {shop}: webhook secret, ShopBase token, seller token hash")
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("ResourceExistsException", "InvalidRequestException"):
            raise
        removed = _deleted_date(name)
        if removed is not None:
            raise ShopExists(f"shop {shop!r} was removed on {removed:%Y-%m-%d} and can be restored for "
                             f"{SECRET_RECOVERY_DAYS} days: add it with replace to restore and overwrite it") from error
        raise ShopExists(f"shop {shop!r} is already onboarded: add it with replace to overwrite its secrets") from error
    parameters.clear_caches()


def _deleted_date(name: str) -> Any:
    try:
        return _secrets_client().describe_secret(SecretId=name).get("DeletedDate")
    except ClientError:
        return None


def _restore_if_deleted(name: str) -> None:
    if _deleted_date(name) is not None:
        _secrets_client().restore_secret(SecretId=name)


def _delete_secret(name: str) -> bool:
    """Schedule the secret's deletion; False when there is none (or its deletion is already scheduled)."""
    try:
        _secrets_client().delete_secret(SecretId=name, RecoveryWindowInDays=SECRET_RECOVERY_DAYS)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ResourceNotFoundException" or (code == "InvalidRequestException" and _deleted_date(name)):
            return False
        raise
    return True
