"""Supplier HTML made safe and clean for the store: the store never executes supplier HTML.

1. Whole blocks that are AliExpress promotion (store banners, coupons, "related products" modules, links to
   AliExpress pages) and tracking pixels are removed with their content (a small tree walk: a sanitiser keeps
   the content of the tags it strips).
2. nh3 (Ammonia, a maintained sanitiser) keeps an allow-list of tags and attributes: scripts and styles go with
   their content, `style`/`class`/event handlers go, links get `rel="noopener noreferrer nofollow"`, only
   http(s) URLs stay.
3. Paragraphs that are shop talk ("welcome to my store", "add to wish list", coupons) are dropped.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

ALLOWED_TAGS = {"p", "br", "div", "span", "strong", "b", "em", "i", "u", "ul", "ol", "li", "h1", "h2", "h3",
                "h4", "h5", "h6", "table", "thead", "tbody", "tr", "td", "th", "img", "a", "blockquote", "hr"}
ALLOWED_ATTRIBUTES = {"img": {"src", "alt", "width", "height"}, "a": {"href", "title"},
                      "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
PROMO_CLASS = re.compile(r"promo|coupon|recommend|related|store-?(?:banner|header|card)|shop-?(?:banner|card)|"
                         r"detailmodule_(?:dynamic|marketing)|hot-?sale|aliexpress-?ad", re.I)
TRACKER_SRC = re.compile(r"google-analytics|googletagmanager|doubleclick|facebook\.com/tr|/pixel|beacon|"
                         r"analytics|/track|\.gif\?|spm=|scm=", re.I)
ALIEXPRESS_LINK = re.compile(r"^(https?:)?//([a-z0-9-]+\.)*(aliexpress\.[a-z.]+|alibaba\.com|alicdn\.com/.*\.html)",
                             re.I)
PROMO_TEXT = re.compile(r"welcome to (?:my|our) (?:shop|store)|add (?:to )?(?:my )?(?:wish ?list|favou?rites?)|"
                        r"follow (?:my|our) (?:shop|store)|coupons?\b|store promotion|click (?:here|the link)|"
                        r"(?:buy|order) more,? save more|feedback 5 stars|dear (?:friend|customer)s?,", re.I)
VOID = {"br", "img", "hr", "input", "meta", "link", "source", "wbr", "area", "col", "embed", "param", "track"}
DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "form", "svg",
                     "video", "audio", "canvas"}
# An innermost block (no other block opens inside it): only shop-talk paragraphs go, never what holds them.
_BLOCK = re.compile(r"<(p|li|h[1-6]|div)>((?:(?!<(?:p|li|h[1-6]|div)[ >]).)*?)</\1>", re.S)
_TAG = re.compile(r"<[^>]+>")


class _PromoFilter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self._skip: list[str] = []  # open tags of the subtree being dropped

    def _dropped(self, tag: str, attrs: dict[str, str]) -> bool:
        marker = f"{attrs.get('class', '')} {attrs.get('id', '')}"
        if tag in DROP_WITH_CONTENT or PROMO_CLASS.search(marker):
            return True
        if tag == "a" and ALIEXPRESS_LINK.search(attrs.get("href", "").strip()):
            return True
        if tag == "img":
            src = attrs.get("src", "")
            tiny = attrs.get("width", "").strip() in ("0", "1") or attrs.get("height", "").strip() in ("0", "1")
            return tiny or bool(TRACKER_SRC.search(src))
        return False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if self._skip:
            if tag not in VOID:
                self._skip.append(tag)
            return
        if self._dropped(tag, values):
            if tag not in VOID:
                self._skip.append(tag)
            return
        rendered = "".join(f' {k}="{escape(v, quote=True)}"' for k, v in values.items())
        self.out.append(f"<{tag}{rendered}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(escape(data, quote=False))

    def handle_entityref(self, name: str) -> None:
        if not self._skip:
            self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if not self._skip:
            self.out.append(f"&#{name};")


def _without_promo_blocks(html: str) -> str:
    parser = _PromoFilter()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def _without_shop_talk(html: str) -> str:
    def keep(match: re.Match[str]) -> str:
        text = _TAG.sub(" ", match.group(2))
        return "" if PROMO_TEXT.search(text) else match.group(0)

    return _BLOCK.sub(keep, html)


def clean_description(html: str) -> str:
    """Supplier HTML → store-safe HTML (see the module's docstring)."""
    if not html or not html.strip():
        return ""
    import nh3  # here, not at import: a function without the package still loads (only cleaning needs it)

    filtered = _without_promo_blocks(html)
    safe = nh3.clean(filtered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)
    cleaned = _without_shop_talk(safe)
    cleaned = re.sub(r"<(p|div|span)>\s*</\1>", "", cleaned)
    return re.sub(r"\n\s*\n+", "\n", cleaned).strip()
