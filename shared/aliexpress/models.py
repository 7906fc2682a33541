"""Pydantic models for AliExpress DS responses, tolerant of every documented shape (DS API notes §6).

- Lists arrive as plain arrays (`simplify=true`), wrapped in an object (`{"aeop_x": [...]}`,
  `{"ae_x": [...]}`, `{"tracking_detail": [...]}`, `{"number": [...]}`), or as a bare object when they hold
  one element.
- Ids and numbers arrive as strings or numbers. Ids are kept as `str`: AliExpress order ids exceed 2^53, so
  they must never pass through a float (the client parses JSON with `json.loads`, which keeps big ints exact).
- Status values are plain strings, never enums: an unknown value must reach the caller, not crash parsing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# Keys that wrap a list when simplify=false; `aeop_`/`ae_` prefixes cover the generated wrapper names.
_WRAPPER_KEYS = frozenset({"tracking_detail", "detail_node", "package_item", "number", "string", "long"})


def _is_wrapper_key(key: str) -> bool:
    return key in _WRAPPER_KEYS or key.startswith(("aeop_", "ae_"))


def unwrap_list(value: Any) -> list[Any]:
    """Normalise any documented list shape to a plain list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if not value:
            return []
        if len(value) == 1:
            key, inner = next(iter(value.items()))
            if isinstance(inner, list):
                return inner
            if _is_wrapper_key(str(key)):
                return [] if inner is None or inner == "" else [inner]
        return [value]  # a bare object standing for a one-element list
    return [value]  # a bare scalar, e.g. {"number": 8198352049851315} already unwrapped by the caller


def _to_id(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an id cannot be a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, float):
        # A float above 2^53 has already lost digits somewhere upstream: refuse rather than return a wrong id.
        if not value.is_integer() or abs(value) >= 2**53:
            raise ValueError("id arrived as a lossy float")
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else _to_id(value)


def _money(value: Any) -> Any:
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        return {"amount": value}
    return value


_LIST = BeforeValidator(unwrap_list)
Id = Annotated[str, BeforeValidator(_to_id)]
OptId = Annotated[str | None, BeforeValidator(_blank_to_none), BeforeValidator(_to_id)]
OptInt = Annotated[int | None, BeforeValidator(_blank_to_none)]
OptDecimal = Annotated[Decimal | None, BeforeValidator(_blank_to_none)]
OptStr = Annotated[str | None, BeforeValidator(_to_id)]
Text = Annotated[str, BeforeValidator(_none_to_empty)]
Bool = Annotated[bool, BeforeValidator(lambda v: False if v is None or v == "" else v)]


class _Model(BaseModel):
    # extra="allow": undocumented fields stay reachable (model.model_extra) instead of being dropped.
    # defer_build: a model is built when first used, not at import (cold starts: most functions use a few).
    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True, defer_build=True)


class Money(_Model):
    amount: OptDecimal = None
    currency_code: str | None = None


MoneyField = Annotated[Money | None, BeforeValidator(_blank_to_none), BeforeValidator(_money)]


# ---------------------------------------------------------------- aliexpress.trade.ds.order.get


class StoreInfo(_Model):
    store_id: OptId = None
    store_name: str | None = None
    store_url: str | None = None


class ChildOrder(_Model):
    product_id: OptId = None
    sku_id: OptId = None
    product_name: str | None = None
    product_count: OptInt = None
    product_price: MoneyField = None
    shipping_fee: MoneyField = None
    actual_fee: MoneyField = None
    end_reason: OptStr = None
    end_reason_desc: OptStr = None


class LogisticsInfo(_Model):
    logistics_no: OptStr = None
    logistics_service: OptStr = None


class TradeOrder(_Model):
    """`aliexpress.trade.ds.order.get` result; `order_id` is filled in by the client (the API omits it)."""

    order_id: OptId = None
    order_status: Text = ""
    logistics_status: OptStr = None
    gmt_create: OptStr = None
    order_amount: MoneyField = None
    user_order_amount: MoneyField = None
    pay_timeout_second: OptInt = None
    order_paidtime_string: OptStr = None
    store_info: StoreInfo | None = None
    child_order_list: Annotated[list[ChildOrder], _LIST] = Field(default_factory=list)
    logistics_info_list: Annotated[list[LogisticsInfo], _LIST] = Field(
        default_factory=list
    )

    @property
    def is_known_status(self) -> bool:
        return self.order_status in ORDER_STATUSES


# ---------------------------------------------------------------- aliexpress.ds.order.tracking.get


class TrackingNode(_Model):
    tracking_name: OptStr = None
    tracking_detail_desc: OptStr = None
    time_stamp: OptInt = None  # epoch ms


class PackageItem(_Model):
    item_id: OptId = None  # the AliExpress product id
    sku_id: OptId = None
    sku_desc: OptStr = None
    quantity: OptInt = None
    item_title: OptStr = None


class TrackingPackage(_Model):
    """One `tracking_detail` line: one parcel. `mail_no` is "" until the carrier assigns a number."""

    mail_no: Text = ""
    carrier_name: OptStr = None
    cp_name: OptStr = None
    cp_website_url: OptStr = Field(
        default=None, validation_alias=AliasChoices("cp_website_url", "tracking_url")
    )
    eta: OptInt = Field(
        default=None, validation_alias=AliasChoices("eta_time_stamps", "eta_time_stamp", "eta")
    )  # epoch ms
    detail_node_list: Annotated[list[TrackingNode], _LIST] = Field(default_factory=list)
    package_item_list: Annotated[list[PackageItem], _LIST] = Field(default_factory=list)

    @property
    def tracking_url(self) -> str | None:
        return self.cp_website_url or None


class TrackingResult(_Model):
    """`aliexpress.ds.order.tracking.get` result; `ret` false with code 1001 means "no tracking yet"."""

    ret: Bool = False
    code: OptStr = None
    msg: OptStr = None
    packages: list[TrackingPackage] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "packages" in data:
            return data
        inner = data.get("data")
        lines: Any = None
        if isinstance(inner, dict):
            lines = inner.get("tracking_detail_line_list")
        elif isinstance(inner, list):
            lines = inner
        rest = {k: v for k, v in data.items() if k != "data"}
        return {**rest, "packages": unwrap_list(lines)}


# ---------------------------------------------------------------- aliexpress.ds.product.get


class ProductSku(_Model):
    sku_id: Id
    sku_attr: Text = ""  # the value ds.order.create needs; "" for single-SKU products
    price: OptDecimal = Field(default=None, validation_alias=AliasChoices("sku_price", "price"))
    offer_sale_price: OptDecimal = None
    stock: OptInt = Field(
        default=None, validation_alias=AliasChoices("sku_available_stock", "ipm_sku_stock", "stock")
    )
    currency_code: OptStr = None


class Product(_Model):
    """`aliexpress.ds.product.get` result, flattened from its `ae_*_dto` sections."""

    product_id: Id
    subject: Text = ""
    status: OptStr = Field(default=None, validation_alias=AliasChoices("product_status_type", "status"))
    currency: OptStr = Field(default=None, validation_alias=AliasChoices("currency_code", "currency"))
    skus: Annotated[list[ProductSku], _LIST] = Field(default_factory=list)
    image_urls: list[str] = Field(default_factory=list)
    store_id: OptId = None
    store_name: OptStr = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "ae_item_base_info_dto" not in data:
            return data
        base = data.get("ae_item_base_info_dto") or {}
        store = data.get("ae_store_info") or {}
        media = data.get("ae_multimedia_info_dto") or {}
        images = media.get("image_urls") if isinstance(media, dict) else None
        flat: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
        flat["skus"] = data.get("ae_item_sku_info_dtos")
        flat["image_urls"] = [u for u in images.split(";") if u] if isinstance(images, str) else []
        if isinstance(store, dict):
            flat["store_id"] = store.get("store_id")
            flat["store_name"] = store.get("store_name")
        return flat


# ---------------------------------------------------------------- aliexpress.ds.freight.query (issue 12)


class FreightOption(_Model):
    """One delivery option. `shipping_fee_cent` is a decimal amount despite its name ("172.71" = US $172.71)."""

    code: Text = ""  # the logistics_service_name ds.order.create takes
    company: OptStr = None
    ship_from_country: OptStr = None
    fee: Decimal = Field(default=Decimal("0"), validation_alias=AliasChoices("shipping_fee_cent", "fee"))
    free_shipping: Bool = False
    min_days: OptInt = Field(default=None, validation_alias=AliasChoices("min_delivery_days", "min_days"))
    max_days: OptInt = Field(default=None, validation_alias=AliasChoices("max_delivery_days", "max_days"))

    @model_validator(mode="after")
    def _free_is_zero(self) -> FreightOption:
        if self.free_shipping:
            self.fee = Decimal("0")
        return self


class FreightResult(_Model):
    success: Bool = True
    code: OptStr = None
    msg: OptStr = None
    options: Annotated[list[FreightOption], _LIST] = Field(
        default_factory=list, validation_alias=AliasChoices("delivery_options", "options"))


# ---------------------------------------------------------------- aliexpress.ds.order.create


class CreateOrderResult(_Model):
    is_success: Bool = False
    order_list: Annotated[list[Id], _LIST] = Field(default_factory=list)
    error_code: OptStr = None
    error_msg: OptStr = None


# ---------------------------------------------------------------- /auth/token/create, /auth/token/refresh


class TokenResponse(_Model):
    """Token pair. Lifetimes in seconds, `expire_time`/`refresh_token_valid_time` in epoch ms.

    Tokens are excluded from repr so that logging the model cannot leak them.
    """

    access_token: str = Field(repr=False)
    refresh_token: str = Field(default="", repr=False)
    expires_in: int = 0
    refresh_expires_in: int = 0
    expire_time: OptInt = None
    refresh_token_valid_time: OptInt = None
    user_id: OptId = None
    seller_id: OptId = None
    account_id: OptId = None
    account: OptStr = None
    account_platform: OptStr = None
    user_nick: OptStr = None
    code: OptStr = None
    request_id: OptStr = None


ORDER_STATUSES = frozenset(
    {
        "PLACE_ORDER_SUCCESS",
        "PAYMENT_PROCESSING",
        "WAIT_SELLER_EXAMINE_MONEY",
        "RISK_CONTROL",
        "RISK_CONTROL_HOLD",
        "WAIT_SELLER_SEND_GOODS",
        "SELLER_PART_SEND_GOODS",
        "WAIT_BUYER_ACCEPT_GOODS",
        "FINISH",
        "IN_CANCEL",
        "WAIT_GROUP",
        "WAIT_COMPLETE_ADDRESS",
        "FUND_PROCESSING",
        "IN_ISSUE",
        "IN_FROZEN",
        "ARCHIVE",
    }
)

LOGISTICS_STATUSES = frozenset(
    {
        "DEFAULT",
        "WAIT_SELLER_SEND_GOODS",
        "SELLER_SEND_PART_GOODS",
        "SELLER_SEND_GOODS",
        "BUYER_ACCEPT_GOODS",
        "NO_LOGISTICS",
    }
)
