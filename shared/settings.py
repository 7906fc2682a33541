"""Every environment variable the functions read, parsed once per container and validated at start.

Only `shared.wiring` reads it. A variable without a default is required: a function that starts without it
fails at once, naming it. Variables only some functions have (queue URLs) are optional here and required by
the wiring builder that uses them (`MissingSetting` names the variable).
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


class MissingSetting(RuntimeError):
    """A variable this function needs is not set (its name is the message)."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"{variable} is not set")
        self.variable = variable


class Settings(BaseModel):
    """Validated from the environment by `load_settings` (a plain model: pydantic-settings cost a third of a
    second of every cold start for what one `model_validate(os.environ)` does here)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    # Per-shop secrets live at "<prefix><shop>" in Secrets Manager (webhook secret, ShopBase token, API token hash).
    shop_secret_prefix: str = Field(default="dropship/shops/", alias="SHOP_SECRET_PREFIX")
    # Per-shop AliExpress OAuth tokens live at "<prefix><shop>".
    aliexpress_token_prefix: str = Field(default="dropship/aliexpress/", alias="ALIEXPRESS_TOKEN_PREFIX")
    # App-level credentials (AliExpress app key/secret, OAuth state key): one secret for the whole app.
    app_secret_name: str = Field(default="dropship/app", alias="APP_SECRET_NAME")
    secret_max_age_seconds: int = Field(default=300, alias="SECRET_MAX_AGE_SECONDS", ge=0)
    aliexpress_gateway_url: str = Field(default="https://api-sg.aliexpress.com", alias="ALIEXPRESS_GATEWAY_URL")
    # The OAuth callback registered in the AliExpress console; empty: this API's own callback URL.
    aliexpress_redirect_uri: str = Field(default="", alias="ALIEXPRESS_REDIRECT_URI")
    # What AliExpress allows the whole app, and the fraction kept in reserve (see shared.logic.rate_budget).
    aliexpress_calls_per_second: float = Field(default=20.0, alias="ALIEXPRESS_CALLS_PER_SECOND", gt=0)
    aliexpress_rate_headroom: float = Field(default=0.0, alias="ALIEXPRESS_RATE_HEADROOM", ge=0, lt=1)
    # "https://{shop}.onshopbase.com" in production; a simulator URL locally.
    shopbase_base_url: str = Field(default="https://{shop}.onshopbase.com", alias="SHOPBASE_BASE_URL")
    sync_shards: int = Field(default=16, alias="SYNC_SHARDS", ge=1, le=256)
    max_webhook_bytes: int = Field(default=1024 * 1024, alias="MAX_WEBHOOK_BYTES")
    # Queues: only the functions that send to them have them (required by the builder that uses them).
    sync_queue_url: str = Field(default="", alias="SYNC_QUEUE_URL")
    place_orders_queue_url: str = Field(default="", alias="PLACE_ORDERS_QUEUE_URL")
    # Attempts per package before a stream consumer records the failure (below the mapping's retry cap).
    push_max_attempts: int = Field(default=4, alias="PUSH_MAX_ATTEMPTS", ge=1)
    notify_max_attempts: int = Field(default=4, alias="NOTIFY_MAX_ATTEMPTS", ge=1)
    # A scheduled sync slot older than this (or ahead of now) is refused; 0: any slot on the schedule runs (local).
    sync_slot_max_age_seconds: int = Field(default=6 * 3600, alias="SYNC_SLOT_MAX_AGE_SECONDS", ge=0)
    # Issue 11: how long the tracking consumers keep a shop's settings (a seller's change reaches them within it).
    shop_settings_max_age_seconds: int = Field(default=60, alias="SHOP_SETTINGS_MAX_AGE_SECONDS", ge=0)
    # Product import (issue 12): the ProductsTable, and the shards of its DueIndex (products due for monitoring).
    products_table_name: str = Field(default="", alias="PRODUCTS_TABLE_NAME")
    product_due_shards: int = Field(default=8, alias="PRODUCT_DUE_SHARDS", ge=1, le=64)  # issue 12

    def require(self, field: str) -> str:
        """The value of an optional string setting that this caller needs; MissingSetting names the variable."""
        value = str(getattr(self, field) or "").strip()
        if not value:
            alias = type(self).model_fields[field].alias or field.upper()
            raise MissingSetting(alias)
        return value


def load_settings() -> Settings:
    """Read the environment; a missing required variable fails here with its name."""
    try:
        return Settings.model_validate(dict(os.environ))
    except Exception as error:
        missing = [str(e["loc"][0]) for e in getattr(error, "errors", list)() if e.get("type") == "missing"]
        if missing:
            raise MissingSetting(", ".join(missing)) from error
        raise

