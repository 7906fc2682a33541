"""The SES adapter's error mapping (did SES surely send nothing, refuse for good, or maybe send?) over a stub
client, and the email's rendering. (SES itself, under moto: tests/tracking/test_notify.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from shared.data.mail import (
    SES_CONFIG,
    MailNotSent,
    MailOutcomeUnknown,
    MailRejected,
    RenderedEmail,
    SesMailer,
    ses_client,
)
from shared.logic.notify import render_tracking_email, tracking_link
from shared.models.order import Customer, LineItem, Order, OrderStatus, Package, PackageLine

EMAIL = RenderedEmail(subject="Your order #1001 is on its way", text="text", html="<p>html</p>")


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} said no"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail")


class StubSes:
    """Answers send_email with the scripted errors first, then a message id."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []

    def send_email(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.errors:
            raise self.errors.pop(0)
        return {"MessageId": "msg-1"}


def mailer(*errors: Exception) -> tuple[SesMailer, StubSes, list[float]]:
    stub, sleeps = StubSes(*errors), []
    return SesMailer(stub, sleep=sleeps.append), stub, sleeps


def test_sends_text_and_html_and_returns_the_message_id() -> None:
    ses, stub, _ = mailer()
    assert ses.send("orders@shop.example", "ana@example.com", EMAIL) == "msg-1"
    (call,) = stub.calls
    assert call["Source"] == "orders@shop.example" and call["Destination"] == {"ToAddresses": ["ana@example.com"]}
    assert call["Message"]["Subject"]["Data"] == EMAIL.subject
    assert call["Message"]["Body"]["Html"]["Data"] == EMAIL.html and call["Message"]["Body"]["Text"]["Data"] == "text"


def test_no_botocore_retries_ours_only() -> None:
    # botocore's "max_attempts" counts retries; one attempt in all means the email is posted once per send().
    assert SES_CONFIG.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert ses_client().meta.config.retries["total_max_attempts"] == 1


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue",
                                  "AccountSendingPausedException"])
def test_refusals_for_good(code: str) -> None:
    ses, stub, _ = mailer(client_error(code))
    with pytest.raises(MailRejected, match=code):
        ses.send("a@b.example", "c@d.example", EMAIL)
    assert len(stub.calls) == 1


def test_throttling_is_retried_here_because_nothing_was_sent() -> None:
    ses, stub, sleeps = mailer(client_error("Throttling"), client_error("ThrottlingException"))
    assert ses.send("a@b.example", "c@d.example", EMAIL) == "msg-1"
    assert len(stub.calls) == 3 and sleeps == [0.4, 0.8]
    ses, stub, _ = mailer(*[client_error("Throttling")] * 3)
    with pytest.raises(MailNotSent, match="Throttling"):
        ses.send("a@b.example", "c@d.example", EMAIL)
    assert len(stub.calls) == 3


@pytest.mark.parametrize("error", [client_error("ServiceUnavailable", 503),
                                   EndpointConnectionError(endpoint_url="https://email.example"),
                                   ConnectTimeoutError(endpoint_url="https://email.example")])
def test_errors_that_surely_sent_nothing(error: Exception) -> None:
    ses, stub, _ = mailer(error)
    with pytest.raises(MailNotSent):
        ses.send("a@b.example", "c@d.example", EMAIL)
    assert len(stub.calls) == 1


@pytest.mark.parametrize("error", [ReadTimeoutError(endpoint_url="https://email.example"),
                                   ConnectionClosedError(endpoint_url="https://email.example")])
def test_lost_answers_may_have_sent(error: Exception) -> None:
    ses, stub, _ = mailer(error)
    with pytest.raises(MailOutcomeUnknown):
        ses.send("a@b.example", "c@d.example", EMAIL)
    assert len(stub.calls) == 1  # never retried: a retry could send twice


def package(url: str | None) -> Package:
    return Package(tracking_number="YT000000009999", carrier="YunExpress", tracking_url=url,
                   line_items=[PackageLine(line_item_id="9", quantity=2)])


def test_plain_text_part_and_escaping() -> None:
    order = Order(shop="demo-store", order_id="1", name="#1001", status=OrderStatus.FULFILLED,
                  created_at=datetime(2026, 1, 1, tzinfo=UTC), customer=Customer(first_name="<Bob>"),
                  line_items=[LineItem(id="9", title="Mug & <Cup>", variant_title="Red", quantity=2)])
    email = render_tracking_email(order, package("javascript:alert(1)"))
    assert "2 x Mug & <Cup> (Red)" in email.text and "YT000000009999" in email.text
    assert "Mug &amp; &lt;Cup&gt;" in email.html and "<Bob>" not in email.html
    assert "javascript:" not in email.html  # only http(s) links; else the universal tracking page
    assert email.subject == "Your order #1001 is on its way"


def test_tracking_link_falls_back_to_the_universal_page() -> None:
    assert tracking_link(package("https://track.example/YT")) == "https://track.example/YT"
    assert tracking_link(package(None)) == "https://t.17track.net/en#nums=YT000000009999"
