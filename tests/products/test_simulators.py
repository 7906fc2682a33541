"""The simulators' product endpoints on their own: ShopBase's products API with its limits and 200-on-create, and
AliExpress's product.get in every configured shape (read back by the app's client and parser) and freight.query."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from shared.aliexpress.client import AliExpressClient
from shared.aliexpress.errors import BusinessError
from shared.logic.products.parse import parse_product
from simulators.aliexpress import AliExpressSimulator
from simulators.shopbase import ShopBaseSimulator
from tests.products.conftest import APP_KEY, APP_SECRET, JUICER, SHOP, SHOPBASE_TOKEN, WATCH


def post(sb: ShopBaseSimulator, product: dict[str, Any]) -> requests.Response:
    return requests.post(f"{sb.shop_url(SHOP)}/admin/products.json", json={"product": product},
                         headers={"X-ShopBase-Access-Token": SHOPBASE_TOKEN}, timeout=10)


def test_shopbase_products_api_limits_and_200_on_create(sb: ShopBaseSimulator) -> None:
    ok = post(sb, {"title": "Mug", "handle": "ae-1", "options": [{"name": "Color", "values": ["Red"]}],
                   "variants": [{"option1": "Red", "price": "9.99", "sku": "AE-1"}]})
    assert ok.status_code == 200 and ok.json()["product"]["handle"] == "ae-1"  # 200, not Shopify's 201
    assert post(sb, {"title": "Mug", "handle": "ae-1"}).json()["product"]["handle"] == "ae-1-1"
    too_many = post(sb, {"title": "Shirt", "options": [{"name": "Size", "values": [str(n) for n in range(501)]}],
                         "variants": [{"option1": str(n), "price": "1"} for n in range(501)]})
    assert too_many.status_code == 422 and "500 variants" in str(too_many.json()["errors"])
    four = post(sb, {"title": "X", "options": [{"name": n, "values": ["a"]} for n in "ABCD"]})
    assert four.status_code == 422 and "3 options" in str(four.json()["errors"])
    images = post(sb, {"title": "X", "images": [{"src": f"https://x/{n}.jpg"} for n in range(501)]})
    assert images.status_code == 422 and "500 images" in str(images.json()["errors"])
    wrong = post(sb, {"title": "X", "options": [{"name": "Color", "values": ["Red"]}],
                      "variants": [{"option1": "Blue", "price": "1"}]})
    assert wrong.status_code == 422
    assert post(sb, {"title": "X", "variants": [{"price": "ten"}]}).status_code == 422
    assert sb.stats()["shops"][SHOP]["products"] == 2


def client(ae: AliExpressSimulator) -> tuple[AliExpressClient, str]:
    token = ae.issue_token()["access_token"]
    return AliExpressClient(ae.url, APP_KEY, APP_SECRET, session=requests.Session(), max_retries=0), token


@pytest.mark.parametrize("shape", [{}, {"bare_single": True}, {"numbers_as_strings": True},
                                   {"wrapper_prefix": "ae_", "bare_single": True, "numbers_as_strings": True}])
def test_aliexpress_product_get_in_every_shape_reads_the_same(ae: AliExpressSimulator, shape: dict[str, Any]) -> None:
    ae.configure(**shape)
    api, token = client(ae)
    result, _ = api.product_result(token, WATCH, "US")
    product = parse_product(result, ship_to="US")
    assert [o.name for o in product.options] == ["Color", "Ships From"]
    assert [s.sku_id for s in product.skus][:2] == ["12000044382493157", "12000044382493158"]
    assert product.skus[0].cost == Decimal("17.50") and product.skus[0].list_price == Decimal("175.01")
    assert product.skus[3].stock == 0 and product.base_currency == "CNY" and product.currency == "USD"
    juicer = parse_product(api.product_result(token, JUICER, "US")[0], ship_to="US")
    assert juicer.skus[0].sku_attr == "14:200006151#400ml"  # from `id`: the simulator sends no sku_attr


def test_aliexpress_catalog_controls_and_freight(ae: AliExpressSimulator) -> None:
    api, token = client(ae)
    options = api.query_freight(token, WATCH, "12000044382493157", "US")
    assert (options[0].code, options[0].fee) == ("CAINIAO_STANDARD", Decimal("1.50"))
    ae.seed_product("1005000000000077", subject="Local only", ship_to=["FR"])
    with pytest.raises(BusinessError) as raised:
        api.query_freight(token, "1005000000000077", "1", "US")
    assert raised.value.code == "505"
    ae.change_price(WATCH, "12000044382493157", "21.00")
    ae.set_stock(WATCH, "12000044382493158", 0)
    ae.remove_sku(WATCH, "12000044382493159")
    product = parse_product(api.product_result(token, WATCH, "US")[0], ship_to="US")
    assert product.skus[0].cost == Decimal("21.00") and product.skus[1].stock == 0 and len(product.skus) == 3
    ae.remove_product(WATCH)
    with pytest.raises(BusinessError) as gone:
        api.product_result(token, WATCH, "US")
    assert gone.value.code == "605"
    over_http = requests.post(f"{ae.url}/_sim/remove_product", json={"product_id": WATCH}, timeout=5)
    assert over_http.status_code == 400  # already gone: a clear control error
