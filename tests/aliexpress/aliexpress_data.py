"""Constants and helpers shared by the AliExpress tests (imported; conftest.py holds the fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The team's reference folder sits beside the repo (as in tests/conftest.py).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aliexpress"

APP_KEY = "500123"
APP_SECRET = "sim-secret-0123456789"

# Two products from two supplier stores: one multi-SKU, one single-SKU.
BOTTLE = "1005008453688391"
SKIRT = "1005006001234567"
BOTTLE_SILVER = "12000037020000371"
BOTTLE_BLACK = "12000037020000372"
SKIRT_SKU = "12000036000000001"

ADDRESS: dict[str, Any] = {
    "address": "1 Main St",
    "city": "Austin",
    "province": "Texas",
    "country": "US",
    "zip": "78701",
    "full_name": "Jo Doe",
    "mobile_no": "5125550100",
    "phone_country": "+1",
}


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


class SleepRecorder:
    """Stands in for time.sleep: backoff is asserted on, never waited for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
