"""PUT/GET/DELETE /shops/{shop}/links/{variant_id}: checked against the simulator's catalog."""

from __future__ import annotations

from typing import Any

from shared import wiring
from simulators.aliexpress import AliExpressSimulator
from tests.integration.test_seller_orders_api import call
from tests.placement.conftest import BOTTLE, BOTTLE_SILVER, SKIRT, stored_access_token


def test_link_a_variant_to_an_existing_sku(connected: str, tokens: dict[str, str], lambda_context: Any) -> None:
    # The same SKU named with its properties in another order still matches.
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": int(BOTTLE), "sku_attr": "5:100014064;14:193",
                              "shipping_service": "CAINIAO_STANDARD"})
    assert status == 200, body
    assert body["product_id"] == BOTTLE and body["sku_attr"] == BOTTLE_SILVER and body["sku_id"] == "120001"
    assert body["store_id"] == "1100" and body["shipping_service"] == "CAINIAO_STANDARD"
    status, fetched = call(lambda_context, "GET", f"/shops/{connected}/links/1000221", tokens[connected])
    assert status == 200 and fetched["sku_attr"] == BOTTLE_SILVER
    # A single-SKU product links with an empty sku_attr.
    assert call(lambda_context, "PUT", f"/shops/{connected}/links/1000387", tokens[connected],
                body={"product_id": SKIRT})[0] == 200
    status, listed = call(lambda_context, "GET", f"/shops/{connected}/links", tokens[connected])
    assert sorted(x["variant_id"] for x in listed["links"]) == ["1000221", "1000387"]
    assert call(lambda_context, "DELETE", f"/shops/{connected}/links/1000221", tokens[connected])[0] == 200
    assert call(lambda_context, "GET", f"/shops/{connected}/links/1000221", tokens[connected])[0] == 404
    assert call(lambda_context, "DELETE", f"/shops/{connected}/links/1000221", tokens[connected])[0] == 404


def test_missing_sku_is_refused_with_the_skus_that_exist(connected: str, tokens: dict[str, str],
                                                         lambda_context: Any) -> None:
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": BOTTLE, "sku_attr": "14:999#Gold"})
    assert status == 422 and body["code"] == "SKU_NOT_FOUND"
    assert "has no SKU '14:999#Gold'" in body["error"] and BOTTLE_SILVER in body["error"]
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": BOTTLE})
    assert status == 422 and "needs a sku_attr" in body["error"]
    assert wiring.links().get(connected, "1000221") is None


def test_unknown_product_is_refused(connected: str, tokens: dict[str, str], lambda_context: Any) -> None:
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": "4000000000001"})
    assert status == 422 and body["code"] == "605" and "does not exist" in body["error"]
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": "not-a-number"})
    assert status == 422 and body["field"] == "product_id"


def test_product_not_sold_to_the_country(connected: str, tokens: dict[str, str], ae: AliExpressSimulator,
                                         lambda_context: Any) -> None:
    ae.seed_product("1005009", ship_to=["FR"])
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": "1005009", "ship_to_country": "US"})
    assert status == 422 and "not sold to US" in body["error"]


def test_links_need_the_shops_token_and_stay_per_shop(connected: str, tokens: dict[str, str],
                                                      lambda_context: Any) -> None:
    assert call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", None,
                body={"product_id": BOTTLE, "sku_attr": BOTTLE_SILVER})[0] == 401
    assert call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens["other-store"],
                body={"product_id": BOTTLE, "sku_attr": BOTTLE_SILVER})[0] == 401
    assert call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                body={"product_id": BOTTLE, "sku_attr": BOTTLE_SILVER})[0] == 200
    assert call(lambda_context, "GET", "/shops/other-store/links/1000221", tokens["other-store"])[0] == 404
    assert call(lambda_context, "DELETE", f"/shops/{connected}/links/1000221", tokens["other-store"])[0] == 401


def test_linking_with_a_revoked_connection_says_reconnect(connected: str, tokens: dict[str, str],
                                                          ae: AliExpressSimulator, lambda_context: Any) -> None:
    ae.revoke_token(stored_access_token(connected))
    status, body = call(lambda_context, "PUT", f"/shops/{connected}/links/1000221", tokens[connected],
                        body={"product_id": BOTTLE, "sku_attr": BOTTLE_SILVER})
    assert status == 409 and body["code"] == "ALIEXPRESS_DISCONNECTED" and "Reconnect AliExpress" in body["error"]
