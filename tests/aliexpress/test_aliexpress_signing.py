"""Request signing: the official vector and the rules around it (DS API notes §3)."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from shared.aliexpress import sign

VECTOR_PARAMS = {
    "access_token": "test",
    "app_key": "123456",
    "order_id": "1234",
    "sign_method": "sha256",
    "timestamp": "1517820392000",
}


def test_official_vector() -> None:
    expected = "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
    assert sign(VECTOR_PARAMS, "helloworld", "/order/get") == expected


def test_sign_parameter_is_ignored() -> None:
    with_sign = {**VECTOR_PARAMS, "sign": "whatever"}
    assert sign(with_sign, "helloworld", "/order/get") == sign(VECTOR_PARAMS, "helloworld", "/order/get")


def test_business_api_name_is_not_a_prefix() -> None:
    params = {"method": "aliexpress.trade.ds.order.get", "app_key": "1", "timestamp": "2"}
    plain = "app_key1methodaliexpress.trade.ds.order.gettimestamp2"
    expected = hmac.new(b"s", plain.encode(), hashlib.sha256).hexdigest().upper()
    assert sign(params, "s", "aliexpress.trade.ds.order.get") == expected
    assert sign(params, "s") == expected


def test_json_values_are_signed_verbatim() -> None:
    params = {"single_order_query": '{"order_id":"9007199254740993"}', "app_key": "k"}
    plain = 'app_keyksingle_order_query{"order_id":"9007199254740993"}'
    assert sign(params, "s") == hmac.new(b"s", plain.encode(), hashlib.sha256).hexdigest().upper()


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@given(st.dictionaries(names, st.text(max_size=20), min_size=1, max_size=8))
def test_insertion_order_does_not_matter(params: dict[str, str]) -> None:
    reversed_params = dict(reversed(list(params.items())))
    assert sign(params, "secret", "/auth/token/create") == sign(reversed_params, "secret", "/auth/token/create")


@given(st.dictionaries(names, st.text(max_size=20), min_size=1, max_size=8), st.data())
def test_changing_any_value_changes_the_signature(params: dict[str, str], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(params)))
    changed = {**params, name: params[name] + "x"}
    assert sign(changed, "secret") != sign(params, "secret")
