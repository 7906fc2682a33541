"""Secrets Manager: the per-shop secrets and the app's own credentials (cached, never logged).

  secret "<SHOP_SECRET_PREFIX><shop>" = ShopSecrets {"webhook_secret", "shopbase_access_token", "api_token_sha256"}
  secret "<APP_SECRET_NAME>"          = AppCredentials {"aliexpress_app_key", "aliexpress_app_secret",
                                                         "state_signing_key"}

Reads go through Powertools' parameters cache (one per process, SECRET_MAX_AGE_SECONDS), so the webhook's
common path reads Secrets Manager once per container and shop. A shop with NO secret is remembered for as
long (Powertools caches only what it found): otherwise every request naming an unknown shop waited for
Secrets Manager while a known shop's was answered from memory, and the difference (13 ms vs 4 ms) told which
shops exist. (The AliExpress OAuth tokens are not read here: see shared.data.aliexpress_tokens, which must
always see the newest pair.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr

from shared.models.shop import ShopSecrets, is_valid_shop


class AppCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    aliexpress_app_key: str
    aliexpress_app_secret: SecretStr
    state_signing_key: SecretStr


# Unknown shops remembered per process: bounded, oldest forgotten first (a flood of random names costs memory
# only up to this; each name beyond it is simply looked up again).
MAX_UNKNOWN_SHOPS = 10_000


class _UnknownShops:
    """Secret names Secrets Manager had nothing for, process-wide like Powertools' cache and forgotten with it:
    `parameters.clear_caches()` (onboarding, `put`, the wiring's reset) drops Powertools' provider, and a new
    provider means a new, empty list here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: object | None = None
        self._names: dict[str, float] = {}

    def _current(self) -> dict[str, float]:
        owner = DEFAULT_PROVIDERS.get("secrets")
        if owner is not self._owner:
            self._owner, self._names = owner, {}
        return self._names

    def known_missing(self, name: str, now: float, max_age: float) -> bool:
        with self._lock:
            missed_at = self._current().get(name)
        return missed_at is not None and now - missed_at < max_age

    def add(self, name: str, now: float) -> None:
        with self._lock:
            names = self._current()
            names.pop(name, None)
            while len(names) >= MAX_UNKNOWN_SHOPS:
                names.pop(next(iter(names)))
            names[name] = now

    def forget(self, name: str) -> None:
        with self._lock:
            self._current().pop(name, None)


_UNKNOWN = _UnknownShops()


def _no_such_secret(error: Exception) -> bool:
    """Secrets Manager said the secret does not exist (Powertools wraps its ClientError, raised while handling
    it, in GetParameterError)."""
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ClientError):
        return bool(cause.response.get("Error", {}).get("Code") == "ResourceNotFoundException")
    return "ResourceNotFoundException" in str(error)


class ShopSecretStore:
    def __init__(self, client: Any, prefix: str, max_age: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._prefix = prefix
        self._max_age = max_age
        self._monotonic = monotonic

    def name(self, shop: str) -> str:
        return f"{self._prefix}{shop}"

    def get(self, shop: str) -> ShopSecrets | None:
        """The shop's secrets, cached for max_age seconds; None for an unknown (or impossible) shop, also
        cached for max_age seconds, so an unknown shop costs no more than a known one."""
        if not is_valid_shop(shop):
            return None
        name, now = self.name(shop), self._monotonic()
        if _UNKNOWN.known_missing(name, now, self._max_age):
            return None
        try:
            raw = parameters.get_secret(name, transform="json", max_age=self._max_age)
        except parameters.exceptions.GetParameterError as error:
            if self._max_age > 0 and _no_such_secret(error):
                _UNKNOWN.add(name, now)  # only a real "no such secret": a passing failure is asked again
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
        _UNKNOWN.forget(name)


class AppSecretStore:
    def __init__(self, name: str, max_age: int) -> None:
        self._name = name
        self._max_age = max_age

    def get(self) -> AppCredentials:
        """The app's credentials, cached for max_age seconds."""
        raw = parameters.get_secret(self._name, transform="json", max_age=self._max_age)
        return AppCredentials.model_validate(raw)
