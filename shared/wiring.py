"""The composition root: every repository, client, queue and budget is built here, from one `Settings`.

Handlers ask this module for the use case they call (`wiring.placer()`, `wiring.tracking_pusher()`); use
cases receive what they use as constructor arguments and never build or look anything up themselves.

Scope: one instance per container. The local runtime runs several "containers" of one function as threads of
one process, so a container is a thread and the worker threads it hands batch records to (which run in a copy
of its context: boto3 clients are thread-safe and shared by them).
`reset()` forgets everything (tests, the local runtime between stacks); `override(name, value)` makes a
builder return `value` instead (tests inject fakes or faster clients through the same wiring).

Imports are deferred into the builders: a function pays only for what it builds (cold start).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from shared.settings import Settings, load_settings

if TYPE_CHECKING:
    from shared.aliexpress.client import AliExpressClient
    from shared.data.links import LinkRepository
    from shared.data.notifications import DeliveryLedger
    from shared.data.orders import OrderRepository
    from shared.data.placement_queue import PlacementQueue
    from shared.data.rate_budget import IntervalGate, RateBudgetStore
    from shared.data.shop_settings_cache import CachedShopSettings
    from shared.data.shops import ShopRepository
    from shared.data.sync_runs import SyncQueue, SyncRunRepository
    from shared.logic.accounts import AliExpressAccounts
    from shared.logic.rate_budget import RateBudget

F = TypeVar("F", bound=Callable[..., Any])

_overrides: dict[str, Any] = {}
# The container's built instances. A context variable rather than a thread-local: a thread started for a new
# container (the local runtime) starts with none, while the worker threads a batch consumer hands its records to
# run in a copy of the handler's context and so share its container's clients (shared.batch).
_scope: ContextVar[SimpleNamespace] = ContextVar("wiring_scope")
_generation = 0
_lock = threading.Lock()


def _current_scope() -> SimpleNamespace:
    try:
        return _scope.get()
    except LookupError:
        scope = SimpleNamespace(cache=None, generation=-1, lock=threading.RLock())
        _scope.set(scope)
        return scope


def bind_container() -> None:
    """Give the calling thread its container scope now (not at its first build), so the worker threads it starts
    in a copy of its context share that scope instead of each making one of their own."""
    _current_scope()


def component(builder: F) -> F:
    """Cache a builder's result per container (and per arguments); honour overrides."""
    name = builder.__name__

    @wraps(builder)
    def get(*args: Any) -> Any:
        if name in _overrides:
            value = _overrides[name]
            return value(*args) if callable(value) and getattr(value, "__wiring_factory__", False) else value
        scope = _current_scope()
        key = (name, args)
        cache: dict[tuple[str, tuple[Any, ...]], Any] | None = scope.cache
        if cache is not None and scope.generation == _generation and key in cache:
            return cache[key]
        with scope.lock:  # a container's worker threads build each thing once (builders call builders: RLock)
            if scope.cache is None or scope.generation != _generation:
                scope.cache = {}
                scope.generation = _generation
            if key not in scope.cache:
                scope.cache[key] = builder(*args)
            return scope.cache[key]

    return cast(F, get)


def override(name: str, value: Any) -> None:
    """Make builder `name` return `value` (a test's fake or a client with faster retries) until reset()."""
    if name not in globals() or not callable(globals()[name]):
        raise KeyError(f"no builder named {name!r} in shared.wiring")
    with _lock:
        _overrides[name] = value
        _bump()


def factory(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an override as a factory: called with the builder's arguments instead of returned as it is."""
    fn.__wiring_factory__ = True  # type: ignore[attr-defined]
    return fn


def reset() -> None:
    """Forget every built instance and override (every thread sees it on its next call)."""
    with _lock:
        _overrides.clear()
        _bump()
    _forget_process_caches()


def _bump() -> None:
    global _generation
    _generation += 1


def _forget_process_caches() -> None:
    """Caches outside this module: Powertools' secrets, ShopBase per-shop throttles, the AliExpress refresh path."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    from shared.shopbase.throttle import reset_throttles

    reset_throttles()
    from shared.aliexpress.client import forget_refresh_apis

    forget_refresh_apis()


# ================================================================ settings and AWS


@component
def settings() -> Settings:
    return load_settings()


@component
def table() -> Any:
    """The orders table (one table for everything). The endpoint comes from AWS_ENDPOINT_URL when set."""
    from shared.data.dynamo import table as dynamodb_table

    return dynamodb_table(settings().table_name)


@component
def aws_client(service: str) -> Any:
    from shared.data.dynamo import client

    return client(service)


# ================================================================ repositories (shared by every room)


@component
def orders() -> OrderRepository:
    from shared.data.orders import OrderRepository

    return OrderRepository(table(), sync_shards=settings().sync_shards, cursor_key=cursor_signing_key)


@component
def shops() -> ShopRepository:
    from shared.data.shops import ShopRepository

    return ShopRepository(table())


@component
def cached_shop_settings() -> CachedShopSettings:
    """The tracking consumers' view of shop settings: read once per SHOP_SETTINGS_MAX_AGE_SECONDS."""
    from shared.data.shop_settings_cache import CachedShopSettings

    return CachedShopSettings(shops(), settings().shop_settings_max_age_seconds)


@component
def links() -> LinkRepository:
    from shared.data.links import LinkRepository

    return LinkRepository(table())


# ================================================================ AliExpress (accounts, budget)


@component
def rate_budget_store() -> RateBudgetStore:
    from shared.data.rate_budget import RateBudgetStore

    return RateBudgetStore(table())


@component
def rate_budget() -> RateBudget:
    """The fleet's AliExpress call budget: placement, linking, sync and sync-now all spend it."""
    from shared.logic.rate_budget import RateBudget

    s = settings()
    return RateBudget(rate_budget_store(), s.aliexpress_calls_per_second, headroom=s.aliexpress_rate_headroom)


API_PROFILE = "api"  # behind API Gateway's 30 s: a small timeout and retry budget
WORKER_PROFILE = "worker"  # queue and schedule workers: the full budget
CLIENT_PROFILES: dict[str, dict[str, Any]] = {
    API_PROFILE: {"timeout": (3.05, 8), "max_retries": 1},
    WORKER_PROFILE: {"timeout": (3.05, 10), "max_retries": 3},
}


@component
def aliexpress_client(profile: str = WORKER_PROFILE) -> AliExpressClient:
    from shared.aliexpress.client import AliExpressClient

    credentials = app_credentials()
    return AliExpressClient(settings().aliexpress_gateway_url, credentials.aliexpress_app_key,
                            credentials.aliexpress_app_secret.get_secret_value(),
                            before_call=rate_budget(), **CLIENT_PROFILES[profile])


@component
def aliexpress_accounts(profile: str = WORKER_PROFILE) -> AliExpressAccounts:
    from shared.logic.accounts import AliExpressAccounts

    return AliExpressAccounts(aliexpress_client(profile), aliexpress_tokens(), shops())


if TYPE_CHECKING:
    from shared.data.aliexpress_tokens import AliExpressTokenStore
    from shared.data.secrets import AppCredentials, AppSecretStore
    from shared.logic.accounts import AliExpressConnect


@component
def aliexpress_tokens() -> AliExpressTokenStore:
    """Per-shop AliExpress OAuth tokens ("<ALIEXPRESS_TOKEN_PREFIX><shop>"), read uncached."""
    from shared.data.aliexpress_tokens import AliExpressTokenStore

    return AliExpressTokenStore(aws_client("secretsmanager"), settings().aliexpress_token_prefix)


@component
def app_secrets() -> AppSecretStore:
    from shared.data.secrets import AppSecretStore

    s = settings()
    return AppSecretStore(s.app_secret_name, s.secret_max_age_seconds)


def app_credentials() -> AppCredentials:
    """The app secret (APP_SECRET_NAME), cached by Powertools for SECRET_MAX_AGE_SECONDS (not per thread)."""
    return app_secrets().get()


@component
def aliexpress_connect() -> AliExpressConnect:
    """The OAuth connect flow (connect_aliexpress); the state key is read per request (rotation)."""
    from shared.data.oauth_states import OAuthStateStore
    from shared.logic.accounts import AliExpressConnect

    return AliExpressConnect(aliexpress_accounts(WORKER_PROFILE), shop_secrets(), seller_auth(),
                             lambda: app_credentials().state_signing_key.get_secret_value(),
                             states=OAuthStateStore(table()))


# ================================================================ intake and placement (webhook, seller API, place)


def cursor_signing_key() -> bytes:
    """The key of the order pages' cursors, derived from the app secret's state key; read when a cursor is issued
    or read (cached with the app secret), so only listings that page need the secret."""
    from shared.data.orders import derive_cursor_key

    return derive_cursor_key(app_credentials().state_signing_key.get_secret_value())


@component
def placement_queue() -> PlacementQueue | None:
    """None when this function has no PlaceOrdersQueue (auto-place then logs and counts a metric)."""
    from shared.data.placement_queue import PlacementQueue

    url = settings().place_orders_queue_url.strip()
    return PlacementQueue(url, aws_client("sqs")) if url else None


@component
def placer(profile: str = WORKER_PROFILE) -> Placer:
    from shared.logic.placement import Placer

    return Placer(orders(), links(), aliexpress_accounts(profile), shops())


if TYPE_CHECKING:
    from shared.data.secrets import ShopSecretStore
    from shared.logic.auth import SellerAuth
    from shared.logic.auto_place import AutoPlacer
    from shared.logic.place_request import PlaceRequests
    from shared.logic.placement import Placer
    from shared.logic.webhooks import WebhookReceiver


@component
def shop_secrets() -> ShopSecretStore:
    """Per-shop secrets ("<SHOP_SECRET_PREFIX><shop>"): webhook secret, ShopBase token, API token hash."""
    from shared.data.secrets import ShopSecretStore

    s = settings()
    return ShopSecretStore(aws_client("secretsmanager"), s.shop_secret_prefix, s.secret_max_age_seconds)


@component
def seller_auth() -> SellerAuth:
    from shared.logic.auth import SellerAuth

    return SellerAuth(shop_secrets())


@component
def auto_placer() -> AutoPlacer:
    from shared.logic.auto_place import AutoPlacer

    queue = placement_queue()
    return AutoPlacer(shops(), queue.send if queue is not None else None)


@component
def webhook_receiver() -> WebhookReceiver:
    from shared.logic.webhooks import WebhookReceiver

    return WebhookReceiver(shop_secrets(), orders(), auto_placer(), settings().max_webhook_bytes)


@component
def place_requests() -> PlaceRequests:
    """The seller API's "place" and "retry" (small AliExpress budget: it answers within API Gateway's 30 s)."""
    from shared.logic.place_request import PlaceRequests

    return PlaceRequests(placer(API_PROFILE), orders(), placement_queue(), auto_placer())


# ================================================================ sync (sync_status, sync_worker, sync now)


@component
def sync_runs() -> SyncRunRepository:
    from shared.data.sync_runs import SyncRunRepository

    return SyncRunRepository(table())


@component
def sync_queue() -> SyncQueue:
    from shared.data.sync_runs import SyncQueue

    return SyncQueue(settings().require("sync_queue_url"), aws_client("sqs"))


@component
def interval_gate() -> IntervalGate:
    from shared.data.rate_budget import IntervalGate

    return IntervalGate(table())


if TYPE_CHECKING:
    from shared.data.rate_budget import WindowLimit
    from shared.logic.order_sync import OrderSyncer
    from shared.logic.sync_now import SyncNow
    from shared.logic.sync_runs import RunDeps


@component
def order_syncer(profile: str = WORKER_PROFILE) -> OrderSyncer:
    from shared.logic.order_sync import OrderSyncer

    return OrderSyncer(orders(), aliexpress_accounts(profile), links())


@component
def run_deps(with_syncer: bool = True) -> RunDeps:
    """What a run needs: the starter (no syncer: it never calls AliExpress) or a worker (with one)."""
    from datetime import timedelta

    from shared.logic.sync_runs import RunDeps

    max_age = settings().sync_slot_max_age_seconds
    return RunDeps(orders=orders(), runs=sync_runs(), queue=sync_queue(),
                   syncer=order_syncer(WORKER_PROFILE) if with_syncer else None, shards=settings().sync_shards,
                   slot_max_age=timedelta(seconds=max_age) if max_age else None)


@component
def sync_now_order_limit() -> WindowLimit:
    from shared.data.rate_budget import WindowLimit

    return WindowLimit(table(), name="sync-now", window_seconds=60)


@component
def sync_now() -> SyncNow:
    """Sync now (seller API). Without a SYNC_QUEUE_URL a big shop cannot be queued (→ Unavailable)."""
    from shared.logic.sync_now import SyncNow

    queued = run_deps(False) if settings().sync_queue_url.strip() else None
    return SyncNow(orders(), order_syncer(WORKER_PROFILE), interval_gate(), sync_now_order_limit(), queued)


# ================================================================ tracking (push_tracking, notify_customer, fulfill)


@component
def delivery_ledger() -> DeliveryLedger:
    from shared.data.notifications import DeliveryLedger

    return DeliveryLedger(table())


@component
def shopbase_client_options() -> dict[str, Any]:
    """Keyword options for every ShopBase client (timeouts, retries); tests override them."""
    return {}


if TYPE_CHECKING:
    from shared.data.mail import SesMailer
    from shared.logic.notify import TrackingNotifier
    from shared.logic.push import ShopBaseClientFactory, TrackingPusher
    from shared.shopbase.throttle import SharedThrottles


@component
def shopbase_rate_limits() -> SharedThrottles | None:
    """ShopBase's per-shop rate limit shared by every container (issue 11): one item per shop in the table, on a
    client of its own (short timeouts; a failing write falls back to the container's bucket). Override with None
    for per-process buckets."""
    from shared.data.shopbase_rate import ShopBaseRateStore, rate_table
    from shared.shopbase.throttle import SharedThrottles

    return SharedThrottles(ShopBaseRateStore(rate_table(settings().table_name)))


@component
def shopbase_clients() -> ShopBaseClientFactory:
    """The ShopBase client of a shop: its token from the shop's secrets, its URL from SHOPBASE_BASE_URL, its rate
    limit shared with every container (`shopbase_rate_limits`; an option `throttle`/`throttles` wins)."""
    from shared.logic.push import ShopBaseClientFactory

    options = {"throttles": shopbase_rate_limits(), **shopbase_client_options()}
    return ShopBaseClientFactory(shop_secrets().get, settings().shopbase_base_url, options)


@component
def tracking_pusher() -> TrackingPusher:
    from shared.logic.push import TrackingPusher

    return TrackingPusher(orders(), cached_shop_settings(), delivery_ledger(), shopbase_clients(),
                          max_attempts=settings().push_max_attempts)


@component
def mailer() -> SesMailer:
    from shared.data.mail import SesMailer, ses_client

    return SesMailer(ses_client())


@component
def tracking_notifier() -> TrackingNotifier:
    from shared.logic.notify import TrackingNotifier

    return TrackingNotifier(orders(), cached_shop_settings(), delivery_ledger(), mailer(),
                            max_attempts=settings().notify_max_attempts)


# ---- orders page (issue 13)
if TYPE_CHECKING:
    from shared.data.order_search import OrderSearch
    from shared.logic.order_search import OrderViews


@component
def order_search() -> OrderSearch:
    from shared.data.order_search import OrderSearch

    return OrderSearch(orders())


@component
def order_views() -> OrderViews:
    """The Manage Orders page's views: lists, counts, CSV, detail, the shop's header."""
    from shared.logic.order_search import OrderViews

    return OrderViews(orders(), order_search(), links(), shops(), aliexpress_tokens())


def connect_redirect_uri(domain: str, stage: str | None) -> str:
    """The AliExpress OAuth callback: ALIEXPRESS_REDIRECT_URI, or this API's own callback URL."""
    from shared.logic.accounts import callback_url

    return callback_url(settings().aliexpress_redirect_uri, domain, stage)


# ---- products (issue 12)
if TYPE_CHECKING:
    from shared.data.products import ProductRepository
    from shared.logic.products.importer import ProductImporter
    from shared.logic.products.monitor import ProductMonitor
    from shared.logic.products.store_push import ProductPusher


@component
def products_table() -> Any:
    """ProductsTable (no stream: product writes stay off the orders stream)."""
    from shared.data.dynamo import table as dynamodb_table

    return dynamodb_table(settings().require("products_table_name"))


@component
def products() -> ProductRepository:
    from shared.data.products import ProductRepository

    return ProductRepository(products_table(), shards=settings().product_due_shards, cursor_key=cursor_signing_key)


@component
def product_importer(profile: str = API_PROFILE) -> ProductImporter:
    from shared.logic.products.importer import ProductImporter

    return ProductImporter(products(), aliexpress_accounts(profile), shops())


@component
def product_pusher() -> ProductPusher:
    from shared.logic.products.store_push import ProductPusher

    return ProductPusher(products(), links(), shopbase_clients())


@component
def product_monitor(profile: str = WORKER_PROFILE) -> ProductMonitor:
    from shared.logic.products.monitor import ProductMonitor

    return ProductMonitor(products(), aliexpress_accounts(profile), shops(), shopbase_clients())
