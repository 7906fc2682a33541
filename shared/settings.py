"""Environment settings, parsed once per container and validated at start (fail fast)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(default="dropship-orders", alias="TABLE_NAME")
    # Per-shop secrets live at "<prefix><shop>" in Secrets Manager (webhook secret, ShopBase token, API token hash).
    shop_secret_prefix: str = Field(default="dropship/shops/", alias="SHOP_SECRET_PREFIX")
    # Per-shop AliExpress OAuth tokens live at "<prefix><shop>".
    aliexpress_token_prefix: str = Field(default="dropship/aliexpress/", alias="ALIEXPRESS_TOKEN_PREFIX")
    # App-level credentials (AliExpress app key/secret, OAuth state key): one secret for the whole app.
    app_secret_name: str = Field(default="dropship/app", alias="APP_SECRET_NAME")
    secret_max_age_seconds: int = Field(default=300, alias="SECRET_MAX_AGE_SECONDS", ge=0)
    aliexpress_gateway_url: str = Field(default="https://api-sg.aliexpress.com", alias="ALIEXPRESS_GATEWAY_URL")
    # "https://{shop}.onshopbase.com" in production; a simulator URL locally.
    shopbase_base_url: str = Field(default="https://{shop}.onshopbase.com", alias="SHOPBASE_BASE_URL")
    sync_shards: int = Field(default=16, alias="SYNC_SHARDS", ge=1, le=256)
    max_webhook_bytes: int = Field(default=1024 * 1024, alias="MAX_WEBHOOK_BYTES")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
