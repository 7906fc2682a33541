"""A seller's AliExpress connection: OAuth connect, token refresh, and loud disconnects.

Every AliExpress business call for a shop goes through `AliExpressAccounts.call(shop, fn)`:
- the access token is kept in memory until `refresh_margin` before its expiry, then refreshed proactively;
- `IllegalAccessToken` → one refresh, one retry;
- no token, a refused refresh, or a refused retry → the shop is marked disconnected (ShopSettings), the
  `AliExpressDisconnected` metric fires and `AliExpressDisconnected` is raised, so the caller flags its order
  with RECONNECT_ATTENTION. An expired connection never fails silently.
Transient failures (timeouts, 5xx, rate limit) are never taken for a disconnect: they propagate as is.

`AliExpressConnect` is the OAuth flow's use case: the signed, single-use state, the shop checks, the code
exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import SecretStr

from shared.aliexpress.client import AliExpressClient
from shared.aliexpress.errors import (
    AliExpressError,
    ApiCallLimitError,
    IllegalAccessTokenError,
    InvalidCodeError,
    ServiceUnavailableError,
    TransportError,
)
from shared.aliexpress.models import TokenResponse
from shared.data.aliexpress_tokens import AliExpressTokenStore, StoredToken
from shared.data.shops import ShopRepository
from shared.logic.auth import SellerAuth, ShopSecretReader
from shared.models.errors import BadRequest, NotFound, UpstreamFailed
from shared.models.order import Order
from shared.observability import logger, metrics

T = TypeVar("T")

# Refresh this long before the access token expires (test-mode apps get 24 h tokens).
REFRESH_MARGIN_SECONDS = 30 * 60
# Used when AliExpress gives no lifetime: short, so the next call refreshes rather than trusts it.
UNKNOWN_LIFETIME_SECONDS = 60 * 60
STATE_TTL_SECONDS = 10 * 60
RECONNECT_ATTENTION = "Reconnect AliExpress: the connection expired or was revoked, so this order cannot be handled."
TRANSIENT_ERRORS = (TransportError, ServiceUnavailableError, ApiCallLimitError)


class AliExpressDisconnected(Exception):
    """The shop has no working AliExpress connection: the seller must reconnect."""

    def __init__(self, shop: str, problem: str = "AliExpress connection expired or revoked") -> None:
        super().__init__(f"{shop}: {problem}")
        self.shop = shop
        self.problem = problem


class InvalidState(ValueError):
    """An OAuth `state` that is malformed, forged or expired."""


class AliExpressFailed(UpstreamFailed):
    """AliExpress refused or failed a call the seller asked for (a bad answer upstream, not our outage);
    `code` is AliExpress's."""

    def __init__(self, message: str, code: str, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.code = code


# ---------------------------------------------------------------- OAuth state

def _state_mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), f"aliexpress-connect|{message}".encode(), hashlib.sha256).hexdigest()


def sign_state(shop: str, key: str, now: float, ttl: int = STATE_TTL_SECONDS) -> str:
    """`<shop>.<expiry>.<nonce>.<hmac>`: binds the callback to the shop that started the flow, for `ttl` s."""
    message = f"{shop}.{int(now) + ttl}.{secrets.token_hex(8)}"
    return f"{message}.{_state_mac(key, message)}"


# What sign_state makes, and nothing else (ASCII only: str.isdigit() also takes "²" and Arabic-Indic digits).
STATE_SHAPE = re.compile(r"([a-z0-9][a-z0-9-]{0,62})\.([0-9]{1,12})\.([0-9a-f]{16})\.([0-9a-f]{64})", re.ASCII)
MAX_STATE_LENGTH = 200


@dataclass(frozen=True)
class VerifiedState:
    shop: str
    expires_at: int  # epoch seconds
    nonce: str  # what makes it single-use


def check_state(state: str, key: str, now: float) -> VerifiedState:
    """A valid, unexpired state's parts; InvalidState for anything else (never another exception)."""
    match = STATE_SHAPE.fullmatch(state) if len(state) <= MAX_STATE_LENGTH else None
    if match is None:
        raise InvalidState("state is malformed")
    shop, expiry, nonce, mac = match.groups()
    # Bytes, not str: compare_digest refuses str holding non-ASCII characters.
    if not hmac.compare_digest(_state_mac(key, f"{shop}.{expiry}.{nonce}").encode(), mac.encode()):
        raise InvalidState("state signature does not match")
    if int(expiry) < now:
        raise InvalidState("state expired: start the connection again")
    return VerifiedState(shop=shop, expires_at=int(expiry), nonce=nonce)


def verify_state(state: str, key: str, now: float) -> str:
    """The shop named by a valid, unexpired state; InvalidState otherwise."""
    return check_state(state, key, now).shop


class UsedStates(Protocol):
    """The single-use record of states (shared.data.oauth_states.OAuthStateStore)."""

    def use(self, shop: str, nonce: str, *, expires_at: int, now: int) -> bool: ...


# ---------------------------------------------------------------- accounts

def flag_reconnect(order: Order) -> Order | None:
    """The order marked "reconnect AliExpress" (attention keeps its tab); None when already flagged."""
    if order.attention == RECONNECT_ATTENTION:
        return None
    order.attention = RECONNECT_ATTENTION
    return order


class AliExpressAccounts:
    """Thread-safe; one per container (shared.wiring.aliexpress_accounts)."""

    def __init__(self, client: AliExpressClient, tokens: AliExpressTokenStore, shops: ShopRepository,
                 clock: Callable[[], float] = time.time, refresh_margin: float = REFRESH_MARGIN_SECONDS) -> None:
        self.client = client
        self._tokens = tokens
        self._shops = shops
        self._clock = clock
        self._margin_ms = int(refresh_margin * 1000)
        self._cache: dict[str, StoredToken] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------ public

    def call(self, shop: str, fn: Callable[[AliExpressClient, str], T]) -> T:
        token = self._current(shop)
        try:
            return fn(self.client, token.access_token.get_secret_value())
        except IllegalAccessTokenError:
            logger.warning("aliexpress access token refused; refreshing", extra={"shop": shop})
            fresh = self._refresh(shop, stale=token, force=True)
        try:
            return fn(self.client, fresh.access_token.get_secret_value())
        except IllegalAccessTokenError:
            # A token just issued and still refused: the authorization itself was revoked.
            raise self._disconnect(shop, "AliExpress refused a freshly refreshed token (authorization revoked)") \
                from None

    def connect(self, shop: str, code: str) -> StoredToken:
        """Exchange an authorization code, store the pair, mark the shop connected."""
        token = self._stored(self.client.create_token(code), previous=None)
        self._tokens.put(shop, token)
        with self._guard:
            self._cache[shop] = token
        self._shops.update_settings(shop, aliexpress_connected=True, aliexpress_problem=None)
        metrics.add_metric(name="AliExpressConnected", unit=MetricUnit.Count, value=1)
        logger.info("aliexpress connected", extra={"shop": shop})
        return token

    def forget(self, shop: str | None = None) -> None:
        """Drop cached tokens (tests, or after the seller disconnects)."""
        with self._guard:
            if shop is None:
                self._cache.clear()
            else:
                self._cache.pop(shop, None)

    # ------------------------------------------------------------ internals

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _lock(self, shop: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(shop, threading.Lock())

    def _fresh_enough(self, token: StoredToken) -> bool:
        return token.expire_time - self._margin_ms > self._now_ms()

    def _current(self, shop: str) -> StoredToken:
        with self._guard:
            cached = self._cache.get(shop)
        if cached is not None and self._fresh_enough(cached):
            return cached
        with self._lock(shop):
            token = self._cache.get(shop) or self._tokens.get(shop)
            if token is None:
                raise self._disconnect(shop, "AliExpress is not connected")
            if self._fresh_enough(token):
                self._remember(shop, token)
                return token
            try:
                return self._refresh_locked(shop, token)
            except TRANSIENT_ERRORS:
                # Proactive refresh failed for a passing reason: the old token still works until it expires.
                if token.expire_time > self._now_ms():
                    return token
                raise

    def _refresh(self, shop: str, stale: StoredToken, force: bool) -> StoredToken:
        with self._lock(shop):
            cached = self._cache.get(shop)
            if cached is not None and cached.access_token != stale.access_token:
                return cached  # another thread refreshed while we waited
            return self._refresh_locked(shop, stale, force=force)

    def _refresh_locked(self, shop: str, stale: StoredToken, force: bool = False) -> StoredToken:
        stored = self._tokens.get(shop)
        if stored is None:
            raise self._disconnect(shop, "AliExpress is not connected")
        if stored.access_token != stale.access_token and (
                self._fresh_enough(stored) or (force and stored.expire_time > self._now_ms())):
            # Another container already refreshed (a refresh token works once): use its pair.
            self._remember(shop, stored)
            return stored
        if stored.refresh_token_valid_time is not None and stored.refresh_token_valid_time <= self._now_ms():
            raise self._disconnect(shop, "AliExpress authorization expired")
        try:
            response = self.client.refresh_token(stored.refresh_token.get_secret_value())
        except TRANSIENT_ERRORS:
            raise
        except AliExpressError as error:
            again = self._tokens.get(shop)
            if again is not None and again.access_token != stored.access_token:
                self._remember(shop, again)  # lost a refresh race to another container
                return again
            raise self._disconnect(shop, f"AliExpress refused to refresh the connection ({error.code})") from error
        fresh = self._stored(response, previous=stored)
        self._tokens.put(shop, fresh)
        self._remember(shop, fresh)
        metrics.add_metric(name="AliExpressTokenRefreshed", unit=MetricUnit.Count, value=1)
        return fresh

    def _remember(self, shop: str, token: StoredToken) -> None:
        with self._guard:
            self._cache[shop] = token

    def _stored(self, response: TokenResponse, previous: StoredToken | None) -> StoredToken:
        now = self._now_ms()
        refresh = response.refresh_token or (previous.refresh_token.get_secret_value() if previous else "")
        return StoredToken(
            access_token=SecretStr(response.access_token),
            refresh_token=SecretStr(refresh),
            expire_time=response.expire_time or now + UNKNOWN_LIFETIME_SECONDS * 1000,
            refresh_token_valid_time=response.refresh_token_valid_time
            or (previous.refresh_token_valid_time if previous else None),
            user_id=response.user_id or (previous.user_id if previous else None),
            account=response.account or (previous.account if previous else None),
            updated_at=now,
        )

    def _disconnect(self, shop: str, problem: str) -> AliExpressDisconnected:
        self.forget(shop)
        self._shops.update_settings(shop, aliexpress_connected=False, aliexpress_problem=problem)
        metrics.add_metric(name="AliExpressDisconnected", unit=MetricUnit.Count, value=1)
        logger.error("aliexpress disconnected", extra={"shop": shop, "problem": problem})
        return AliExpressDisconnected(shop, problem)


# ---------------------------------------------------------------- connect (OAuth code flow)

class AliExpressConnect:
    """GET /connect/aliexpress (the authorize URL) and its callback (the code exchange).

    Starting needs the shop's seller API token: without it anyone could bind their own AliExpress account to
    someone else's shop and receive its customers' orders. An unknown shop gets the same 401 as a known one
    without its token (no shop enumeration). `state_key()` is the app's state signing key.

    A state is single-use: the callback records it (`states.use`, one conditional write) before exchanging
    the code, so replaying a completed callback's state with another code is refused (400) and logged. A
    callback without a code (the seller declined) does not use it up: going back and approving still works.
    """

    def __init__(self, accounts: AliExpressAccounts, secrets: ShopSecretReader, auth: SellerAuth,
                 state_key: Callable[[], str], *, states: UsedStates, clock: Callable[[], float] = time.time) -> None:
        self._accounts = accounts
        self._secrets = secrets
        self._auth = auth
        self._state_key = state_key
        self._states = states
        self._clock = clock

    def authorize_url(self, shop: str, authorization: str | None, redirect_uri: str) -> str:
        """AliExpress's authorize page with a signed, STATE_TTL_SECONDS state naming `shop`."""
        if not shop:
            raise BadRequest("shop is required")
        self._auth.require(shop, authorization)  # unknown shop or wrong token: the same NotAuthorized
        return self._accounts.client.authorize_url(redirect_uri, sign_state(shop, self._state_key(), self._clock()))

    def complete(self, code: str, state: str) -> str:
        """Exchange the code for the shop the state names; that shop. Nothing is stored on any failure."""
        try:
            verified = check_state(state, self._state_key(), self._clock())
        except InvalidState as error:
            metrics.add_metric(name="AliExpressConnectRejected", unit=MetricUnit.Count, value=1)
            raise BadRequest(f"invalid state: {error}") from error
        shop = verified.shop
        if not code:
            # The seller declined on AliExpress's page (no code comes back).
            raise BadRequest("AliExpress returned no authorization code: the connection was not approved")
        if not self._states.use(shop, verified.nonce, expires_at=verified.expires_at, now=int(self._clock())):
            metrics.add_metric(name="AliExpressConnectRejected", unit=MetricUnit.Count, value=1)
            logger.warning("aliexpress connect state replayed", extra={"shop": shop})
            raise BadRequest("invalid state: already used; start the connection again")
        if self._secrets.get(shop) is None:
            raise NotFound("shop")
        try:
            self._accounts.connect(shop, code)
        except InvalidCodeError as error:
            raise BadRequest("the authorization code is invalid or expired: start the connection again") from error
        except AliExpressError as error:
            logger.warning("aliexpress token exchange failed", extra={"shop": shop, "code": error.code})
            raise AliExpressFailed("AliExpress did not complete the connection; try again", error.code) from error
        return shop


# ---------------------------------------------------------------- the browser's connect flow (issue 13)

def stage_prefix(stage: str | None) -> str:
    """The path prefix of an API Gateway stage ("" for $default)."""
    return "" if not stage or stage == "$default" else f"/{stage}"


def callback_url(configured: str, domain: str, stage: str | None) -> str:
    """The callback registered in the AliExpress console (ALIEXPRESS_REDIRECT_URI); it must match exactly.

    Unset, it is this API's own callback URL (the template cannot pass the API's URL to a function that is one of
    its integrations without a dependency cycle)."""
    if configured.strip():
        return configured.strip()
    return f"https://{domain}{stage_prefix(stage)}/connect/aliexpress/callback"
