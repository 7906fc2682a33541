"""ShopBase webhook signatures: base64(HMAC-SHA256(secret, raw body bytes)), compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign_webhook(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_webhook(secret: str, body: bytes, signature: str | None) -> bool:
    """True only when `signature` is the exact signature of the received bytes."""
    if not signature:
        return False
    expected = sign_webhook(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii", "replace"))
