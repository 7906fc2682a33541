"""AliExpress product ids from what sellers paste: every common product URL form, with or without tracking
parameters, with or without the scheme, any country site (aliexpress.com/.us/.ru, pt./m./vi. …), or the id."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from shared.models.errors import Invalid

ID = r"(\d{8,20})"
_BARE_ID = re.compile(rf"^{ID}$")
_PATHS = [
    re.compile(rf"/item/(?:[^/]+/)?{ID}\.html?$"),  # /item/1005….html, old /item/Some-Title/3281….html
    re.compile(rf"/i/{ID}\.html?$"),  # /i/1005….html
    re.compile(rf"/store/product/[^/]+/\d+_{ID}\.html?$"),  # old store pages
    re.compile(rf"/(?:item|product|goods)/{ID}/?$"),  # apps and mirrors without .html
]
_QUERY_KEYS = ("productId", "productid", "product_id", "itemId", "item_id", "objectId")
_SHORT_HOSTS = ("s.click.aliexpress.com", "a.aliexpress.com", "click.aliexpress.com")
_HOST = re.compile(r"(^|\.)aliexpress\.(com|us|ru|es|fr|it|de|nl|pl|pt|com\.br)$|(^|\.)aliexpress\.[a-z]{2,3}$")
MAX_INPUT_CHARS = 2048


def product_id_from(text: str) -> str:
    """The AliExpress product id in `text`; Invalid (field "urls") saying why there is none."""
    raw = text.strip()
    if not raw:
        raise Invalid("an empty line is not an AliExpress product URL or id", field="urls")
    if len(raw) > MAX_INPUT_CHARS:
        raise Invalid("that URL is longer than 2,048 characters", field="urls")
    if _BARE_ID.match(raw):
        return raw
    url = raw if "://" in raw else f"https://{raw}"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    shown = raw if len(raw) <= 80 else raw[:80] + "…"
    if host in _SHORT_HOSTS:
        raise Invalid(f"{shown} is a short link: open it in a browser and paste the product page's address",
                      field="urls")
    if not _HOST.search(host):
        raise Invalid(f"{shown} is not an AliExpress URL (nor a product id)", field="urls")
    path = unquote(parts.path).rstrip("/") or "/"
    for pattern in _PATHS:
        if found := pattern.search(path):
            return found.group(1)
    query = parse_qs(parts.query)
    for key in _QUERY_KEYS:
        for value in query.get(key, []):
            if _BARE_ID.match(value.strip()):
                return value.strip()
    raise Invalid(f"{shown} is an AliExpress page but not a product page", field="urls")
