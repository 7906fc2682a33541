"""HTTP answers for every HTTP function: one JSON error shape, one mapping from domain errors to statuses.

    {"error": "<sentence>", ...details}      (details: field, order_status, retry_after, …)

Handlers call `install_error_handlers(app)` once; routes raise domain errors (`shared.models.errors`) or let
pydantic's ValidationError through (→ 422 naming the field).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel, ValidationError

from shared.models.errors import (
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
)

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


def parse_body(raw: str | bytes | None, model: type[ModelT]) -> ModelT:
    """BadRequest for a body that is not JSON; pydantic's ValidationError (→ 422 naming the field) otherwise."""
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest("body is not valid JSON") from error
    return model.model_validate(data)


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
        return error_response(404, "not found")  # an unknown path: no use case ran
