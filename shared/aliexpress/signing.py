"""AliExpress Open Platform request signing (`sign_method=sha256`), as documented in the DS API notes §3."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def sign(params: Mapping[str, str], secret: str, api_path: str | None = None) -> str:
    """Upper-case hex HMAC-SHA256 over `[api_path]name1value1name2value2…` (names sorted, `sign` excluded).

    Only system APIs (whose name contains '/', e.g. `/auth/token/create`) get the path prefix; business APIs
    carry their name in the signed `method` parameter instead.
    """
    parts: list[str] = []
    if api_path and "/" in api_path:
        parts.append(api_path)
    # Python's str ordering is code-point ordering, which equals byte order for the ASCII names used here.
    for name in sorted(params):
        if name == "sign":
            continue
        parts.append(f"{name}{params[name]}")
    message = "".join(parts).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()
