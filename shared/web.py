"""HTTP answers for every HTTP function: one JSON error shape, one mapping from domain errors to statuses.

    {"error": "<sentence>", ...details}      (details: field, order_status, retry_after, …)

Handlers call `install_error_handlers(app)` once; routes raise domain errors (`shared.models.errors`) or let
pydantic's ValidationError through (→ 422 naming the field). Bodies are read from the event's raw bytes
(`request_body`) and parsed by `parse_body`: Powertools' `decoded_body` decodes them as UTF-8 and raises on
anything else.

The HTTP functions take Powertools' resolver (`APIGatewayHttpResolver`, `Router`, `Response`, `content_types`) from
here: the package `aws_lambda_powertools.event_handler` imports every resolver in its `__init__` (AppSync and
asyncio, Bedrock, VPC Lattice, Lambda function URLs...) while these functions use one, the API Gateway HTTP one.
`_without_every_resolver` lets its submodules import without that `__init__`; a name asked of the package itself
(`from aws_lambda_powertools.event_handler import X`, anywhere) runs the real `__init__` then, so nothing changes
but when the rest is paid for. Import this module before anything under `aws_lambda_powertools.event_handler`.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import importlib.util
import json
import math
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

_EVENT_HANDLER = "aws_lambda_powertools.event_handler"


def _without_every_resolver() -> None:
    """Put Powertools' event handler package in sys.modules without running its `__init__` (see above): its
    submodules import as usual, and its `__init__` runs the first time a name that is not a submodule is asked."""
    if _EVENT_HANDLER in sys.modules:
        return  # imported already: whole, or by this function
    import aws_lambda_powertools

    spec = importlib.util.find_spec(_EVENT_HANDLER)
    if spec is None or spec.loader is None:
        return
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)
    lock = threading.RLock()

    def whole_package(name: str) -> Any:
        if name.startswith("__") and name != "__all__":
            return _no_attribute(name)  # probes (`__wrapped__`, `__file__`...) are no reason to import everything
        if name != "__all__":
            try:  # a submodule (`from aws_lambda_powertools.event_handler import content_types`): just it
                return importlib.import_module(f"{_EVENT_HANDLER}.{name}")
            except ModuleNotFoundError as error:
                if error.name != f"{_EVENT_HANDLER}.{name}":
                    raise
        with lock:
            if package.__dict__.get("__getattr__") is whole_package:
                package.__dict__["__getattr__"] = _no_attribute
                loader.exec_module(package)  # the real __init__, in this module: every resolver
                package.__dict__.pop("__getattr__", None)
        if name in package.__dict__:
            return package.__dict__[name]
        return _no_attribute(name)

    package.__dict__["__getattr__"] = whole_package
    sys.modules[_EVENT_HANDLER] = package
    aws_lambda_powertools.event_handler = package  # type: ignore[attr-defined]


def _no_attribute(name: str) -> Any:
    raise AttributeError(f"module {_EVENT_HANDLER!r} has no attribute {name!r}")


_without_every_resolver()

# After the loader above (E402): these import Powertools' API Gateway resolver without every other resolver.
from aws_lambda_powertools.event_handler import content_types  # noqa: E402
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response  # noqa: E402
from aws_lambda_powertools.event_handler.api_gateway import Router as Router  # noqa: E402  (for the routes)
from pydantic import BaseModel, ValidationError  # noqa: E402

from shared.models.errors import (  # noqa: E402
    BadRequest,
    Conflict,
    DomainError,
    Invalid,
    LimitReached,
    NotAuthorized,
    NotFound,
    TooLarge,
    Unavailable,
    UpstreamFailed,
    shown,
)
from shared.models.json_body import read_json  # noqa: E402

ModelT = TypeVar("ModelT", bound=BaseModel)

STATUS_OF: dict[type[DomainError], int] = {
    BadRequest: 400,
    NotAuthorized: 401,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Invalid: 422,
    LimitReached: 429,
    UpstreamFailed: 502,
    Unavailable: 503,
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, default=str), headers=headers)


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **details: Any) -> Response:
    return json_response({"error": message, **details}, status, headers)


def status_of(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 400


def domain_error_response(error: DomainError) -> Response:
    headers = None
    details = dict(error.details)
    if isinstance(error, LimitReached):
        seconds = max(1, math.ceil(error.retry_after))
        headers = {"Retry-After": str(seconds)}
        details["retry_after"] = seconds
    return error_response(status_of(error), error.message, headers, **details)


def validation_error(error: ValidationError) -> Invalid:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return Invalid(f"{field}: {first['msg']}" if field else str(first["msg"]), field=field)


def request_body(event: Mapping[str, Any]) -> bytes:
    """The bytes the client sent: API Gateway gives them base64-encoded (binary bodies) or as text.

    Text that holds lone surrogates stands for bytes that were not UTF-8 (the only way a JSON event can carry
    them): they are given back as those bytes, so a signature over the bytes sent still verifies.
    """
    body = event.get("body")
    if not body:
        return b""
    if not isinstance(body, str):
        raise BadRequest("body is not valid")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise BadRequest("body is not valid base64") from error
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return body.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return body.encode("utf-8", "surrogatepass")


def parse_body(source: Mapping[str, Any] | str | bytes | None, model: type[ModelT]) -> ModelT:
    """The request body as `model`: pass the event (`router.current_event`), or text or bytes already read.

    BadRequest for a body that is not UTF-8, not JSON or nested too deeply; pydantic's ValidationError (→ 422
    naming the field) for the wrong shape. No body is an empty object.
    """
    if source is None or isinstance(source, str | bytes):
        raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else (source or b"")
    else:
        raw = request_body(source)
    return model.model_validate(read_json(raw) if raw else {})


def install_error_handlers(app: APIGatewayHttpResolver,
                           on_error: Callable[[DomainError], None] | None = None) -> None:
    """Map domain errors, pydantic errors and unknown routes to the one JSON error shape."""

    def answer(error: DomainError) -> Response:
        if on_error is not None:
            on_error(error)
        return domain_error_response(error)

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response:
        return answer(error)

    @app.exception_handler(ValidationError)
    def _invalid(error: ValidationError) -> Response:
        return answer(validation_error(error))

    @app.not_found
    def _no_route(_: Exception) -> Response:
        # An unknown path (or method): no use case ran. Domain NotFound errors name their object instead.
        event = app.current_event
        return error_response(404, f"no route {shown(event.http_method, 10)} {shown(event.path, 200)}")
