"""Domain errors: what went wrong in the seller's words. Use cases raise these; each HTTP function maps them to
statuses in one place (`shared.web.install_error_handlers`), so no use case knows about HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base: a message for the caller plus optional details (field names, ids) that go into the answer."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(DomainError):
    """The request cannot be read (malformed JSON, unknown query value)."""


class Invalid(DomainError):
    """The request is readable but a field is wrong; `field` names it."""

    def __init__(self, message: str, field: str = "", **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class NotAuthorized(DomainError):
    """Unknown caller, bad token or bad signature: always the same answer, whichever it was."""

    def __init__(self, message: str = "unauthorized", **details: Any) -> None:
        super().__init__(message, **details)


def shown(value: str, limit: int = 40) -> str:
    """A caller's value quoted in an answer, cut to `limit` characters (an id can be a few KB long)."""
    return value if len(value) <= limit else f"{value[:limit]}…"


class NotFound(DomainError):
    """`what` names what was not found ("order 1001", "link for variant 55")."""

    def __init__(self, what: str, **details: Any) -> None:
        super().__init__(f"{what} not found", **details)
        self.what = what

    @classmethod
    def order(cls, order_id: str) -> NotFound:
        """The 404 of every use case given an order id: it names the order (cut, when the id is a few KB)."""
        return cls(f"order {shown(order_id)}")


class Conflict(DomainError):
    """The request is valid but the current state does not allow it."""


class TooLarge(DomainError):
    """The request is larger than allowed."""


class LimitReached(DomainError):
    """A per-shop limit; `retry_after` seconds until the caller may try again."""

    def __init__(self, message: str, retry_after: float, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency or a piece of configuration this feature needs is missing right now."""


class UpstreamFailed(DomainError):
    """A supplier or store API refused or failed a call the seller asked for (a bad gateway, not our outage)."""
