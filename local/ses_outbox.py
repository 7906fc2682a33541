"""The emails the local SES "sent": moto keeps every message it accepted; this reads them back.

From another process (the CLI): moto's server publishes its models at `GET {moto}/moto-api/data.json` (the
data behind moto's dashboard, `/moto-api/`); SES's accepted messages are its `ses.Message` entries (also
`RawMessage` and `TemplateMessage`), in the order they were sent. In the stack's own process (the demo) the
same list is `ses_backends[account][region].sent_messages` — moto documents both as its way to inspect sent
mail, and notes the format is internal (checked against moto 5.2.5, pinned in requirements.lock).

What is shown is kept to what a reader needs: the recipient masked (`c***@example.com`), the order name and
tracking number parsed from the email; the body (which greets the customer by name) only when asked for.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import requests

ORDER_NAME = re.compile(r"order (#?\S+?)(?:\s|$)")
TRACKING_NUMBER = re.compile(r"Tracking number:?\s+([A-Za-z0-9-]+)")


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    sender: str
    to: list[str]
    subject: str
    body: str  # as SES got it: the HTML part when there was one (moto keeps one part), else the text

    @property
    def order_name(self) -> str | None:
        match = ORDER_NAME.search(self.subject)
        return match.group(1) if match else None

    @property
    def tracking_number(self) -> str | None:
        match = TRACKING_NUMBER.search(self.text)
        return match.group(1) if match else None

    @property
    def text(self) -> str:
        """The body as plain text (links shown as "label <url>")."""
        return html_to_text(self.body) if "<" in self.body and ">" in self.body else self.body

    def view(self, *, body: bool = False) -> dict[str, Any]:
        """What the CLI shows: masked recipients; the body only when asked for."""
        shown: dict[str, Any] = {"message_id": self.message_id, "order": self.order_name,
                                 "to": [mask_address(a) for a in self.to], "subject": self.subject,
                                 "tracking_number": self.tracking_number}
        if body:
            shown["body"] = self.text
        return shown


def mask_address(address: str) -> str:
    """`customer5550001@example.com` → `c***@example.com`: enough to tell emails apart, not to write to."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def _from_model(entry: dict[str, Any]) -> SentEmail:
    destinations = entry.get("destinations") or {}
    if isinstance(destinations, dict):
        to = [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destinations.get(key) or []]
    else:  # RawMessage keeps a plain list of recipients
        to = [str(a) for a in destinations]
    body = str(entry.get("body") or entry.get("raw_data") or entry.get("template_data") or "")
    return SentEmail(message_id=str(entry.get("id", "")), sender=str(entry.get("source") or ""), to=to,
                     subject=str(entry.get("subject") or ""), body=body)


class OutboxUnavailable(Exception):
    """The local SES's messages could not be read."""


def fetch_sent(moto_url: str, api_url: str | None = None, timeout: float = 30) -> list[SentEmail]:
    """Every email moto's SES accepted, oldest first, read over HTTP.

    From the runtime's `GET {api}/_local/emails` when it has that endpoint (it reads `read_backend()` in the
    stack's process); otherwise from moto's `/moto-api/data.json`, which dumps every model moto tracks and so
    grows with the stack's age (stream iterators: about 0.5 MB a minute).
    """
    session = requests.Session()
    session.trust_env = False
    try:
        if api_url:
            answer = session.get(f"{api_url.rstrip('/')}/_local/emails", timeout=timeout)
            if answer.status_code == 200:
                return [_from_model(entry) for entry in answer.json().get("emails", [])]
        response = session.get(f"{moto_url.rstrip('/')}/moto-api/data.json", timeout=timeout)
        response.raise_for_status()
        ses = response.json().get("ses", {})
    except (requests.RequestException, ValueError) as error:
        raise OutboxUnavailable(f"the local SES's messages could not be read: {error}") from error
    return [_from_model(entry) for kind in ("Message", "RawMessage", "TemplateMessage") for entry in ses.get(kind, [])]


def read_backend(account: str = "123456789012", region: str = "us-east-1") -> list[SentEmail]:
    """The same, in the process that hosts moto (moto's documented `sent_messages`)."""
    from moto.ses.models import ses_backends

    return [_from_model(backend_entry(m)) for m in ses_backends[account][region].sent_messages]


def backend_entry(message: Any) -> dict[str, Any]:
    """One of moto's sent messages as the JSON `_from_model` reads (what `GET /_local/emails` would answer)."""
    return {k: getattr(message, k, None) for k in ("id", "source", "subject", "body", "destinations", "raw_data",
                                                   "template_data")}


def as_dicts(emails: list[SentEmail], *, body: bool = False) -> list[dict[str, Any]]:
    return [e.view(body=body) for e in emails]


class _Text(HTMLParser):
    BLOCK = {"p", "br", "tr", "div", "ul", "ol", "table", "h1", "h2", "h3"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "script"):
            self._skip += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "td":
            self.parts.append(" ")
        elif tag == "a":
            self._href.append(dict(attrs).get("href"))
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "script"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href:
                self.parts.append(f" <{href}>")
        if tag in ("p", "table", "ul", "ol"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return html.unescape(re.sub(r"\n{3,}", "\n\n", text).strip())
