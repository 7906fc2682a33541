"""OAuth: the account that logs in, single-use authorization codes, access/refresh token pairs and their
lifetimes on the simulated clock, and the token-API response body."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from simulators.aliexpress.config import SimConfig
from simulators.aliexpress.protocol import ControlError, SimError


@dataclass
class SimAccount:
    user_id: str = "2200000000001"
    seller_id: str = "2200000000001"
    account_id: str = "2200000000001"
    account: str = "buyer@example.com"
    account_platform: str = "buyerApp"
    user_nick: str = "us1000000001"


@dataclass
class SimToken:
    access_token: str
    refresh_token: str
    account: SimAccount
    expires_at: float
    refresh_expires_at: float
    revoked: bool = False
    refresh_used: bool = False


class TokenStore:
    """Codes and tokens by value, timed by `now` (the simulated clock). Not locked: SimState holds its lock
    around every call."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._account = SimAccount()
        self._codes: dict[str, tuple[SimAccount, float]] = {}
        self._tokens: dict[str, SimToken] = {}
        self._refresh: dict[str, SimToken] = {}

    def account_with(self, overrides: Mapping[str, Any] | None) -> SimAccount:
        """The OAuth account with some fields replaced (values as strings)."""
        return replace(self._account, **{k: str(v) for k, v in (overrides or {}).items()})

    def set_account(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        self._account = self.account_with(fields)
        return asdict(self._account)

    def issue_code(self, account: SimAccount, ttl: float) -> str:
        code = "3_" + secrets.token_hex(12)
        self._codes[code] = (account, self._now() + ttl)
        return code

    def issue(
        self,
        account: SimAccount,
        config: SimConfig,
        expires_in: float | None = None,
        refresh_expires_in: float | None = None,
    ) -> SimToken:
        """A new token pair (lifetimes default to the configured TTLs)."""
        now = self._now()
        tok = SimToken(
            access_token="50000" + secrets.token_hex(24),
            refresh_token="50001" + secrets.token_hex(24),
            account=account,
            expires_at=now + (config.access_token_ttl if expires_in is None else expires_in),
            refresh_expires_at=now + (config.refresh_token_ttl if refresh_expires_in is None else refresh_expires_in),
        )
        self._tokens[tok.access_token] = tok
        self._refresh[tok.refresh_token] = tok
        return tok

    def revoke(self, access_token: str | None, user_id: str | None) -> int:
        hit = [
            t
            for t in self._tokens.values()
            if t.access_token == access_token or (user_id is not None and t.account.user_id == str(user_id))
        ]
        for tok in hit:
            tok.revoked = True
        return len(hit)

    def expire(self, access_token: str) -> None:
        self._by_access_token(access_token).expires_at = self._now() - 1

    def expire_refresh(self, access_token: str | None, refresh_token: str | None) -> None:
        tok = self._refresh.get(refresh_token or "") or self._by_access_token(access_token or "")
        tok.refresh_expires_at = self._now() - 1

    def _by_access_token(self, access_token: str) -> SimToken:
        tok = self._tokens.get(access_token)
        if tok is None:
            raise ControlError("unknown access token")
        return tok

    def listing(self) -> list[dict[str, Any]]:
        """Token metadata for debugging; token values are abbreviated."""
        now = self._now()
        return [
            {
                "access_token": t.access_token[:8] + "…",
                "user_id": t.account.user_id,
                "expires_at": t.expires_at,
                "refresh_expires_at": t.refresh_expires_at,
                "revoked": t.revoked,
                "valid": not t.revoked and now < t.expires_at,
            }
            for t in self._tokens.values()
        ]

    def authenticate(self, access_token: str | None) -> SimAccount:
        tok = self._tokens.get(access_token or "")
        if tok is None or tok.revoked or self._now() >= tok.expires_at:
            raise SimError("IllegalAccessToken", "The specified access token is invalid or expired")
        return tok.account

    # ------------------------------------------------------------------ the token APIs

    def exchange_code(self, code: str, config: SimConfig) -> SimToken:
        """/auth/token/create: a code is single use, even when expired."""
        entry = self._codes.pop(code, None)
        if entry is None or self._now() >= entry[1]:
            raise SimError("InvalidCode", "The specified code is invalid or expired")
        return self.issue(entry[0], config)

    def refresh(self, refresh_token: str, config: SimConfig) -> SimToken:
        """/auth/token/refresh: a new pair; the old refresh token stops working if tokens rotate."""
        old = self._refresh.get(refresh_token)
        if old is None or old.revoked or old.refresh_used or self._now() >= old.refresh_expires_at:
            raise SimError("IllegalRefreshToken", "The specified refresh token is invalid or expired")
        if config.rotate_refresh_token:
            old.refresh_used = True
        return self.issue(old.account, config)

    def body(self, tok: SimToken, *, as_strings: bool) -> dict[str, Any]:
        """A token pair as the token APIs (and issue_token) answer it."""
        now = self._now()
        expires_in = max(0, round(tok.expires_at - now))
        refresh_in = max(0, round(tok.refresh_expires_at - now))

        # The real API mixes forms: lifetimes come back as strings, absolute times as numbers.
        def num(v: int, default_str: bool) -> int | str:
            return str(v) if as_strings or default_str else v

        return {
            "access_token": tok.access_token,
            "refresh_token": tok.refresh_token,
            "expires_in": num(expires_in, True),
            "refresh_expires_in": num(refresh_in, True),
            "expire_time": num(int(tok.expires_at * 1000), False),
            "refresh_token_valid_time": num(int(tok.refresh_expires_at * 1000), False),
            "user_id": tok.account.user_id,
            "seller_id": tok.account.seller_id,
            "account_id": tok.account.account_id,
            "account": tok.account.account,
            "account_platform": tok.account.account_platform,
            "user_nick": tok.account.user_nick,
            "sp": "ae",
            "locale": "en_US",
            "code": "0",
        }
