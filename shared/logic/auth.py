"""Seller API tokens: one per shop, stored only as a SHA-256 hash in the shop's secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shared.data.shops import get_shop_secrets


def new_api_token() -> tuple[str, str]:
    """A fresh token and its hash (store the hash, show the token once)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_valid_seller_token(shop: str, authorization: str | None) -> bool:
    if not authorization or not authorization.lower().startswith("bearer "):
        return False
    shop_secrets = get_shop_secrets(shop)
    if shop_secrets is None or not shop_secrets.api_token_sha256:
        return False
    presented = hash_token(authorization[7:].strip())
    return hmac.compare_digest(presented, shop_secrets.api_token_sha256)
