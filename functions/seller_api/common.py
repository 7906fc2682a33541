"""Helpers shared by the seller API routers: JSON errors, body parsing, cached repositories."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel

from shared.data.orders import OrderRepository
from shared.data.shops import ShopRepository

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """Raised by routes for a clear error answer; mapped to a JSON body in app.py."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"error": message, **extra}))


def json_response(body: Any, status: int = 200) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, default=str))


def parse_body(raw: str | None, model: type[ModelT]) -> ModelT:
    """400 for malformed JSON; pydantic's ValidationError (→ 422 naming the field) for a bad shape."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as error:
        raise ApiError(400, "body is not valid JSON") from error
    return model.model_validate(data)


@lru_cache(maxsize=1)
def orders() -> OrderRepository:
    return OrderRepository()


@lru_cache(maxsize=1)
def shops() -> ShopRepository:
    return ShopRepository()
