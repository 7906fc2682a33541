"""The Manage Orders page in a real headless Chromium (Debian's, driven by Playwright) against `dropship run`.

One story, as a seller would go through it: open the URL `make run` prints, sign in, switch tabs (counts and rows
match the API), place two orders and watch them move tab, search by an AliExpress order id and by a tracking
number, open a detail, fulfill one by hand, export CSV, see an HTML-injection attempt render as text, reconnect
AliExpress from the browser, change a setting; screenshots at a laptop and a phone width go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.page.browser import ARTIFACTS, INJECTED_NAME, INJECTED_TITLE, BrowserStack, Page, expect

pytestmark = pytest.mark.browser

TAB_IDS = ("all", "pending", "awaiting_order", "awaiting_payment", "awaiting_shipment", "fulfilled", "canceled",
           "failed")


def rows_shown(page: Page) -> list[str]:
    return page.locator("#rows tr").evaluate_all("rows => rows.map(r => r.dataset.orderId)")


def wait_rows(page: Page, expected: list[str]) -> None:
    expect(page.locator("#rows tr")).to_have_count(len(expected))
    assert rows_shown(page) == expected


def search(page: Page, text: str) -> None:
    page.fill("#search", text)
    page.click("#filters button[type=submit]")
    expect(page.locator("#view-note")).to_have_text("Search results from every tab.")


def test_the_page_banner_url_opens_the_page(stack: BrowserStack) -> None:
    # `make run` prints the API's URL; it opens the page (GET / → /app), as does the state file's "page".
    log = stack.log.read_text()
    assert stack.api in log
    root = stack.http.get(stack.api + "/", allow_redirects=True, timeout=10)
    assert root.status_code == 200 and root.url == stack.api + "/app"
    assert 'id="sign-in"' in root.text
    csp = root.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert stack.state["page"] == stack.api + "/app"


def test_a_seller_manages_orders_in_the_browser(stack: BrowserStack, page: Page) -> None:
    s = stack
    a, b, c, d, e = s.orders["a"], s.orders["b"], s.orders["injected"], s.orders["pending"], s.orders["bad"]

    # Sign in: the token goes to sessionStorage, never into the URL.
    page.goto(s.page_url)
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#sign-in-shop", s.shop)
    page.fill("#sign-in-token", s.token)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#shop-name")).to_have_text(s.shop)
    connection = s.seller("GET", "/overview").json()["connection"]
    # The simulator's test-mode authorization lasts two days: the banner warns before it ends.
    assert connection["state"] == "expiring", connection
    expect(page.locator("#connection-badge")).to_have_text(f"AliExpress expires in {connection['days_left']} d")
    expect(page.locator("#banner")).to_contain_text(f"expires in {connection['days_left']} day")
    assert s.token not in page.url
    assert page.evaluate("sessionStorage.getItem('dropship.session')").count(s.token) == 1
    expect(page.locator("#next-run")).to_contain_text(re.compile(r"(00|12):00 UTC"))

    # Tabs: each tab's count and rows are what the API says.
    for tab in TAB_IDS:
        page.click(f'#tabs a[data-tab="{tab}"]')
        expect(page.locator(f'#tabs a[data-tab="{tab}"]')).to_have_class(re.compile("active"))
        api = s.seller("GET", "/orders", params={"tab": tab, "limit": "50"}).json()
        wait_rows(page, [o["order_id"] for o in api["orders"]])
        for key, count in api["counts"].items():
            expect(page.locator(f'#tabs [data-count="{key}"]')).to_have_text(str(count))
        assert f"tab={tab}" in page.url or tab == "all"
    # A link reopens the same view.
    page.goto(s.page_url + "&tab=pending")
    wait_rows(page, [d])

    # The HTML-injection attempt renders as text: no element made of it, no script run.
    page.click('#tabs a[data-tab="awaiting_order"]')
    injected_row = page.locator(f'#rows tr[data-order-id="{c}"]')
    expect(injected_row.locator(".customer")).to_have_text(INJECTED_NAME + " Doe")
    expect(injected_row.locator(".item-title").first).to_have_text(INJECTED_TITLE)
    assert injected_row.locator("img, script, b").count() == 0
    assert page.evaluate("window.__pwned") is None
    s.screenshot(page, "orders-laptop")

    # Place two orders: per-order results, and they move from Awaiting Order to Awaiting Payment.
    before = s.counts()
    page.check(f'#rows tr[data-order-id="{a}"] input.pick')
    page.check(f'#rows tr[data-order-id="{b}"] input.pick')
    expect(page.locator("#selection-text")).to_have_text("2 selected on this page.")
    page.click("#place-selected")
    for order_id in (a, b):
        expect(page.locator(f'#results li[data-order-id="{order_id}"]')).to_have_attribute("data-outcome", "placed")
    s.wait_idle()
    page.reload()
    expect(page.locator('#tabs [data-count="awaiting_order"]')).to_have_text(str(before["awaiting_order"] - 2))
    expect(page.locator('#tabs [data-count="awaiting_payment"]')).to_have_text(str(before["awaiting_payment"] + 2))
    assert a not in rows_shown(page) and b not in rows_shown(page)
    page.click('#tabs a[data-tab="awaiting_payment"]')
    expect(page.locator(f'#rows tr[data-order-id="{a}"]')).to_be_visible()
    expect(page.locator(f'#rows tr[data-order-id="{b}"]')).to_be_visible()

    # Search by an AliExpress order id (the row links it to AliExpress).
    ae_id = s.seller("GET", f"/orders/{a}").json()["ae_orders"][0]["ae_order_id"]
    search(page, ae_id)
    wait_rows(page, [a])
    expect(page.locator(f'#rows tr[data-order-id="{a}"] .ae a')).to_have_text(ae_id)

    # The failed order says why, with the fix beside it.
    page.goto(s.page_url + "&tab=failed")
    failed = page.locator(f'#rows tr[data-order-id="{e}"]')
    expect(failed.locator(".issue.failed p")).to_contain_text("address")
    expect(failed.locator("button.action")).to_have_text("Retry")

    # Retry it from the row once the cause is fixed: back to Awaiting Order.
    failed.locator("button.action").click()
    expect(page.locator("#notice")).to_contain_text("back in Awaiting Order")
    assert s.seller("GET", f"/orders/{e}").json()["status"] == "awaiting_order"

    # Sync the whole shop now: last synced shows it; a second try hits the per-shop limit, which the page says.
    page.goto(s.page_url)
    page.click("#sync-shop")
    expect(page.locator("#notice")).to_contain_text("Synced")
    expect(page.locator("#last-synced")).to_contain_text(" UTC")  # a time, no longer the dash
    expect(page.locator("#sync-limit")).to_contain_text("Shop sync can run again at")
    page.click("#sync-shop")
    expect(page.locator("#notice")).to_contain_text("less than 10 minutes ago")

    # Open a detail: items with their linked SKU, the AliExpress order, the timeline.
    page.goto(s.page_url + f"&order={a}")
    expect(page.locator("#detail-status")).to_have_text("Awaiting Payment")
    expect(page.locator("#detail-items")).to_contain_text(s.product_title)
    expect(page.locator("#timeline li")).to_have_count(2)
    expect(page.locator("#timeline")).to_contain_text("Awaiting Order → Awaiting Payment")
    page.click("#detail-sync")  # sync this one order now
    expect(page.locator("#notice")).to_contain_text("Synced:")

    # Fulfill it by hand with the seller's own tracking number, then find it by that number.
    page.click("#detail-fulfill")
    page.fill("#dlg-tracking_number", "MANUAL7000123")
    page.fill("#dlg-carrier", "USPS")
    page.click("#dialog-ok")
    expect(page.locator("#notice")).to_contain_text("MANUAL7000123")
    expect(page.locator("#detail-packages")).to_contain_text("MANUAL7000123")
    s.screenshot(page, "detail-laptop")
    page.goto(s.page_url)
    search(page, "manual7000")
    wait_rows(page, [a])
    expect(page.locator(f'#rows tr[data-order-id="{a}"] .tracking a')).to_have_text("MANUAL7000123")

    # Export the current view as CSV: the file holds the view's orders.
    page.goto(s.page_url + "&tab=awaiting_payment")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    api_rows = s.seller("GET", "/orders", params={"tab": "awaiting_payment", "limit": "100"}).json()["orders"]
    assert sorted(r[1] for r in rows[1:]) == sorted(o["order_id"] for o in api_rows)
    assert rows[0][0] == "Order" and download.suggested_filename.endswith(".csv")

    # Reconnect AliExpress from the banner: AliExpress's authorize page, our callback, back on the page.
    page.goto(s.page_url)
    page.click("#banner #reconnect")
    expect(page.locator("#notice")).to_contain_text("AliExpress is connected.")
    assert "/app" in page.url and "code=" not in page.url and "state=" not in page.url

    # Settings: the connection, auto-place on, saved through the API.
    page.goto(s.page_url + "&page=settings")
    expect(page.locator("#settings-connection")).to_contain_text("Connected, until")
    page.check("#set-auto-place")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("Settings saved.")
    assert s.seller("GET", "/settings").json()["auto_place"] is True

    # Phone width: the same page, rows as cards.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(s.page_url + "&tab=awaiting_order")
    expect(page.locator("#shop-name")).to_be_visible()
    expect(page.locator("#connection-badge")).to_be_visible()
    expect(page.locator(f'#rows tr[data-order-id="{c}"]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    s.screenshot(page, "orders-phone")
    page.goto(s.page_url + f"&order={a}")
    expect(page.locator("#timeline")).to_be_visible()
    s.screenshot(page, "detail-phone")
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) >= ["detail-laptop.png", "detail-phone.png",
                                                                "orders-laptop.png", "orders-phone.png"]
    assert page.evaluate("window.__pwned") is None
    # The one failed request is the second shop sync, refused by the per-shop limit (429, shown above).
    unexpected = [m for m in s.console_errors if "status of 429" not in m]
    assert not unexpected, unexpected


def test_sign_in_refuses_a_wrong_token_and_keeps_it_out_of_urls(stack: BrowserStack, page: Page) -> None:
    page.goto(stack.page_url)
    page.fill("#sign-in-shop", stack.shop)
    page.fill("#sign-in-token", "not-the-token")
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#sign-in-error")).to_have_text("That shop and token do not match.")
    assert page.evaluate("sessionStorage.getItem('dropship.session')") is None
    assert "not-the-token" not in page.url
    assert all("not-the-token" not in url for url in stack.requested_urls)
