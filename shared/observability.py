"""One place for Powertools logging, tracing and metrics (service name and namespace from env).

The tracer is Powertools' only where traces are sent: on Lambda with tracing on. Elsewhere (tests, the local
runtime, `POWERTOOLS_TRACE_DISABLED`) its decorators are pass-throughs and the X-Ray SDK is never imported —
about half a second of every cold start otherwise, for traces nobody receives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "DropshipConnector")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "dropship")


def tracing_on(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Powertools' own rule: off when disabled explicitly, outside Lambda, and under `sam local`."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    return bool(environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not environ.get("AWS_SAM_LOCAL")


class PassThroughTracer:
    """The subset of Powertools' Tracer this code uses, doing nothing: `capture_method` and
    `capture_lambda_handler`, bare or with keyword arguments."""

    def capture_method(self, method: Callable[..., Any] | None = None, **_: Any) -> Any:
        return method if method is not None else (lambda fn: fn)

    def capture_lambda_handler(self, handler: Callable[..., Any] | None = None, **_: Any) -> Any:
        return handler if handler is not None else (lambda fn: fn)


def _tracer() -> Any:
    if not tracing_on():
        return PassThroughTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


logger = Logger(service=SERVICE)
tracer = _tracer()
metrics = Metrics()
