"""Per-shop configuration: secrets in Secrets Manager (cached, never logged), settings in the table.

  secret "<SHOP_SECRET_PREFIX><shop>" = {"webhook_secret", "shopbase_access_token", "api_token_sha256"}
  item   pk="SHOP#<shop>", sk="SETTINGS"  = ShopSettings
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.data.dynamo import BOTO_CONFIG, from_item, orders_table, to_item
from shared.data.orders import shop_pk
from shared.settings import get_settings

SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SETTINGS_SK = "SETTINGS"


class ShopSecrets(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    webhook_secret: SecretStr
    shopbase_access_token: SecretStr | None = None
    api_token_sha256: str | None = None


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shop: str
    auto_place: bool = False  # place new paid orders on AliExpress automatically
    notify_customer: bool = True  # ask ShopBase to email the customer on fulfillment
    send_tracking_email: bool = True  # our own email (off when the shop lets ShopBase send its own)
    sender_email: str | None = None
    aliexpress_connected: bool = False
    aliexpress_problem: str | None = None
    default_shipping_service: str | None = None


def is_valid_shop(shop: str) -> bool:
    return bool(SHOP_NAME.match(shop))


def get_shop_secrets(shop: str) -> ShopSecrets | None:
    """The shop's secrets, cached for SECRET_MAX_AGE_SECONDS; None for an unknown shop."""
    if not is_valid_shop(shop):
        return None
    settings = get_settings()
    try:
        raw = parameters.get_secret(f"{settings.shop_secret_prefix}{shop}", transform="json",
                                    max_age=settings.secret_max_age_seconds)
    except parameters.exceptions.GetParameterError:
        return None
    return ShopSecrets.model_validate(raw)


def clear_secret_cache() -> None:
    parameters.clear_caches()


def put_shop_secrets(shop: str, secrets: dict[str, Any]) -> None:
    """Create or replace a shop's secret (onboarding, rotation)."""
    client = boto3.client("secretsmanager", config=BOTO_CONFIG)
    name = f"{get_settings().shop_secret_prefix}{shop}"
    body = json.dumps(secrets)
    try:
        client.create_secret(Name=name, SecretString=body)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        client.put_secret_value(SecretId=name, SecretString=body)
    clear_secret_cache()


class ShopRepository:
    def __init__(self, table: Any | None = None) -> None:
        self._table = table if table is not None else orders_table()

    def get_settings(self, shop: str) -> ShopSettings | None:
        item = self._table.get_item(Key={"pk": shop_pk(shop), "sk": SETTINGS_SK}).get("Item")
        if not item:
            return None
        data = from_item(item)
        return ShopSettings.model_validate(data)

    def put_settings(self, settings: ShopSettings) -> None:
        item = to_item(settings.model_dump(mode="json"))
        item.update(pk=shop_pk(settings.shop), sk=SETTINGS_SK, entity="shop")
        self._table.put_item(Item=item)

    def update_settings(self, shop: str, **changes: Any) -> ShopSettings:
        """Set some fields of a shop's settings in one write (creating the item if needed)."""
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": value for i, value in enumerate(changes.values())}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(changes)))
        response = self._table.update_item(
            Key={"pk": shop_pk(shop), "sk": SETTINGS_SK},
            UpdateExpression=f"SET {sets}, #shop = :shop, #entity = :entity",
            ExpressionAttributeNames={**names, "#shop": "shop", "#entity": "entity"},
            ExpressionAttributeValues={**values, ":shop": shop, ":entity": "shop"},
            ReturnValues="ALL_NEW",
        )
        return ShopSettings.model_validate(from_item(response["Attributes"]))
