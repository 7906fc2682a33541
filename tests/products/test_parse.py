"""The tolerant ds.product.get reader on real-shaped responses (fixtures), through the client's own envelope
handling; ds.freight.query; product URLs; the description sanitiser."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from shared.aliexpress.client import AliExpressClient
from shared.aliexpress.errors import BusinessError, IllegalAccessTokenError
from shared.logic.products.parse import ProductUnavailable, parse_product
from shared.logic.products.sanitize import clean_description
from shared.logic.products.urls import product_id_from
from shared.models.errors import Invalid
from tests.products.conftest import fixture


class FixtureAdapter(BaseAdapter):
    """Answers every request with one fixture's bytes: the client's real decoding, envelope and rsp_code path."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__()
        self.body = json.dumps(body).encode()
        self.sent: list[dict[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        from urllib.parse import parse_qsl

        self.sent.append(dict(parse_qsl(str(request.body or ""))))
        response = requests.Response()
        response.status_code, response._content, response.request = 200, self.body, request
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self) -> None:
        return None


def client_for(name: str) -> tuple[AliExpressClient, FixtureAdapter]:
    session = requests.Session()
    adapter = FixtureAdapter(fixture(name))
    session.mount("https://", adapter)
    return AliExpressClient("https://api-sg.aliexpress.com", "key", "secret", session=session, max_retries=0,
                            sleep=lambda _: None), adapter


def read(name: str, product_id: str, ship_to: str = "US") -> Any:
    client, _ = client_for(name)
    result, _ = client.product_result("token", product_id, ship_to)
    return parse_product(result, ship_to=ship_to)


def test_example_a_sku_without_sku_attr_falls_back_to_its_id_and_shows_the_custom_name() -> None:
    product = read("product_get_example_a.json", "1005006057059635", "BR")
    assert product.product_id == "1005006057059635" and product.title.startswith("Portátil USB Mini")
    sku = product.skus[0]
    assert sku.sku_attr == "14:200006151#400ml"  # no sku_attr in the response: its `id` has the same form
    assert sku.cost == Decimal("54.69") and sku.list_price == Decimal("71.02") and sku.stock == 492
    # Two currencies: the product's base is CNY, the SKUs' (what prices are in) BRL.
    assert product.base_currency == "CNY" and product.currency == "BRL" and sku.currency == "BRL"
    [color] = product.options
    assert color.name == "Color" and color.values[0].name == "400ml" and color.values[0].standard_name == "Light Grey"
    assert color.values[0].image and sku.values == {"14": "200006151"}
    assert product.images == ["https://ae01.alicdn.com/kf/S10aaab919e484b0591ea56cee0dedf3ak.jpg",
                              "https://ae01.alicdn.com/kf/Sd6b5ce0098204e9995c1ae1440697d80g.jpg"]
    assert product.store_id == "1102923213" and product.store_name == "Isfriday CH Store"


def test_example_b_keeps_the_inflated_sku_price_apart_from_the_cost() -> None:
    product = read("product_get_example_b.json", "1005008252021087", "bd")
    gold, silver = product.skus
    assert gold.sku_attr == "14:200005100#984 Gold Blue" and gold.cost == Decimal("17.50")
    assert gold.list_price == Decimal("175.01")  # 10x the cost: never a compare-at by default (pricing tests)
    assert silver.stock == 0 and product.ship_to == "BD"  # lower case on the wire
    assert [v.name for v in product.options[0].values] == ["984 Gold Blue", "984 Silver Black"]


def test_ships_from_axis_bare_property_numbers_as_strings_and_joined_images() -> None:
    product = read("product_get_ships_from.json", "1005007000000001")
    color, ships_from = product.options
    assert not color.ships_from and ships_from.ships_from and ships_from.name == "Ships From"
    assert [v.name for v in ships_from.values] == ["China", "Germany"]
    assert [v.name for v in color.values] == ["Black", "White"]  # "White" came as a bare object
    white = product.skus[2]
    assert white.sku_attr == "14:175" and white.values == {"14": "175"}  # rebuilt from its property
    assert white.stock == 0 and product.skus[0].stock == 120  # "120": a string
    assert product.images == ["https://ae01.alicdn.com/kf/Sone.jpg", "https://ae01.alicdn.com/kf/Stwo.jpg"]


@pytest.mark.parametrize(("name", "code"), [("product_get_605.json", "605"),
                                           ("product_get_empty.json", "EMPTY_RESULT")])
def test_unavailable_products_are_business_errors(name: str, code: str) -> None:
    client, _ = client_for(name)
    with pytest.raises(BusinessError) as raised:
        client.product_result("token", "1005000000000000", "US")
    assert raised.value.code == code


def test_the_error_envelope_is_a_typed_error() -> None:
    client, _ = client_for("error_response.json")
    with pytest.raises(IllegalAccessTokenError):
        client.product_result("token", "1005000000000000", "US")


def test_offline_or_skuless_products_are_unavailable() -> None:
    result = fixture("product_get_example_b.json")["aliexpress_ds_product_get_response"]["result"]
    offline = json.loads(json.dumps(result))
    offline["ae_item_base_info_dto"]["product_status_type"] = "offline"
    with pytest.raises(ProductUnavailable):
        parse_product(offline, ship_to="US")
    result["ae_item_sku_info_dtos"] = {"ae_item_sku_info_d_t_o": []}
    with pytest.raises(ProductUnavailable):
        parse_product(result, ship_to="US")


def test_a_single_bare_sku_of_a_product_without_options_orders_with_an_empty_sku_attr() -> None:
    result = {"ae_item_base_info_dto": {"product_id": 1005001, "subject": "Mug", "product_status_type": "onSelling"},
              "ae_item_sku_info_dtos": {"ae_item_sku_info_d_t_o": {"sku_id": 12000011, "offer_sale_price": 3,
                                                                   "sku_available_stock": 9, "currency_code": "USD"}}}
    product = parse_product(result, ship_to="US")
    assert product.options == [] and product.skus[0].sku_attr == "" and product.skus[0].cost == Decimal("3")
    assert product.skus[0].sku_id == "12000011"


def test_freight_fees_are_decimals_and_505_is_a_business_error() -> None:
    client, adapter = client_for("freight_query_ok.json")
    options = client.query_freight("token", "1005006057059635", "12000035530517031", "BR", currency="USD")
    assert [(o.code, o.fee) for o in options] == [("AE_STANDARD_SHIPPING", Decimal("0")),
                                                  ("CAINIAO_FULFILLMENT_STD", Decimal("172.71"))]
    sent = json.loads(adapter.sent[0]["queryDeliveryReq"])
    assert sent["shipToCountry"] == "BR" and sent["productId"] == "1005006057059635" and sent["quantity"] == 1
    client, _ = client_for("freight_query_505.json")
    with pytest.raises(BusinessError) as raised:
        client.query_freight("token", "1005006057059635", "1", "BR")
    assert raised.value.code == "505"


@pytest.mark.parametrize("text", [
    "1005006057059635",
    "https://www.aliexpress.com/item/1005006057059635.html",
    "https://www.aliexpress.com/item/1005006057059635.html?spm=a2g0o.productlist.main.1.5f7c&algo_pvid=abc&aem_p4p_detail=1",
    "aliexpress.com/item/1005006057059635.html",
    "https://pt.aliexpress.com/item/1005006057059635.html?gatewayAdapt=glo2bra",
    "https://m.aliexpress.com/item/1005006057059635.html",
    "https://www.aliexpress.us/item/1005006057059635.html?channel=twinner",
    "https://aliexpress.ru/item/1005006057059635.html",
    "https://www.aliexpress.com/i/1005006057059635.html",
    "https://m.aliexpress.com/app/detail.html?productId=1005006057059635&utm_source=x",
    "https://www.aliexpress.com/store/product/Juicer/1102923213_1005006057059635.html",
    "  https://vi.aliexpress.com/item/1005006057059635.html#nav-review  ",
])
def test_every_common_url_form_gives_the_product_id(text: str) -> None:
    assert product_id_from(text) == "1005006057059635"


def test_old_urls_with_a_title_in_the_path() -> None:
    assert product_id_from("https://www.aliexpress.com/item/Mini-Juicer/32812345678.html") == "32812345678"


@pytest.mark.parametrize(("text", "why"), [
    ("https://www.amazon.com/dp/B08N5WRWNW", "not an AliExpress URL"),
    ("https://www.aliexpress.com/store/1102923213", "not a product page"),
    ("https://s.click.aliexpress.com/e/_DlXyZ12", "short link"),
    ("hello", "not an AliExpress URL"),
    ("", "empty"),
    ("https://aliexpress.com.evil.example/item/1005006057059635.html", "not an AliExpress URL"),
])
def test_unknown_urls_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(Invalid) as raised:
        product_id_from(text)
    assert why in raised.value.message and raised.value.field == "urls"


def test_descriptions_lose_scripts_styles_trackers_and_promotion_blocks() -> None:
    html = fixture("product_get_example_a.json")["aliexpress_ds_product_get_response"]["result"][
        "ae_item_base_info_dto"]["detail"]
    cleaned = clean_description(html)
    assert "Espremedor portátil" in cleaned and "https://ae01.alicdn.com/kf/Sa1b2c3d4e5f.jpg" in cleaned
    for gone in ("<script", "__ae_track", "style=", "onload", "google-analytics", "aliexpress.com/store",
                 "Hbanner", "Welcome to my store", "detailmodule"):
        assert gone not in cleaned, gone
    assert clean_description('<a href="javascript:alert(1)" onclick="x()">x</a><iframe src="https://e.vil"></iframe>') \
        == '<a rel="noopener noreferrer nofollow">x</a>'
    assert clean_description("") == ""
