"""Response-shape helpers: the documented variations a real client must survive (DS API notes §6), and the
per-response choice of shape and error envelope."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.aliexpress.config import SimConfig


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

    def num_id(self, value: str) -> int | str:
        """An id the platform sends as a number when it is one (product, store and item ids)."""
        return self.num(int(value)) if value.isdigit() else value


def money(amount: Decimal) -> dict[str, str]:
    return {"amount": str(amount.quantize(Decimal("0.01"))), "currency_code": "USD"}


def response_key(api_name: str) -> str:
    return api_name.replace(".", "_") + "_response"


def choose_shape(config: SimConfig, rng: random.Random, simplify: bool) -> Shape:
    """The configured shape, or a random one per response with `randomize_shapes`."""
    if config.randomize_shapes:
        return Shape(
            simplify=simplify,
            bare_single=rng.random() < 0.5,
            numbers_as_strings=rng.random() < 0.5,
            prefix=rng.choice(("aeop_", "ae_")),
        )
    return Shape(simplify, config.bare_single, config.numbers_as_strings, config.wrapper_prefix)


def choose_envelope(config: SimConfig, rng: random.Random, system_api: bool, override: str | None = None) -> str:
    """The envelope of one error response, `wrapped` or `flat` (`auto`: flat on system APIs only)."""
    mode = override or config.error_envelope
    if mode == "mixed":
        return rng.choice(("wrapped", "flat"))
    if mode == "auto":
        return "flat" if system_api else "wrapped"
    return mode
