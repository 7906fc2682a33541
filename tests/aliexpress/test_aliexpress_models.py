"""Response models against the documented fixtures and every documented shape variation (notes §6)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.aliexpress import (
    BusinessError,
    CreateOrderResult,
    InsufficientPermissionError,
    Product,
    TokenResponse,
    TrackingResult,
    TradeOrder,
    error_from_body,
    unwrap_list,
)
from tests.aliexpress.aliexpress_data import load_fixture

BIG_ID = 9007199254740993  # 2^53 + 1: the first integer a float cannot hold


def test_fixture_trade_order_finish() -> None:
    body = load_fixture("trade_ds_order_get_finish.json")
    order = TradeOrder.model_validate(body["aliexpress_trade_ds_order_get_response"]["result"])
    assert order.order_status == "FINISH"
    assert order.logistics_status == "BUYER_ACCEPT_GOODS"
    assert order.gmt_create == "2024-09-09 21:00:03"
    assert order.store_info is not None and order.store_info.store_id == "1103800006"
    [child] = order.child_order_list
    assert (child.sku_id, child.product_count, child.product_name) == (
        "1200003702000037",
        1,
        "500ML Insulated Water Bottle",
    )
    assert child.actual_fee is not None and child.actual_fee.amount == Decimal("8.12")
    assert order.user_order_amount is not None and order.user_order_amount.amount == Decimal("8.34")
    [logistics] = order.logistics_info_list
    assert logistics.logistics_no == "LP00675700340000"


def test_fixture_tracking_found() -> None:
    body = load_fixture("ds_order_tracking_get_found.json")
    result = TrackingResult.model_validate(body["aliexpress_ds_order_tracking_get_response"]["result"])
    assert result.ret is True
    [package] = result.packages
    assert package.mail_no == "4209795192144903600008220012159992"
    assert package.carrier_name == "AliExpress standard shipping"
    assert package.eta == 1740273780000
    assert package.detail_node_list[0].time_stamp == 1739928180000
    [item] = package.package_item_list
    assert (item.item_id, item.quantity, item.sku_desc) == ("1005008453688391", 1, "Color:Silvery; Size:M")


def test_fixture_tracking_not_found() -> None:
    body = load_fixture("ds_order_tracking_get_not_found.json")
    result = TrackingResult.model_validate(body["aliexpress_ds_order_tracking_get_response"]["result"])
    assert (result.ret, result.code, result.msg, result.packages) == (False, "1001", "TRACKING DATA NOT FOUND", [])


def test_fixture_create_success_keeps_the_id_exact() -> None:
    body = load_fixture("ds_order_create_success.json")
    result = CreateOrderResult.model_validate(body["aliexpress_ds_order_create_response"]["result"])
    assert result.is_success and result.order_list == ["8198352049851315"]


def test_fixture_create_address_fail() -> None:
    body = load_fixture("ds_order_create_address_fail.json")
    result = CreateOrderResult.model_validate(body["aliexpress_ds_order_create_response"]["result"])
    assert not result.is_success
    assert result.error_code == "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"
    assert result.error_msg == "Please enter a city"


def test_fixture_error_envelope() -> None:
    err = error_from_body(load_fixture("error_insufficient_permission.json"))
    assert isinstance(err, InsufficientPermissionError)
    assert (err.code, err.sub_code, err.error_type) == ("15", "isv.insufficient-permission", "ISP")
    assert err.message == "Insufficient permission."
    assert err.request_id == "210126da17406391015547789"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        ({}, []),
        ([1, 2], [1, 2]),
        ({"aeop_child_order_info": [{"a": 1}]}, [{"a": 1}]),
        ({"ae_child_order_info": [{"a": 1}]}, [{"a": 1}]),
        ({"tracking_detail": {"mail_no": "X"}}, [{"mail_no": "X"}]),  # wrapper around a bare object
        ({"number": [8198352049851315]}, [8198352049851315]),
        ({"number": 8198352049851315}, [8198352049851315]),
        ({"mail_no": "X", "carrier_name": "Y"}, [{"mail_no": "X", "carrier_name": "Y"}]),  # bare object
        ({"package_item": None}, []),
        (8198352049851315, [8198352049851315]),
    ],
)
def test_unwrap_list(value: Any, expected: list[Any]) -> None:
    assert unwrap_list(value) == expected


def _child(as_strings: bool) -> dict[str, Any]:
    child: dict[str, Any] = {"product_id": 1005008453688391, "sku_id": 12000037020000372, "product_count": 2}
    child.update(end_reason="buyer_cancel_order", end_reason_desc="cancelled")
    return {k: str(v) for k, v in child.items()} if as_strings else child


def _wrap(items: list[Any], key: str, style: str) -> Any:
    if style == "plain":
        return items
    if style == "bare":
        return items[0]
    if style == "wrapped_bare":
        return {key: items[0]}
    return {key: items}


@pytest.mark.parametrize("style", ["plain", "bare", "wrapped", "wrapped_bare"])
@pytest.mark.parametrize("prefix", ["aeop_", "ae_"])
@pytest.mark.parametrize("as_strings", [False, True])
def test_trade_order_every_shape(style: str, prefix: str, as_strings: bool) -> None:
    result = {
        "order_status": "FINISH",
        "logistics_status": "NO_LOGISTICS",
        "store_info": {"store_id": "1103800006" if as_strings else 1103800006},
        "child_order_list": _wrap([_child(as_strings)], f"{prefix}child_order_info", style),
        "logistics_info_list": _wrap(
            [{"logistics_no": "LP1", "logistics_service": "CAINIAO_STANDARD"}],
            f"{prefix}order_logistics_info",
            style,
        ),
        "pay_timeout_second": "0" if as_strings else 0,
    }
    order = TradeOrder.model_validate(result)
    [child] = order.child_order_list
    assert child.product_id == "1005008453688391"
    assert child.sku_id == "12000037020000372"
    assert child.product_count == 2
    assert child.end_reason == "buyer_cancel_order"
    assert [li.logistics_no for li in order.logistics_info_list] == ["LP1"]
    assert order.store_info is not None and order.store_info.store_id == "1103800006"
    assert order.pay_timeout_second == 0


@pytest.mark.parametrize("style", ["plain", "bare", "wrapped", "wrapped_bare"])
def test_tracking_every_shape(style: str) -> None:
    package = {
        "mail_no": "",
        "eta_time_stamps": "1740273780000",
        "detail_node_list": _wrap([{"time_stamp": "1739928180000", "tracking_name": "n"}], "detail_node", style),
        "package_item_list": _wrap(
            [{"item_id": str(BIG_ID), "sku_id": 12, "quantity": "3", "item_title": "t"}], "package_item", style
        ),
    }
    result = TrackingResult.model_validate(
        {"ret": "true", "data": {"tracking_detail_line_list": _wrap([package], "tracking_detail", style)}}
    )
    [pkg] = result.packages
    assert pkg.mail_no == ""
    assert pkg.eta == 1740273780000
    assert pkg.detail_node_list[0].time_stamp == 1739928180000
    assert pkg.package_item_list[0].item_id == str(BIG_ID)
    assert pkg.package_item_list[0].quantity == 3


def test_unknown_order_status_is_kept_not_rejected() -> None:
    order = TradeOrder.model_validate({"order_status": "SOMETHING_NEW"})
    assert order.order_status == "SOMETHING_NEW" and not order.is_known_status


def test_big_ids_from_json_stay_exact() -> None:
    raw = '{"is_success": true, "order_list": {"number": [9007199254740993, 9999999999999999]}}'
    result = CreateOrderResult.model_validate(json.loads(raw))
    assert result.order_list == ["9007199254740993", "9999999999999999"]


def test_lossy_float_id_is_refused() -> None:
    with pytest.raises(ValidationError):
        CreateOrderResult.model_validate({"is_success": True, "order_list": [float(BIG_ID)]})


@given(st.integers(min_value=1, max_value=10**19))
def test_any_json_integer_id_round_trips(order_id: int) -> None:
    parsed = json.loads(json.dumps({"order_list": {"number": [order_id]}, "is_success": True}))
    assert CreateOrderResult.model_validate(parsed).order_list == [str(order_id)]


def test_product_sections_are_flattened() -> None:
    result = {
        "ae_item_base_info_dto": {"product_id": 1005008453688391, "subject": "S", "product_status_type": "onSelling"},
        "ae_item_sku_info_dtos": {
            "ae_item_sku_info_d_t_o": {
                "sku_id": 1,
                "sku_attr": "14:193",
                "sku_price": "8.12",
                "sku_available_stock": "7",
            }
        },
        "ae_multimedia_info_dto": {"image_urls": "https://a/1.jpg;https://a/2.jpg"},
        "ae_store_info": {"store_id": 1103800006, "store_name": "Kedi"},
    }
    product = Product.model_validate(result)
    assert (product.product_id, product.status, product.store_id) == ("1005008453688391", "onSelling", "1103800006")
    [sku] = product.skus
    assert (sku.sku_id, sku.sku_attr, sku.price, sku.stock) == ("1", "14:193", Decimal("8.12"), 7)
    assert product.image_urls == ["https://a/1.jpg", "https://a/2.jpg"]


def test_token_numbers_as_strings_become_ints_and_repr_hides_tokens() -> None:
    token = TokenResponse.model_validate(
        {
            "access_token": "SECRET-ACCESS",
            "refresh_token": "SECRET-REFRESH",
            "expires_in": "86400",
            "refresh_expires_in": 172800,
            "expire_time": "1740273780000",
            "refresh_token_valid_time": 1740360180000,
            "user_id": 2200000000001,
            "account_platform": "buyerApp",
            "code": "0",
        }
    )
    assert (token.expires_in, token.refresh_expires_in) == (86400, 172800)
    assert (token.expire_time, token.refresh_token_valid_time) == (1740273780000, 1740360180000)
    assert token.user_id == "2200000000001"
    assert "SECRET" not in repr(token) and "SECRET" not in str(token)


def test_business_error_exposes_error_code_and_msg() -> None:
    err = BusinessError("INVENTORY_HOLD_ERROR", "no stock", "rid")
    assert (err.error_code, err.error_msg, err.request_id) == ("INVENTORY_HOLD_ERROR", "no stock", "rid")
