"""Store variant → AliExpress product links: PUT/GET/DELETE /shops/{shop}/links/{variant_id}, GET …/links."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import BaseModel, ConfigDict, Field

from functions.seller_api.common import ApiError, json_response, parse_body
from shared.aliexpress.errors import AliExpressError
from shared.data.links import Link, LinkRepository
from shared.logic.accounts import RECONNECT_ATTENTION, TRANSIENT_ERRORS, AliExpressAccounts, AliExpressDisconnected
from shared.logic.accounts import default_accounts as _default_accounts
from shared.logic.links import LinkRefused, link_variant

router = Router()


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    product_id: str = Field(min_length=1, max_length=32, pattern=r"^\d+$")
    sku_attr: str = Field(default="", max_length=512)
    shipping_service: str | None = Field(default=None, max_length=128)
    # ds.product.get needs a destination; the link holds for every destination the product ships to.
    ship_to_country: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")


@lru_cache(maxsize=1)
def links() -> LinkRepository:
    return LinkRepository()


def accounts() -> AliExpressAccounts:
    # A small budget: this answers within API Gateway's 30 s.
    return _default_accounts(timeout=(3.05, 8), max_retries=1)


def link_view(link: Link) -> dict[str, object]:
    return link.model_dump(mode="json", exclude={"shop"})


@router.put("/shops/<shop>/links/<variant_id>")
def put_link(shop: str, variant_id: str) -> Response:
    body = parse_body(router.current_event.decoded_body, LinkBody)
    try:
        link = link_variant(accounts(), links(), shop, variant_id, product_id=body.product_id,
                            sku_attr=body.sku_attr, shipping_service=body.shipping_service,
                            ship_to_country=body.ship_to_country.upper())
    except LinkRefused as refused:
        raise ApiError(422, refused.message, code=refused.code) from refused
    except AliExpressDisconnected as error:
        raise ApiError(409, RECONNECT_ATTENTION, code="ALIEXPRESS_DISCONNECTED") from error
    except TRANSIENT_ERRORS as error:
        raise ApiError(503, "AliExpress did not answer; try again in a moment", code=error.code) from error
    except AliExpressError as error:
        raise ApiError(502, f"AliExpress refused the product check ({error.code})", code=error.code) from error
    return json_response(link_view(link))


@router.get("/shops/<shop>/links/<variant_id>")
def get_link(shop: str, variant_id: str) -> Response:
    link = links().get(shop, variant_id)
    if link is None:
        raise NotFoundError("link not found")
    return json_response(link_view(link))


@router.delete("/shops/<shop>/links/<variant_id>")
def delete_link(shop: str, variant_id: str) -> Response:
    if not links().delete(shop, variant_id):
        raise NotFoundError("link not found")
    return json_response({"variant_id": variant_id, "deleted": True})


@router.get("/shops/<shop>/links")
def list_links(shop: str) -> Response:
    return json_response({"links": [link_view(link) for link in links().list_links(shop)]})
