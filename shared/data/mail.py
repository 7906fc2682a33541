"""The SES adapter: sends one rendered email and says, by the exception it raises, whether SES may have sent it.

SES has no idempotency key, so the difference matters to the caller (shared.logic.notify):
- `MailRejected`: SES refused this email for good (address, sender identity...);
- `MailNotSent`: SES surely sent nothing (it answered with an error, or no connection was opened): safe to retry;
- `MailOutcomeUnknown`: the answer was lost; SES may have sent it.
The client (`ses_client`, built by the wiring) has no botocore retries: after a lost answer a retry could send
the email twice; retries are ours, only where SES surely sent nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# One attempt in all ("max_attempts" would count retries: 1 there let botocore send again after a read timeout).
SES_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10)
# SES answers that will not heal by retrying the same email.
REJECTED_CODES = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue",
                            "ConfigurationSetDoesNotExistException", "AccountSendingPausedException",
                            "ConfigurationSetSendingPausedException"})
THROTTLED_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})


def ses_client() -> Any:
    """The SES client, without botocore retries (built by the wiring, once per container)."""
    return boto3.client("ses", config=SES_CONFIG)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class MailRejected(Exception):
    """SES refused this email for good (address, sender identity...)."""


class MailNotSent(Exception):
    """SES surely sent nothing (it answered with an error, or no connection): safe to try again."""


class MailOutcomeUnknown(Exception):
    """The answer was lost: SES may have sent the email."""


class SesMailer:
    def __init__(self, client: Any, *, throttle_retries: int = 2,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._throttle_retries = throttle_retries
        self._sleep = sleep

    def send(self, sender: str, recipient: str, email: RenderedEmail) -> str:
        """The SES message id."""
        attempt = 0
        while True:
            try:
                response = self.client.send_email(
                    Source=sender,
                    Destination={"ToAddresses": [recipient]},
                    Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"},
                             "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"},
                                      "Html": {"Data": email.html, "Charset": "UTF-8"}}})
                return str(response["MessageId"])
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code in REJECTED_CODES:
                    message = error.response.get("Error", {}).get("Message", "")
                    raise MailRejected(f"{code}: {message}"[:300]) from error
                if code in THROTTLED_CODES and attempt < self._throttle_retries:
                    attempt += 1
                    self._sleep(0.2 * 2**attempt)  # throttled: surely not sent, so retrying here is safe
                    continue
                raise MailNotSent(code or "ClientError") from error
            except (EndpointConnectionError, ConnectTimeoutError) as error:
                raise MailNotSent(type(error).__name__) from error
            except (ReadTimeoutError, ConnectionClosedError) as error:
                raise MailOutcomeUnknown(type(error).__name__) from error
