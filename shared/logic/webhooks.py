"""Receiving one ShopBase webhook delivery: size, authenticity, parsing, intake, then auto-place.

Checked in this order, each failure a domain error the HTTP layer answers (nothing is written before all pass):
  body over max_bytes → TooLarge; unknown shop, a shop-domain header naming another shop, or a bad signature
  on the exact bytes received → NotAuthorized (the same answer whichever it was); not UTF-8, not JSON, or nested
  deeper than MAX_JSON_DEPTH → BadRequest; not a JSON object → Invalid(field=""); the wrong shape or a field
  out of its bounds → pydantic's ValidationError (the HTTP layer names the field); an order that does not fit
  one stored item → TooLarge naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from secrets import token_hex
from typing import Any

from shared.logic.auth import ShopSecretReader
from shared.logic.intake import (
    IntakeResult,
    OrderWriter,
    Topic,
    apply_order_webhook,
    apply_refund_webhook,
    body_hash,
)
from shared.models.errors import Invalid, NotAuthorized, TooLarge
from shared.models.json_body import read_json
from shared.models.order import Order
from shared.models.shopbase_order import ShopBaseOrder, ShopBaseRefund
from shared.observability import tracer
from shared.shopbase.signature import verify_webhook

SHOP_DOMAIN_HEADER = "x-shopbase-shop-domain"
SIGNATURE_HEADER = "x-shopbase-hmac-sha256"
# ShopBase orders nest five levels; unknown fields are kept as sent (model_extra), so their depth is bounded here.
MAX_JSON_DEPTH = 32
# Never a shop's secret (a fresh random value per process): only there so an unknown shop costs one HMAC too.
_THROWAWAY_KEY = token_hex(32)


def read_payload(body: bytes) -> Any:
    """The JSON value of a verified body; BadRequest for bytes that are not UTF-8 JSON of a bounded depth."""
    return read_json(body, max_depth=MAX_JSON_DEPTH)


class WebhookReceiver:
    def __init__(self, secrets: ShopSecretReader, orders: OrderWriter, auto_place: Callable[[Order | None], bool],
                 max_bytes: int) -> None:
        self._secrets = secrets
        self._orders = orders
        self._auto_place = auto_place
        self._max_bytes = max_bytes

    @tracer.capture_method
    def receive(self, shop: str, topic: Topic, headers: Mapping[str, str], body: bytes) -> IntakeResult:
        if len(body) > self._max_bytes:
            raise TooLarge("payload too large")
        lowered = {name.lower(): value for name, value in headers.items()}
        if not self.authentic(shop, lowered, body):
            raise NotAuthorized()
        payload = read_payload(body)
        if not isinstance(payload, dict):
            raise Invalid("body must be a JSON object", field="")
        result = self._apply(shop, topic, payload, body)
        # auto_place shops: a paid, unplaced order goes to PlaceOrdersQueue. A failed send raises, so the
        # delivery fails and ShopBase sends it again (then a duplicate, which is queued again).
        self._auto_place(result.order)
        return result

    def authentic(self, shop: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Unknown shop, a header naming another shop, and a bad signature all look the same to the caller, and
        take the same work: the HMAC over the body is computed on every path (against a throwaway key when
        there is no shop), so the answer's time does not tell which shops exist."""
        domain = headers.get(SHOP_DOMAIN_HEADER)
        domain_ok = domain is None or domain.strip().lower() in {shop, f"{shop}.onshopbase.com"}
        shop_secrets = self._secrets.get(shop) if domain_ok else None
        key = shop_secrets.webhook_secret.get_secret_value() if shop_secrets is not None else _THROWAWAY_KEY
        verified = verify_webhook(key, body, headers.get(SIGNATURE_HEADER))
        return verified and shop_secrets is not None

    def _apply(self, shop: str, topic: Topic, payload: dict[str, Any], body: bytes) -> IntakeResult:
        # refunds/create carries a refund object; a body with line_items on that topic is an order.
        if topic is Topic.REFUNDS_CREATE and "line_items" not in payload:
            return apply_refund_webhook(self._orders, shop, ShopBaseRefund.model_validate(payload))
        return apply_order_webhook(self._orders, shop, topic, ShopBaseOrder.model_validate(payload),
                                   body_hash(body))
