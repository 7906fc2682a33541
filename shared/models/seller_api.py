"""What the seller API answers about orders: a list row (Manage Orders tabs) and the detail of one order.

A row carries what a list shows and nothing more: the customer's name and country, never their email,
phone or address. The detail (GET /shops/{shop}/orders/{id}) carries the rest.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models.errors import BadRequest, shown
from shared.models.order import (
    Address,
    AeOrder,
    Customer,
    LineItem,
    Order,
    OrderStatus,
    Package,
    Placement,
    StatusChange,
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)  # built at first use, not at import (cold start)


class _OrderHead(_Out):
    """Fields a row and the detail both carry."""

    order_id: str
    name: str
    status: OrderStatus
    created_at: datetime
    store_updated_at: datetime | None
    last_synced_at: datetime | None
    financial_status: str | None
    fulfillment_status: str | None
    currency: str | None
    total_price: str | None
    reason: str | None
    reason_code: str | None
    attention: str | None
    fulfilled_in_store: bool


class CustomerSummary(_Out):
    name: str | None
    country: str | None  # ISO code of the shipping country


class ItemRow(_Out):
    title: str
    variant_title: str | None
    quantity: int
    variant_id: str | None
    # The product's picture once products are imported (issue 12); None until then.
    image_url: str | None = None


class TrackingRow(_Out):
    number: str
    carrier: str
    url: str | None  # the carrier's tracking page, when known


IssueKind = Literal["failed", "stalled", "partial", "refund", "unpaid", "reconnect", "flag"]
IssueAction = Literal["link", "retry", "reconnect", "fulfill", "pay", "cancel_on_aliexpress", "sync", "none"]


class Issue(_Out):
    """Why an order needs the seller, in plain words, and the action that fixes it (the page's button)."""

    kind: IssueKind
    text: str
    action: IssueAction
    variant_ids: list[str] = Field(default_factory=list)  # action "link": the variants to link


class OrderRow(_OrderHead):
    tab: str  # the Manage Orders tab the order is in
    customer: CustomerSummary
    items: list[ItemRow]
    ae_order_ids: list[str]
    tracking_numbers: list[str]
    aliexpress_placed: bool
    tracking: list[TrackingRow] = Field(default_factory=list)
    issues: list[Issue] = Field(default_factory=list)
    payment_deadline: datetime | None = None  # an unpaid AliExpress order is cancelled then

    @classmethod
    def of(cls, order: Order, issues: list[Issue] | None = None,
           payment_deadline: datetime | None = None) -> OrderRow:
        address = order.shipping_address
        person = " ".join(p for p in (order.customer.first_name, order.customer.last_name) if p)
        name = person or (address.name if address else None) or None
        return cls.model_validate({
            **{field: getattr(order, field) for field in _OrderHead.model_fields},
            "tab": order.status.value,
            "customer": CustomerSummary(name=name, country=address.country_code if address else None),
            "items": [ItemRow(title=li.title, variant_title=li.variant_title, quantity=li.quantity,
                              variant_id=li.variant_id) for li in order.line_items],
            "ae_order_ids": [a.ae_order_id for a in order.ae_orders],
            "tracking_numbers": [p.tracking_number for p in order.packages],
            "aliexpress_placed": order.aliexpress_placed,
            "tracking": [TrackingRow(number=p.tracking_number, carrier=p.carrier, url=p.tracking_url)
                         for p in order.packages],
            "issues": issues or [],
            "payment_deadline": payment_deadline,
        })


class OrderDetail(_OrderHead):
    shop: str
    cancelled_at: datetime | None
    customer: Customer
    shipping_address: Address | None
    line_items: list[LineItem]
    history: list[StatusChange]
    ae_orders: list[AeOrder]
    packages: list[Package]
    placement: Placement | None

    @classmethod
    def of(cls, order: Order) -> OrderDetail:
        return cls.model_validate(order, from_attributes=True)


class LinkedItem(_Out):
    """A line item's AliExpress product and SKU (its variant's link), for the detail page."""

    line_item_id: str
    product_id: str | None
    sku_attr: str | None
    sku_id: str | None
    product_title: str | None
    shipping_service: str | None


class EmailSent(_Out):
    tracking_number: str
    sent_at: datetime | None
    error: str | None


class OrderPageDetail(_Out):
    """GET /shops/{shop}/orders/{id}/view: the detail plus what the page shows beside it."""

    order: OrderDetail
    row: OrderRow
    links: list[LinkedItem]
    emails: list[EmailSent]


class OrderList(_Out):
    """GET /shops/{shop}/orders: one page of a view (a tab, a search, a date range or needs attention)."""

    tab: str
    view: dict[str, str]
    orders: list[OrderRow]
    next_cursor: str | None
    more_matches: bool = False  # a search's one page does not hold every match: refine the query
    counts: dict[str, int]  # per tab
    attention_count: int  # orders that need attention now (every tab)


class Connection(_Out):
    state: Literal["connected", "expiring", "disconnected"]
    problem: str | None
    expires_at: datetime | None  # when the AliExpress authorization ends (the seller must reconnect)
    days_left: int | None


class SyncInfo(_Out):
    last_synced_at: datetime | None
    last_scheduled_run: datetime | None
    next_scheduled_run: datetime
    shop_sync_available_at: datetime | None  # the per-shop "sync now" limit: when it may be used again
    shop_sync_interval_minutes: int


class ShopOverview(_Out):
    shop: str
    connection: Connection
    sync: SyncInfo
    counts: dict[str, int]
    attention_count: int


TABS: tuple[str, ...] = ("all", *(status.value for status in OrderStatus))
MIN_QUERY_CHARS = 2
MAX_QUERY_CHARS = 100


class OrderQuery(_Out):
    """The query string of GET /shops/{shop}/orders (and of its CSV export): one view of the shop's orders.

    A view is a tab, optionally narrowed by a date range, or a search (every tab), or "needs attention" (every
    tab); each is served by its own index (docs/data-model.md), which is why a search or needs attention cannot be
    combined with a tab or dates.
    """

    tab: str = Field(default="all", description="all, pending, awaiting_order, awaiting_payment, awaiting_shipment, "
                                                "fulfilled, canceled or failed")
    limit: int = Field(default=50, ge=1, le=100, description="orders per page")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page of the same view")
    q: str | None = Field(default=None, description="search: order name, customer name or email, AliExpress order "
                                                    "id or tracking number (a prefix, 2 to 100 characters)")
    since: date | None = Field(default=None, description="created on or after this day (YYYY-MM-DD, UTC)")
    until: date | None = Field(default=None, description="created on or before this day (YYYY-MM-DD, UTC)")
    attention: bool = Field(default=False, description="only orders that need attention (1 or true)")

    @property
    def status(self) -> OrderStatus | None:
        return None if self.tab == "all" else OrderStatus(self.tab)

    def view(self) -> dict[str, str]:
        """The view's parameters as the page puts them in its URL."""
        shown = {"tab": self.tab, "q": self.q, "since": self.since and self.since.isoformat(),
                 "until": self.until and self.until.isoformat(), "attention": "1" if self.attention else None}
        return {k: v for k, v in shown.items() if v}

    @classmethod
    def parse(cls, params: dict[str, str]) -> OrderQuery:
        """From a query string's parameters; BadRequest naming what is wrong."""
        tab = params.get("tab", "all")
        if tab not in TABS:
            raise BadRequest(f"unknown tab {shown(tab, 20)!r}; one of {', '.join(TABS)}")
        raw_limit = params.get("limit", "50")
        if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3) or not 1 <= int(raw_limit) <= 100:
            raise BadRequest("limit must be a number between 1 and 100")
        q = " ".join((params.get("q") or "").split()) or None
        if q is not None and not MIN_QUERY_CHARS <= len(q) <= MAX_QUERY_CHARS:
            raise BadRequest(f"q must be {MIN_QUERY_CHARS} to {MAX_QUERY_CHARS} characters")
        days = {name: _day(params.get(name), name) for name in ("since", "until")}
        if days["since"] and days["until"] and days["since"] > days["until"]:
            raise BadRequest("since must not be after until")
        flag = (params.get("attention") or "").lower()
        if flag not in ("", "0", "1", "true", "false"):
            raise BadRequest("attention must be 1 or 0")
        attention = flag in ("1", "true")
        if q is not None and params.get("cursor"):
            raise BadRequest("a search has one page (the newest matches): refine the query instead of paging")
        if q is not None and (tab != "all" or attention or days["since"] or days["until"]):
            raise BadRequest("a search covers every tab: send q without tab, since, until or attention")
        if attention and (tab != "all" or days["since"] or days["until"]):
            raise BadRequest("needs attention covers every tab: send attention without tab, since or until")
        return cls(tab=tab, limit=int(raw_limit), cursor=params.get("cursor") or None, q=q, attention=attention,
                   **days)


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _bad_day(name)
    except ValueError:
        return _bad_day(name)


def _bad_day(name: str) -> date:
    raise BadRequest(f"{name} must be a day, YYYY-MM-DD")
