"""A shop's product rules (issue 12): pricing (ranges, compare-at, cents, shipping, currency) and monitoring.

GET  /shops/{shop}/product-rules
PUT  /shops/{shop}/product-rules          {"pricing": {...}, "monitoring": {...}} (each part optional)
POST /shops/{shop}/product-rules/apply    re-apply the pricing rules to products already pushed
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared import wiring
from shared.models.errors import BadRequest
from shared.models.order import utcnow
from shared.models.product import MonitorRules, PricingRules, ProductRules
from shared.web import Response, Router, json_response, parse_body

router = Router()


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pricing: PricingRules | None = None
    monitoring: MonitorRules | None = None


def rules_view(rules: ProductRules) -> dict[str, object]:
    return rules.model_dump(mode="json", exclude={"shop"})


@router.get("/shops/<shop>/product-rules")
def read_rules(shop: str) -> Response:
    return json_response(rules_view(wiring.products().get_rules(shop)))


@router.put("/shops/<shop>/product-rules")
def change_rules(shop: str) -> Response:
    body = parse_body(router.current_event, RulesBody)
    if body.pricing is None and body.monitoring is None:
        raise BadRequest("nothing to change: send pricing and/or monitoring")
    repo = wiring.products()
    current = repo.get_rules(shop)
    rules = ProductRules(shop=shop, pricing=body.pricing or current.pricing,
                         monitoring=body.monitoring or current.monitoring, updated_at=utcnow())
    repo.put_rules(rules)
    return json_response(rules_view(rules))


@router.post("/shops/<shop>/product-rules/apply")
def apply_rules(shop: str) -> Response:
    return json_response(wiring.product_pusher().reapply_rules(shop))
