"""Store variant → AliExpress product links: PUT/GET/DELETE /shops/{shop}/links/{variant_id}, GET …/links."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared import wiring
from shared.logic.links import link_variant
from shared.models.errors import NotFound, shown
from shared.models.shop import Link
from shared.web import Response, Router, json_response, parse_body

router = Router()


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    product_id: str = Field(min_length=1, max_length=32, pattern=r"^\d+$")
    sku_attr: str = Field(default="", max_length=512)
    shipping_service: str | None = Field(default=None, max_length=128)
    # ds.product.get needs a destination; the link holds for every destination the product ships to.
    ship_to_country: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")


def link_view(link: Link) -> dict[str, object]:
    return link.model_dump(mode="json", exclude={"shop"})


def link_not_found(variant_id: str) -> NotFound:
    return NotFound(f"link for variant {shown(variant_id)}")


@router.put("/shops/<shop>/links/<variant_id>")
def put_link(shop: str, variant_id: str) -> Response:
    body = parse_body(router.current_event, LinkBody)
    # A small AliExpress budget: this answers within API Gateway's 30 s.
    link = link_variant(wiring.aliexpress_accounts(wiring.API_PROFILE), wiring.links(), shop, variant_id,
                        product_id=body.product_id, sku_attr=body.sku_attr, shipping_service=body.shipping_service,
                        ship_to_country=body.ship_to_country.upper())
    return json_response(link_view(link))


@router.get("/shops/<shop>/links/<variant_id>")
def get_link(shop: str, variant_id: str) -> Response:
    link = wiring.links().get(shop, variant_id)
    if link is None:
        raise link_not_found(variant_id)
    return json_response(link_view(link))


@router.delete("/shops/<shop>/links/<variant_id>")
def delete_link(shop: str, variant_id: str) -> Response:
    if not wiring.links().delete(shop, variant_id):
        raise link_not_found(variant_id)
    return json_response({"variant_id": variant_id, "deleted": True})


@router.get("/shops/<shop>/links")
def list_links(shop: str) -> Response:
    return json_response({"links": [link_view(link) for link in wiring.links().list_links(shop)]})
