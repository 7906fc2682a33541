"""The simulator's options (`SimConfig`): gateway behaviour, response shapes, token lifetimes, order timings."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from simulators.aliexpress.protocol import ControlError

DAY = 86400.0
ERROR_ENVELOPES = ("auto", "wrapped", "flat", "mixed")
REPEAT_MODES = ("same_ids", "repeated_error")
# Which token refresh API the gateway knows: both, only /auth/token/refresh ("plain"), or only
# /auth/token/security/refresh ("security", as AliExpress's DS sample code calls it). The other one is
# answered like any API that does not exist (InvalidApiPath).
REFRESH_APIS = ("both", "plain", "security")


@dataclass
class SimConfig:
    # Gateway
    timestamp_tolerance: float = 7200.0
    timestamp_uses_sim_clock: bool = False  # False: checked against the real clock, so advance() is harmless
    error_envelope: str = "auto"  # auto (wrapped on /sync, flat on /rest) | wrapped | flat | mixed
    rate_limit: float | None = None  # calls/s for the whole app, sliding 1 s window
    latency: float = 0.0  # seconds added to every API call
    # Response shapes
    bare_single: bool = False  # one-element lists as a bare object
    numbers_as_strings: bool = False  # ids, counts and timestamps as strings
    wrapper_prefix: str = "aeop_"  # or "ae_"
    randomize_shapes: bool = False  # pick the three options above at random per response
    # Tokens (seconds)
    access_token_ttl: float = DAY
    refresh_token_ttl: float = 2 * DAY
    code_ttl: float = 600.0
    rotate_refresh_token: bool = True  # a refresh token works once
    refresh_api: str = "both"  # both | plain | security (see REFRESH_APIS)
    # Orders (seconds, on the simulated clock)
    auto_pay: bool = False
    pay_timeout: float | None = None  # unpaid orders close after this
    risk_control_seconds: float = 0.0
    ship_delay: float = DAY
    packages_per_order: int = 1
    package_interval: float = DAY
    tracking_number_delay: float = 0.0  # mail_no stays "" this long after shipping
    delivery_delay: float | None = 10 * DAY  # None: never auto-finish
    idempotency_window: float = DAY
    repeat_mode: str = "same_ids"  # same_ids | repeated_error, for a repeated out_order_id


def updated(config: SimConfig, options: dict[str, Any]) -> SimConfig:
    """A copy of `config` with `options` applied; ControlError for unknown options or bad enum values."""
    unknown = set(options) - {f.name for f in fields(SimConfig)}
    if unknown:
        raise ControlError(f"unknown option(s): {sorted(unknown)}")
    if options.get("error_envelope", "auto") not in ERROR_ENVELOPES:
        raise ControlError("error_envelope must be auto, wrapped, flat or mixed")
    if options.get("repeat_mode", "same_ids") not in REPEAT_MODES:
        raise ControlError("repeat_mode must be same_ids or repeated_error")
    if options.get("refresh_api", "both") not in REFRESH_APIS:
        raise ControlError("refresh_api must be both, plain or security")
    return replace(config, **options)
