"""The app secret as the template creates it (AliExpress key and secret, the OAuth state key, from which the
seller API derives its pagination cursor key)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from shared import wiring
from shared.logic.auth import hash_token

STATE_KEY = "state-signing-key-for-integration-tests"


@pytest.fixture
def app_secret(table: Any) -> str:
    boto3.client("secretsmanager").create_secret(Name=wiring.settings().app_secret_name, SecretString=json.dumps(
        {"aliexpress_app_key": "set-me", "aliexpress_app_secret": "set-me", "state_signing_key": STATE_KEY}))
    return STATE_KEY


@pytest.fixture
def tokens(shop: str, app_secret: str) -> dict[str, str]:
    """Seller API tokens of the demo shop and of another shop (each only good for its own shop)."""
    secrets = wiring.shop_secrets()
    secrets.put(shop, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token("tok-demo")})
    secrets.put("other-store", {"webhook_secret": "whsec-other", "api_token_sha256": hash_token("tok-other")})
    return {shop: "tok-demo", "other-store": "tok-other"}
