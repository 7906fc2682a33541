"""Product import (issue 12): the import list (drafts), edits, push to ShopBase, refresh, the change log.

POST   /shops/{shop}/products/import          {"urls": ["https://www.aliexpress.com/item/1005….html", "1005…"]}
GET    /shops/{shop}/products?status=draft|pushed|gone&limit=&cursor=
GET    /shops/{shop}/products/{product id}      the draft, and the listing it would push (priced, checked)
PATCH  /shops/{shop}/products/{product id}      edits (title, description, images, options, values, prices)
DELETE /shops/{shop}/products/{product id}      the draft (never the store listing)
POST   /shops/{shop}/products/{product id}/push {"publish": false}
POST   /shops/{shop}/products/{product id}/refresh    "refresh now" (monitoring of one pushed product)
GET    /shops/{shop}/products/{product id}/log
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared import wiring
from shared.models.errors import BadRequest, Invalid, NotFound, shown
from shared.models.order import utcnow
from shared.models.product import ImportedProduct, ProductStatus
from shared.web import Response, Router, json_response, parse_body

router = Router()
# The product use cases (shared.logic.products) are imported by the routes that use them: the rest of the seller
# API (the page, the orders) does not load them (cold start).


class ImportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(min_length=1, max_length=20, description="AliExpress product URLs or ids.")


class PushBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    publish: bool = Field(default=False, description="Published at once, or a hidden draft in the store.")


def _limit(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= 100:
        raise BadRequest("limit must be a number between 1 and 100")
    return int(raw)


def product_view(product: ImportedProduct, *, with_listing: bool = True) -> dict[str, object]:
    from shared.logic.products.listing import build_listing

    view = product.model_dump(mode="json", exclude={"shop", "log", "push", "raw_z"})
    view["title"] = product.title()
    if with_listing:
        try:
            listing = build_listing(product, wiring.products().get_rules(product.shop).pricing)
            view["listing"] = listing.model_dump(mode="json")
        except Invalid as error:  # e.g. no exchange rate for the SKUs' currency: shown, not a failure
            view["listing"] = None
            view["listing_error"] = error.message
    return view


@router.post("/shops/<shop>/products/import")
def import_products(shop: str) -> Response:
    body = parse_body(router.current_event, ImportBody)
    outcomes = wiring.product_importer().import_many(shop, body.urls)
    results = [o.as_dict() for o in outcomes]
    imported = [o for o in outcomes if o.outcome == "imported"]
    failed = [o for o in outcomes if o.outcome == "failed"]
    if failed and not imported and len(failed) == len(outcomes):
        return json_response({"error": failed[0].error, "field": "urls", "code": failed[0].code,
                              "results": results}, 422)
    return json_response({"results": results, "imported": len(imported)})


@router.get("/shops/<shop>/products")
def list_products(shop: str) -> Response:
    params = router.current_event.query_string_parameters or {}
    raw_status = params.get("status", ProductStatus.DRAFT.value)
    try:
        status = ProductStatus(raw_status)
    except ValueError:
        raise BadRequest(f"unknown status {shown(raw_status, 20)!r}; one of "
                         f"{', '.join(s.value for s in ProductStatus)}") from None
    page = wiring.products().list_page(shop, status, limit=_limit(params.get("limit", "50")),
                                       cursor=params.get("cursor"))
    return json_response({"status": status.value, "products": page.rows, "next_cursor": page.cursor})


def _not_found(product_id: str) -> NotFound:
    from shared.logic.products.store_push import product_not_found

    return product_not_found(product_id)


def _product(shop: str, product_id: str) -> ImportedProduct:
    product = wiring.products().get(shop, product_id) if product_id.isdigit() and len(product_id) <= 20 else None
    if product is None:
        raise _not_found(product_id)
    return product


@router.get("/shops/<shop>/products/<product_id>")
def get_product(shop: str, product_id: str) -> Response:
    return json_response(product_view(_product(shop, product_id)))


@router.patch("/shops/<shop>/products/<product_id>")
def edit_product(shop: str, product_id: str) -> Response:
    from shared.logic.products.edit import EditRequest, apply_edits

    request = parse_body(router.current_event, EditRequest)
    if not request.model_fields_set:
        raise BadRequest("nothing to change: send one or more of " + ", ".join(EditRequest.model_fields))
    _product(shop, product_id)

    def change(current: ImportedProduct) -> ImportedProduct:
        current.edits = apply_edits(current, request)
        current.updated_at = utcnow()
        current.record("edited", "Edited: " + ", ".join(sorted(request.model_fields_set)), current.updated_at)
        return current

    saved = wiring.products().mutate(shop, product_id, change)
    if saved is None:
        raise _not_found(product_id)
    return json_response(product_view(saved))


@router.delete("/shops/<shop>/products/<product_id>")
def delete_product(shop: str, product_id: str) -> Response:
    product = _product(shop, product_id)
    wiring.products().delete(shop, product_id)
    # The store listing, if any, stays in ShopBase; its links stay too (its orders still need them).
    return json_response({"product_id": product_id, "deleted": True,
                          "store_product_id": product.store_product_id})


@router.post("/shops/<shop>/products/<product_id>/push")
def push_product(shop: str, product_id: str) -> Response:
    body = parse_body(router.current_event, PushBody)
    result = wiring.product_pusher().push(shop, product_id, publish=body.publish)
    return json_response({**product_view(result.product, with_listing=False), "created": result.created,
                          "linked_variants": result.links, "warnings": result.warnings})


@router.post("/shops/<shop>/products/<product_id>/refresh")
def refresh_product(shop: str, product_id: str) -> Response:
    report = wiring.product_monitor(wiring.API_PROFILE).refresh(shop, product_id)
    return json_response(report.as_dict())


@router.get("/shops/<shop>/products/<product_id>/log")
def product_log(shop: str, product_id: str) -> Response:
    product = _product(shop, product_id)
    return json_response({"product_id": product_id,
                          "log": [entry.model_dump(mode="json") for entry in reversed(product.log)]})
