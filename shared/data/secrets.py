"""Secrets Manager: the per-shop secrets and the app's own credentials (cached, never logged).

  secret "<SHOP_SECRET_PREFIX><shop>" = ShopSecrets {"webhook_secret", "shopbase_access_token", "api_token_sha256"}
  secret "<APP_SECRET_NAME>"          = AppCredentials {"aliexpress_app_key", "aliexpress_app_secret",
                                                         "state_signing_key"}

Reads go through Powertools' parameters cache (one per process, SECRET_MAX_AGE_SECONDS), so the webhook's
common path reads Secrets Manager once per container and shop. (The AliExpress OAuth tokens are not read
here: see shared.data.aliexpress_tokens, which must always see the newest pair.)
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.models.shop import ShopSecrets, is_valid_shop


class AppCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    aliexpress_app_key: str
    aliexpress_app_secret: SecretStr
    state_signing_key: SecretStr


class ShopSecretStore:
    def __init__(self, client: Any, prefix: str, max_age: int) -> None:
        self._client = client
        self._prefix = prefix
        self._max_age = max_age

    def name(self, shop: str) -> str:
        return f"{self._prefix}{shop}"

    def get(self, shop: str) -> ShopSecrets | None:
        """The shop's secrets, cached for max_age seconds; None for an unknown (or impossible) shop."""
        if not is_valid_shop(shop):
            return None
        try:
            raw = parameters.get_secret(self.name(shop), transform="json", max_age=self._max_age)
        except parameters.exceptions.GetParameterError:
            return None
        return ShopSecrets.model_validate(raw)

    def put(self, shop: str, secrets: dict[str, Any]) -> None:
        """Create or replace a shop's secret (onboarding, rotation); the next read sees it."""
        name, body = self.name(shop), json.dumps(secrets)
        try:
            self._client.create_secret(Name=name, SecretString=body)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceExistsException":
                raise
            self._client.put_secret_value(SecretId=name, SecretString=body)
        parameters.clear_caches()


class AppSecretStore:
    def __init__(self, name: str, max_age: int) -> None:
        self._name = name
        self._max_age = max_age

    def get(self) -> AppCredentials:
        """The app's credentials, cached for max_age seconds."""
        raw = parameters.get_secret(self._name, transform="json", max_age=self._max_age)
        return AppCredentials.model_validate(raw)
