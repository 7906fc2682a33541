"""The Manage Orders page's use cases: one view of a shop's orders (a tab, a search, a date range, needs attention)
with its counts, the same view as CSV, one order's detail, and the shop's header (connection, sync times).

Each view is read from the index built for it (shared.data.order_search); counts are COUNT queries on keys.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from shared.data.orders import OrderPage
from shared.logic.attention import row_of
from shared.logic.sync_now import SHOP_SYNC_INTERVAL_S
from shared.logic.sync_runs import SLOT_HOURS, slot_of
from shared.models.errors import NotFound
from shared.models.order import Order, OrderStatus, utcnow
from shared.models.seller_api import (
    Connection,
    EmailSent,
    LinkedItem,
    OrderDetail,
    OrderList,
    OrderPageDetail,
    OrderQuery,
    OrderRow,
    ShopOverview,
    SyncInfo,
)
from shared.models.shop import Link, ShopSettings

if TYPE_CHECKING:
    from shared.data.aliexpress_tokens import StoredToken
    from shared.data.order_search import OrderSearch
    from shared.data.orders import OrderRepository

EXPIRING_DAYS = 7  # the banner warns this long before the AliExpress authorization ends
MAX_EXPORT_ROWS = 5000
CSV_COLUMNS = ("Order", "Order id", "Date (UTC)", "Status", "Customer", "Country", "Items", "AliExpress order ids",
               "Tracking numbers", "Carriers", "Total", "Currency", "Needs attention", "Reason")
# A spreadsheet runs a cell starting with one of these as a formula: such a cell is written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Links(Protocol):
    def batch_get(self, shop: str, variant_ids: list[str]) -> dict[str, Link]: ...


class Settings(Protocol):
    def get_settings(self, shop: str) -> ShopSettings | None: ...


class Tokens(Protocol):
    def get(self, shop: str) -> StoredToken | None: ...


@dataclass(frozen=True)
class CsvExport:
    text: str
    rows: int
    truncated: bool  # more orders match than one export holds (MAX_EXPORT_ROWS)


@dataclass
class OrderViews:
    orders: OrderRepository
    search: OrderSearch
    links: Links
    settings: Settings
    tokens: Tokens
    clock: Callable[[], datetime] = utcnow

    # ------------------------------------------------------------ lists

    def page(self, shop: str, query: OrderQuery) -> OrderPage:
        return self.page_and_more(shop, query)[0]

    def page_and_more(self, shop: str, query: OrderQuery) -> tuple[OrderPage, bool]:
        """The view's page, and (for a search, which has one page) whether more orders match than it holds."""
        if query.q is not None:
            found = self.search.search(shop, query.q, limit=query.limit)
            return OrderPage(orders=found.orders, cursor=None), found.more
        return self._page(shop, query), False

    def _page(self, shop: str, query: OrderQuery) -> OrderPage:
        if query.attention:
            return self.search.needs_attention(shop, self.clock(), limit=query.limit, cursor=query.cursor)
        if query.since or query.until:
            return self.search.by_date(shop, query.status, query.since, query.until, limit=query.limit,
                                       cursor=query.cursor)
        return self.orders.list_orders(shop, query.status, limit=query.limit, cursor=query.cursor)

    def counts(self, shop: str) -> dict[str, int]:
        """Orders per tab (the tabs' badges)."""
        by_status = self.orders.count_by_status(shop)
        return {"all": sum(by_status.values()), **{s.value: n for s, n in by_status.items()}}

    def attention_count(self, shop: str) -> int:
        return self.search.count_attention(shop, self.clock())

    def list_view(self, shop: str, query: OrderQuery) -> OrderList:
        page, more = self.page_and_more(shop, query)
        now = self.clock()
        rows = self._with_thumbnails(shop, [row_of(o, now) for o in page.orders])
        return OrderList(tab=query.tab, view=query.view(), orders=rows,
                         next_cursor=page.cursor, more_matches=more, counts=self.counts(shop),
                         attention_count=self.attention_count(shop))

    def _with_thumbnails(self, shop: str, rows: list[OrderRow]) -> list[OrderRow]:
        """Each item's picture, from the link product import made (one batch read for the page's variants)."""
        variants = sorted({item.variant_id for row in rows for item in row.items if item.variant_id})
        found = self.links.batch_get(shop, variants) if variants else {}
        pictures = {variant: link.image_url for variant, link in found.items() if link.image_url}
        if not pictures:
            return rows
        return [row.model_copy(update={"items": [
                    item.model_copy(update={"image_url": pictures.get(item.variant_id or "")}) for item in row.items]})
                for row in rows]

    def export_csv(self, shop: str, query: OrderQuery) -> CsvExport:
        """Every order of the view (all its pages, up to MAX_EXPORT_ROWS) as CSV."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        rows, cursor, now = 0, None, self.clock()
        while True:
            page, more = self.page_and_more(shop, query.model_copy(update={"cursor": cursor, "limit": 100}))
            for order in page.orders[:MAX_EXPORT_ROWS - rows]:
                writer.writerow([_cell(value) for value in _csv_row(order, now)])
                rows += 1
            cursor = page.cursor
            if not cursor or rows >= MAX_EXPORT_ROWS:
                return CsvExport(out.getvalue(), rows, truncated=bool(cursor) or more)

    # ------------------------------------------------------------ one order

    def detail(self, shop: str, order_id: str) -> OrderPageDetail:
        order = self.orders.get(shop, order_id)
        if order is None:
            raise NotFound.order(order_id)
        variants = sorted({li.variant_id for li in order.line_items if li.variant_id})
        found = self.links.batch_get(shop, variants) if variants else {}
        linked = [LinkedItem(line_item_id=li.id, product_id=link.product_id if link else None,
                             sku_attr=link.sku_attr if link else None, sku_id=link.sku_id if link else None,
                             product_title=link.product_title if link else None,
                             shipping_service=link.shipping_service if link else None)
                  for li in order.line_items for link in [found.get(li.variant_id or "")]]
        emails = [EmailSent(tracking_number=p.tracking_number, sent_at=p.notified_at, error=p.notify_error)
                  for p in order.packages if p.notified_at or p.notify_error]
        return OrderPageDetail(order=OrderDetail.of(order), row=row_of(order, self.clock()), links=linked,
                               emails=emails)

    # ------------------------------------------------------------ the shop's header

    def overview(self, shop: str) -> ShopOverview:
        now = self.clock()
        settings = self.settings.get_settings(shop) or ShopSettings(shop=shop)
        return ShopOverview(shop=shop, connection=self._connection(shop, settings, now), sync=self._sync(shop, now),
                            counts=self.counts(shop), attention_count=self.attention_count(shop))

    def _connection(self, shop: str, settings: ShopSettings, now: datetime) -> Connection:
        token = self.tokens.get(shop) if settings.aliexpress_connected else None
        if token is None:
            return Connection(state="disconnected", problem=settings.aliexpress_problem or
                              "AliExpress is not connected", expires_at=None, days_left=None)
        ends_ms = token.refresh_token_valid_time
        expires = datetime.fromtimestamp(ends_ms / 1000, UTC) if ends_ms else None
        if expires is not None and expires <= now:
            return Connection(state="disconnected", problem="AliExpress authorization expired", expires_at=expires,
                              days_left=0)
        days = (expires - now).days if expires else None
        state = "expiring" if days is not None and days < EXPIRING_DAYS else "connected"
        return Connection(state=state, problem=None, expires_at=expires, days_left=days)

    def _sync(self, shop: str, now: datetime) -> SyncInfo:
        last_slot = previous_slot(now)
        ran = None
        for slot in (last_slot, last_slot - timedelta(hours=12)):
            if self.search.scheduled_run(slot_of(slot)) is not None:
                ran = slot
                break
        manual_at = self.search.last_shop_sync_now(shop)
        manual = datetime.fromtimestamp(manual_at, UTC) if manual_at else None
        available = manual + timedelta(seconds=SHOP_SYNC_INTERVAL_S) if manual else None
        return SyncInfo(last_synced_at=max((t for t in (ran, manual) if t), default=None), last_scheduled_run=ran,
                        next_scheduled_run=last_slot + timedelta(hours=12),
                        shop_sync_available_at=available if available and available > now else None,
                        shop_sync_interval_minutes=SHOP_SYNC_INTERVAL_S // 60)


def previous_slot(now: datetime) -> datetime:
    """The latest scheduled sync time (00:00 or 12:00 UTC) at or before `now`."""
    at = now.astimezone(UTC)
    hour = max(h for h in SLOT_HOURS if h <= at.hour)
    return at.replace(hour=hour, minute=0, second=0, microsecond=0)


def _csv_row(order: Order, now: datetime) -> list[str]:
    row = row_of(order, now)
    items = "; ".join(f"{i.quantity} x {i.title}" + (f" ({i.variant_title})" if i.variant_title else "")
                      for i in row.items)
    return [row.name, row.order_id, row.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            OrderStatus(row.status).value, row.customer.name or "", row.customer.country or "", items,
            " ".join(row.ae_order_ids), " ".join(row.tracking_numbers), " ".join(t.carrier for t in row.tracking),
            row.total_price or "", row.currency or "", "; ".join(i.text for i in row.issues), row.reason or ""]


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
