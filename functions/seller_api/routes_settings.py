"""A shop's settings: GET/PATCH /shops/{shop}/settings (auto-place, tracking emails, sender, shipping).

How the customer hears about a package — ONE channel unless the seller confirms both:
- `send_tracking_email` (default on): our own tracking email, branded with the shop's name, sent from
  `sender_email` as soon as the package's tracking is on ShopBase, with the carrier's tracking link. It is the
  default because it is what we promise: tracking fast, in an email that looks like the shop's.
- `notify_customer` (default off): ShopBase's own shipping email, asked for on each fulfillment we create.
  (Whether ShopBase honours `notify_customer: false` through the API is unconfirmed; if customers still get
  ShopBase's email, turn off Fulfillment Settings → Shipping Confirmation Email in the ShopBase admin.)
- Turning both on needs `"both_channels": true` in the same request; otherwise 422 naming the field that
  would turn the second email on, and nothing changes. Going back to one channel drops the confirmation.
  Settings stored with both on and no confirmation (both were on by default before) read as our email only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared import wiring
from shared.models.errors import BadRequest, Invalid
from shared.models.shop import CHANNEL_FIELDS, ShopSettings
from shared.web import Response, Router, json_response, parse_body

router = Router()


class SettingsPatch(BaseModel):
    """What a seller may change; the AliExpress connection state is ours to set."""

    model_config = ConfigDict(extra="forbid")

    auto_place: bool | None = Field(default=None, description="Place new paid orders on AliExpress automatically.")
    notify_customer: bool | None = Field(default=None, description=(
        "ShopBase's own shipping email on each fulfillment we create (default off). With send_tracking_email "
        "also on, needs both_channels: true."))
    send_tracking_email: bool | None = Field(default=None, description=(
        "Our branded tracking email, one per package, from sender_email (default on). With notify_customer "
        "also on, needs both_channels: true."))
    both_channels: bool | None = Field(default=None, description=(
        "Confirms that the customer gets BOTH emails for every package (notify_customer and "
        "send_tracking_email on)."))
    sender_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                     description="The address our tracking emails are sent from.")
    default_shipping_service: str | None = Field(default=None, min_length=1, max_length=128, description=(
        "AliExpress logistics service for links without their own."))
    import_ship_to: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description=(
        "Product import: the country ds.product.get reads prices, stock and shipping for (the main market)."))
    import_language: str | None = Field(default=None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$", description=(
        "Product import: the language of imported titles and descriptions."))


def settings_view(settings: ShopSettings) -> dict[str, object]:
    return {**settings.model_dump(mode="json"), "tracking_channel": settings.tracking_channel}


@router.get("/shops/<shop>/settings")
def read_shop_settings(shop: str) -> Response:
    return json_response(settings_view(wiring.shops().get_settings(shop) or ShopSettings(shop=shop)))


@router.patch("/shops/<shop>/settings")
def change_shop_settings(shop: str) -> Response:
    patch = parse_body(router.current_event, SettingsPatch)
    changes = patch.model_dump(exclude_unset=True, mode="json")
    if not changes:
        raise BadRequest("nothing to change: send one or more of " + ", ".join(SettingsPatch.model_fields))
    if any(value is None for value in changes.values()):
        raise Invalid("settings cannot be set to null", field=next(k for k, v in changes.items() if v is None))
    shops = wiring.shops()
    if any(name in changes for name in CHANNEL_FIELDS):
        # The three channel fields are written together, as checked against what is stored now.
        current = shops.get_settings(shop) or ShopSettings(shop=shop)
        changes.update(current.channel_changes(changes))
    return json_response(settings_view(shops.update_settings(shop, **changes)))
