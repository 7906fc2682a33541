"""A shop's settings: GET/PATCH /shops/{shop}/settings (auto-place, tracking emails, sender, shipping)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from shared import wiring
from shared.models.errors import BadRequest, Invalid
from shared.models.shop import ShopSettings
from shared.web import json_response, parse_body

router = Router()


class SettingsPatch(BaseModel):
    """What a seller may change; the AliExpress connection state is ours to set."""

    model_config = ConfigDict(extra="forbid")

    auto_place: bool | None = None
    notify_customer: bool | None = None
    send_tracking_email: bool | None = None
    sender_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    default_shipping_service: str | None = Field(default=None, min_length=1, max_length=128)


def settings_view(settings: ShopSettings) -> dict[str, object]:
    return settings.model_dump(mode="json")


@router.get("/shops/<shop>/settings")
def read_shop_settings(shop: str) -> Response:
    return json_response(settings_view(wiring.shops().get_settings(shop) or ShopSettings(shop=shop)))


@router.patch("/shops/<shop>/settings")
def change_shop_settings(shop: str) -> Response:
    patch = parse_body(router.current_event.decoded_body, SettingsPatch)
    changes = patch.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise BadRequest("nothing to change: send one or more of " + ", ".join(SettingsPatch.model_fields))
    if any(value is None for value in changes.values()):
        raise Invalid("settings cannot be set to null", field=next(k for k, v in changes.items() if v is None))
    return json_response(settings_view(wiring.shops().update_settings(shop, **changes)))
