"""Response-shape helpers: the documented variations a real client must survive (DS API notes §6)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Shape:
    """How one response is rendered.

    simplify: plain arrays instead of `{"<wrapper>": [...]}` objects (the request's `simplify` parameter).
    bare_single: a one-element list becomes the bare element.
    numbers_as_strings: ids, counts and timestamps become strings.
    prefix: `aeop_` or `ae_` for generated wrapper names.
    """

    simplify: bool = False
    bare_single: bool = False
    numbers_as_strings: bool = False
    prefix: str = "aeop_"

    def lst(self, items: list[Any], wrapper: str) -> Any:
        inner: Any = items[0] if self.bare_single and len(items) == 1 else items
        return inner if self.simplify else {wrapper: inner}

    def num(self, value: int) -> int | str:
        return str(value) if self.numbers_as_strings else value


def money(amount: Decimal, currency: str = "USD") -> dict[str, str]:
    return {"amount": str(amount.quantize(Decimal("0.01"))), "currency_code": currency}


def response_key(api_name: str) -> str:
    return api_name.replace(".", "_") + "_response"
