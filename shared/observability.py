"""One place for Powertools logging, tracing and metrics (service name and namespace from env).

The tracer is Powertools' only where traces are sent: on Lambda with tracing on. Elsewhere (tests, the local
runtime, `POWERTOOLS_TRACE_DISABLED`) its decorators are pass-throughs and the X-Ray SDK is never imported —
about half a second of every cold start otherwise, for traces nobody receives.

Where traces are sent, each library the X-Ray SDK can trace (botocore, requests, ...: what Powertools' default
`patch_all` patches) is patched when the function imports it, not imported to be patched: `patch_all` imports
requests in a function that makes no HTTP call (about a sixth of an `import boto3`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

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


# The X-Ray SDK's name of a library when it is not the module's (`aws_xray_sdk.ext.<name>` patches `<module>`).
_PATCHED_MODULE = {"sqlalchemy_core": "sqlalchemy"}


def _tracer() -> Any:
    if not tracing_on():
        return PassThroughTracer()
    import wrapt
    from aws_lambda_powertools import Tracer
    from aws_xray_sdk.core import patch
    from aws_xray_sdk.core.patcher import NO_DOUBLE_PATCH  # the libraries patch_all patches

    tracer = Tracer(service=SERVICE, auto_patch=False)

    def patch_when_imported(library: str) -> None:
        # Called at once when the module is imported already. Errors are logged, not raised (as patch_all does).
        wrapt.register_post_import_hook(lambda _module: patch([library], raise_errors=False),
                                        _PATCHED_MODULE.get(library, library))

    for library in NO_DOUBLE_PATCH:
        patch_when_imported(library)
    return tracer


logger = Logger(service=SERVICE)
tracer = _tracer()
metrics = Metrics()


def add_counts(**counts: int) -> None:
    """One Count metric a keyword: `add_counts(FulfillmentCreated=2, PushRefused=0)`."""
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
