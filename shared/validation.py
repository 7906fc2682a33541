"""pydantic's validation errors said without the values that failed (for logs and error messages).

pydantic's own message quotes each failing input: a token response holds the tokens, an order image the
customer's email and address, a queue message anything at all. Imports nothing of ours.
"""

from __future__ import annotations

from pydantic import ValidationError

MAX_SUMMARY = 500


def validation_summary(error: ValidationError, *, root: str = "") -> str:
    """`location: message` of each error, `; `-joined, at most MAX_SUMMARY characters, never an input value.
    `root` names the location of an error about the whole value (pydantic gives it an empty one)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg']}"
                     for e in error.errors(include_input=False, include_url=False))[:MAX_SUMMARY]
