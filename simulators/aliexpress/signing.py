"""Request verification as the real gateway does it: the HMAC-SHA256 `sign` over the sorted parameters, and
the `timestamp` window.

Written independently of shared.aliexpress.signing on purpose: a shared bug would otherwise pass.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from simulators.aliexpress.protocol import SimError


def expected_sign(params: Mapping[str, str], secret: str, api: str) -> str:
    """Upper-case hex HMAC-SHA256 of (system APIs only: the API path) + every `key value` but sign, sorted."""
    text = (api if "/" in api else "") + "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def check_signature(params: Mapping[str, str], secret: str, api: str) -> None:
    given = params.get("sign", "")
    if params.get("sign_method", "").lower() != "sha256" or not hmac.compare_digest(
        given.upper().encode(), expected_sign(params, secret, api).encode()
    ):
        raise SimError("IncompleteSignature", "The request signature does not conform to platform standards")


def check_timestamp(params: Mapping[str, str], reference: float, tolerance: float) -> None:
    """`timestamp` (epoch ms, or "yyyy-MM-dd HH:mm:ss" UTC) within `tolerance` seconds of `reference`."""
    sent_at = parse_timestamp(params.get("timestamp", ""))
    if sent_at is None or abs(sent_at - reference) > tolerance:
        raise SimError("InvalidTimestamp", "The specified timestamp is invalid or out of range")


def parse_timestamp(raw: str) -> float | None:
    raw = raw.strip()
    if raw.isdigit():
        return int(raw) / 1000.0
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
