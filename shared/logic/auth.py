"""Seller API tokens: one per shop, stored only as a SHA-256 hash in the shop's secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol

from shared.models.errors import NotAuthorized
from shared.models.shop import ShopSecrets


class ShopSecretReader(Protocol):
    """What the use cases need of shared.data.secrets.ShopSecretStore."""

    def get(self, shop: str) -> ShopSecrets | None: ...


def new_api_token() -> tuple[str, str]:
    """A fresh token and its hash (store the hash, show the token once)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SellerAuth:
    """The check in front of every /shops/{shop}/ route and the AliExpress connect flow."""

    def __init__(self, secrets: ShopSecretReader) -> None:
        self._secrets = secrets

    def is_valid(self, shop: str, authorization: str | None) -> bool:
        if not authorization or not authorization.lower().startswith("bearer "):
            return False
        shop_secrets = self._secrets.get(shop)
        if shop_secrets is None or not shop_secrets.api_token_sha256:
            return False
        presented = hash_token(authorization[7:].strip())
        return hmac.compare_digest(presented, shop_secrets.api_token_sha256)

    def require(self, shop: str, authorization: str | None) -> None:
        """NotAuthorized unless `authorization` is "Bearer <this shop's token>" (the same answer for any failure)."""
        if not self.is_valid(shop, authorization):
            raise NotAuthorized()
