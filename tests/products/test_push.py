"""Push to ShopBase: one store product per draft under timeouts, 5xx after create and a crash before recording;
links on every variant, used by placement with no manual link; "SKU changed" stops placement; refusals make no
call and write nothing; the calls one push costs."""

from __future__ import annotations

from typing import Any

import pytest

from shared import wiring
from shared.logic.placement import PlacementOutcome
from shared.logic.products.store_push import ProductPusher
from shared.models.order import OrderStatus
from simulators.aliexpress import AliExpressSimulator
from simulators.shopbase import ShopBaseSimulator
from tests.placement.conftest import new_order
from tests.products.conftest import (
    BIG,
    MUG,
    SHOP,
    WATCH,
    DynamoCalls,
    aliexpress_calls,
    call,
    fast_shopbase,
    import_products,
    shopbase_calls,
)


def store_products(sb: ShopBaseSimulator) -> list[dict[str, Any]]:
    return sb.products(SHOP)


def push(context: Any, product_id: str, publish: bool = False) -> tuple[int, dict[str, Any]]:
    return call(context, "POST", f"/shops/{SHOP}/products/{product_id}/push", {"publish": publish})


def test_push_creates_one_hidden_product_and_links_every_variant(connected: str, sb: ShopBaseSimulator,
                                                                 lambda_context: Any) -> None:
    import_products(lambda_context, WATCH)
    status, pushed = push(lambda_context, WATCH)
    assert status == 200, pushed
    assert pushed["status"] == "pushed" and pushed["created"] is True and pushed["linked_variants"] == 4
    [product] = store_products(sb)
    assert product["published"] is False and product["handle"] == pushed["store_handle"]
    assert f"aliexpress-{WATCH}" in product["tags"] and f"dsref-{product['handle']}" in product["tags"]
    assert [o["name"] for o in product["options"]] == ["Color", "Ships From"]
    assert [(v["option1"], v["option2"], v["price"], v["inventory_quantity"]) for v in product["variants"]] == [
        ("984 Gold Blue", "China", "35.00", 3373), ("984 Silver Black", "China", "34.40", 40),
        ("984 Gold Blue", "Germany", "39.80", 12), ("984 Silver Black", "Germany", "39.20", 0)]
    assert all(v["compare_at_price"] is None for v in product["variants"])
    assert "<script" not in product["body_html"] and len(product["images"]) == 3
    for variant in product["variants"]:
        link = wiring.links().get(SHOP, str(variant["id"]))
        assert link is not None and link.product_id == WATCH and link.sku_id == variant["sku"].removeprefix("AE-")
        assert link.sku_attr.startswith("14:") and link.store_id == "1103800100"
    assert wiring.products().by_store_product(SHOP, str(product["id"])) == WATCH
    # Pushing again updates the same store product (publishing it), never a second one.
    status, again = push(lambda_context, WATCH, publish=True)
    assert status == 200 and again["created"] is False and len(store_products(sb)) == 1
    assert store_products(sb)[0]["published"] is True
    status, listed = call(lambda_context, "GET", f"/shops/{SHOP}/products", query="status=pushed")
    assert [p["product_id"] for p in listed["products"]] == [WATCH]


@pytest.mark.parametrize("fault", ["5xx_after_create", "timeout_after_create", "5xx_before_create"])
def test_one_store_product_whatever_fails_around_the_create(connected: str, sb: ShopBaseSimulator, fault: str,
                                                            lambda_context: Any) -> None:
    import_products(lambda_context, WATCH)
    if fault == "5xx_after_create":
        sb.fail_next(status=503, apply=True, method="POST", route="products")
    elif fault == "timeout_after_create":
        sb.fail_next(stall=True, stall_seconds=3, method="POST", route="products")  # past the 1.5 s read timeout
    else:
        sb.fail_next(status=502, apply=False, method="POST", route="products")
    status, pushed = push(lambda_context, WATCH)
    assert status == 200, pushed
    assert len(store_products(sb)) == 1 and sb.stats()["shops"][SHOP]["products_created"] == 1
    calls = shopbase_calls(sb)
    if fault == "5xx_before_create":  # not created: found nowhere, created by the second POST
        assert calls == {"POST /admin/products.json": 2, "GET /admin/products.json": 1}
        assert pushed["created"] is True
    else:  # created, its answer lost: found by its handle
        assert calls == {"POST /admin/products.json": 1, "GET /admin/products.json": 1}
        assert pushed["created"] is False
    assert pushed["store_product_id"] == str(store_products(sb)[0]["id"])
    assert len(wiring.links().list_links(SHOP)) == 4


def test_a_crash_before_recording_is_resumed_without_a_second_product(connected: str, sb: ShopBaseSimulator,
                                                                     lambda_context: Any) -> None:
    import_products(lambda_context, WATCH)
    now = [1_900_000_000.0]
    real = wiring.product_pusher()

    class Crash(RuntimeError):
        pass

    class CrashingPusher(ProductPusher):
        def _record(self, *args: Any, **kwargs: Any) -> Any:
            raise Crash("the function died after ShopBase created the product")

    crashing = CrashingPusher(real.products, real.links, real.clients, clock=lambda: now[0])
    with pytest.raises(Crash):
        crashing.push(SHOP, WATCH)
    assert len(store_products(sb)) == 1
    draft = wiring.products().get(SHOP, WATCH)
    assert draft is not None and draft.status.value == "draft" and draft.push is not None  # the intent stayed
    # A retry within the intent's minute is refused (another request may be pushing right now)...
    resumed = ProductPusher(real.products, real.links, real.clients, clock=lambda: now[0])
    with pytest.raises(Exception, match="being pushed by another request"):
        resumed.push(SHOP, WATCH)
    # ...after it, the retry looks the handle up first and records the product ShopBase already has.
    now[0] += 61
    result = resumed.push(SHOP, WATCH)
    assert result.created is False and result.product.status.value == "pushed"
    assert len(store_products(sb)) == 1 and sb.stats()["shops"][SHOP]["products_created"] == 1
    assert result.product.store_product_id == str(store_products(sb)[0]["id"])
    assert len(wiring.links().list_links(SHOP)) == 4


def test_refusals_make_no_call_and_write_nothing(connected: str, sb: ShopBaseSimulator, lambda_context: Any) -> None:
    import_products(lambda_context, BIG, WATCH)
    before = wiring.products().get(SHOP, BIG)
    status, body = push(lambda_context, BIG)
    assert status == 422 and "ShopBase allows 500 variants" in body["error"] and "Ships From" in body["error"]
    assert body["problems"] and shopbase_calls(sb) == {}
    assert wiring.products().get(SHOP, BIG) == before  # no intent, nothing
    call(lambda_context, "PATCH", f"/shops/{SHOP}/products/{WATCH}", {"prices": {"12000044382493157": "9.99"}})
    status, body = push(lambda_context, WATCH)
    assert status == 422 and "below its cost 17.50" in body["error"] and shopbase_calls(sb) == {}
    assert wiring.links().list_links(SHOP) == []
    # Trimmed to the limits, it goes: keep one warehouse.
    call(lambda_context, "PATCH", f"/shops/{SHOP}/products/{BIG}", {"drop_options": {"Ships From": "W0"}})
    status, body = push(lambda_context, BIG)
    assert status == 200 and body["linked_variants"] == 72
    assert call(lambda_context, "POST", f"/shops/{SHOP}/products/404/push", {})[0] == 404


def test_pushed_variants_are_placed_with_no_manual_link(connected: str, sb: ShopBaseSimulator,
                                                        ae: AliExpressSimulator, lambda_context: Any) -> None:
    import_products(lambda_context, WATCH, MUG)
    call(lambda_context, "PATCH", f"/shops/{SHOP}/products/{WATCH}", {"shipping_service": "CAINIAO_STANDARD"})
    assert push(lambda_context, WATCH)[0] == 200 and push(lambda_context, MUG)[0] == 200
    watch_variant = store_products(sb)[0]["variants"][1]  # Silver Black, China
    mug_variant = store_products(sb)[1]["variants"][0]
    new_order(SHOP, "7001", lines=[(str(watch_variant["id"]), 2), (str(mug_variant["id"]), 1)])
    result = wiring.placer().place(SHOP, "7001")
    assert result.outcome is PlacementOutcome.PLACED, result
    lines = {(ln["sku_id"], ln["quantity"]) for o in ae.orders() for ln in o["lines"]}
    assert lines == {("12000044382493158", 2), ("12000011111111111", 1)}  # exactly what was sold
    link = wiring.links().get(SHOP, str(watch_variant["id"]))
    assert link is not None and link.shipping_service == "CAINIAO_STANDARD"


def test_a_changed_sku_stops_placement_with_the_variant_to_remap(connected: str, sb: ShopBaseSimulator,
                                                                 ae: AliExpressSimulator, lambda_context: Any) -> None:
    import_products(lambda_context, WATCH)
    push(lambda_context, WATCH)
    variant = store_products(sb)[0]["variants"][0]
    ae.remove_sku(WATCH, "12000044382493157")
    ae.seed_product(MUG, subject="Ceramic Mug", skus=[{"sku_id": "12000011111111111", "sku_attr": "", "price": "3"}])
    new_order(SHOP, "7002", lines=[(str(variant["id"]), 1)])
    result = wiring.placer().place(SHOP, "7002")
    assert result.outcome is PlacementOutcome.FAILED and result.reason_code == "SKU_CHANGED"
    assert result.reason is not None and result.reason.startswith(
        f"SKU changed on AliExpress: remap variant {variant['id']}")
    order = wiring.orders().get(SHOP, "7002")
    assert order is not None and order.status is OrderStatus.FAILED and order.reason == result.reason
    assert aliexpress_calls(ae).get("aliexpress.ds.order.create") is None  # never a wrong item ordered
    # The same SKU id with other attributes is a change too.
    other = store_products(sb)[0]["variants"][1]
    ae.seed_product(WATCH, subject="Watch", store_id="1103800100", skus=[
        {"sku_id": "12000044382493158", "sku_attr": "14:777#Rose;200007763:201336100#China", "price": "17.2"}])
    new_order(SHOP, "7003", lines=[(str(other["id"]), 1)])
    result = wiring.placer().place(SHOP, "7003")
    assert result.reason_code == "SKU_CHANGED" and "is now '14:777#Rose" in (result.reason or "")


def test_calls_per_push(connected: str, sb: ShopBaseSimulator, ae: AliExpressSimulator, lambda_context: Any) -> None:
    """One push of a 4-variant draft: ShopBase 1 POST; DynamoDB: the product and the rules read, the intent
    written, one batch of links, the record written; no AliExpress call."""
    import_products(lambda_context, WATCH)
    dynamo = DynamoCalls().hook()
    ae.reset_stats()
    status, _ = push(lambda_context, WATCH)
    assert status == 200
    assert shopbase_calls(sb) == {"POST /admin/products.json": 1}
    assert aliexpress_calls(ae) == {}
    assert dict(dynamo.calls) == {"GetItem": 2, "PutItem": 2, "BatchWriteItem": 1}, dict(dynamo.calls)
    print(f"\ncalls per push (4 variants): ShopBase {shopbase_calls(sb)}, AliExpress {aliexpress_calls(ae)}, "
          f"DynamoDB {dict(dynamo.calls)}")


def test_shopbase_429s_are_waited_out_within_its_rate_limit(connected: str, sb: ShopBaseSimulator,
                                                            lambda_context: Any) -> None:
    import_products(lambda_context, MUG)
    fast_shopbase(max_retries=2)
    sb.fail_next(status=429, retry_after=0.01, method="POST", route="products")
    status, body = push(lambda_context, MUG)
    assert status == 200, body
    assert shopbase_calls(sb) == {"POST /admin/products.json": 2} and len(store_products(sb)) == 1


def test_racing_pushes_and_imports_make_one_of_each(connected: str, sb: ShopBaseSimulator,
                                                    lambda_context: Any) -> None:
    from tests.placement.conftest import run_threads

    imports = run_threads(3, lambda _: wiring.product_importer().import_many(SHOP, [WATCH])[0].outcome)
    assert sorted(imports) == ["already_imported", "already_imported", "imported"]
    pushes = run_threads(3, lambda _: wiring.product_pusher().push(SHOP, WATCH))
    from shared.models.errors import Conflict

    for result in pushes:  # the others see the winner's intent (or its record): refused, or an update
        if isinstance(result, Exception):
            assert isinstance(result, Conflict), result
            assert result.details.get("code") in ("PUSH_IN_PROGRESS", "ALREADY_PUSHED", "CHANGED"), result
    assert sum(1 for r in pushes if not isinstance(r, Exception) and r.created) == 1
    assert len(store_products(sb)) == 1 and sb.stats()["shops"][SHOP]["products_created"] == 1


def test_a_shop_without_its_connections_gets_a_clear_conflict(connected: str, ae: AliExpressSimulator,
                                                               lambda_context: Any) -> None:
    from shared.logic.auth import hash_token
    from tests.products.conftest import SELLER_TOKEN

    import_products(lambda_context, MUG)
    token = wiring.aliexpress_tokens().get(SHOP)
    assert token is not None
    # The ShopBase token is gone (app uninstalled): push refuses, nothing is written.
    wiring.shop_secrets().put(SHOP, {"webhook_secret": "whsec-demo", "api_token_sha256": hash_token(SELLER_TOKEN)})
    wiring.reset()  # forget cached secrets
    fast_shopbase()
    status, body = push(lambda_context, MUG)
    assert status == 409 and body["code"] == "SHOPBASE_DISCONNECTED", body
    draft = wiring.products().get(SHOP, MUG)
    assert draft is not None and draft.status.value == "draft" and draft.push is None
    # AliExpress revoked the authorization: the import says to reconnect and stores nothing.
    ae.revoke_token(token.access_token.get_secret_value())
    status, body = call(lambda_context, "POST", f"/shops/{SHOP}/products/import", {"urls": [WATCH]})
    assert status == 409 and body["code"] == "ALIEXPRESS_DISCONNECTED", body
    assert wiring.products().get(SHOP, WATCH) is None


def test_the_orders_page_shows_a_pushed_variants_picture(connected: str, sb: ShopBaseSimulator,
                                                         lambda_context: Any) -> None:
    """Issue 13's rows show a thumbnail when the product was imported: the link made at push keeps the
    variant's picture, and a page of orders reads its variants' links in one batch."""
    import_products(lambda_context, WATCH)
    assert push(lambda_context, WATCH)[0] == 200
    variant = store_products(sb)[0]["variants"][1]
    new_order(SHOP, "7101", lines=[(str(variant["id"]), 1), ("99999", 1)])  # the second line was never imported
    status, page = call(lambda_context, "GET", f"/shops/{SHOP}/orders", query="tab=awaiting_order")
    assert status == 200, page
    [row] = [o for o in page["orders"] if o["order_id"] == "7101"]
    pictures = {item["variant_id"]: item["image_url"] for item in row["items"]}
    link = wiring.links().get(SHOP, str(variant["id"]))
    assert link is not None and link.image_url and link.image_url.startswith("https://")
    assert pictures == {str(variant["id"]): link.image_url, "99999": None}
