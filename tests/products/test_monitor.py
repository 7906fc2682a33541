"""Monitoring of pushed products: each rule (product gone → unpublish or quantity 0; variant gone / out of stock →
quantity 0; cost change → re-price or notify), the change log, re-applying rules, the daily run over the DueIndex,
and its schedule in the template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from local.template import load_template
from shared import wiring
from simulators.aliexpress import AliExpressSimulator
from simulators.shopbase import ShopBaseSimulator
from tests.products.conftest import JUICER, MUG, SHOP, WATCH, aliexpress_calls, call, import_products

GOLD_CN = "12000044382493157"
SILVER_CN = "12000044382493158"


def pushed(context: Any, *product_ids: str) -> None:
    import_products(context, *product_ids)
    for product_id in product_ids:
        status, body = call(context, "POST", f"/shops/{SHOP}/products/{product_id}/push", {"publish": True})
        assert status == 200, body


def store_product(sb: ShopBaseSimulator, product_id: str) -> dict[str, Any]:
    stored = wiring.products().get(SHOP, product_id)
    assert stored is not None and stored.store_product_id is not None
    return sb.product(SHOP, int(stored.store_product_id))


def refresh(context: Any, product_id: str) -> dict[str, Any]:
    status, body = call(context, "POST", f"/shops/{SHOP}/products/{product_id}/refresh")
    assert status == 200, body
    return body


def log_kinds(context: Any, product_id: str) -> list[str]:
    return [e["kind"] for e in call(context, "GET", f"/shops/{SHOP}/products/{product_id}/log")[1]["log"]]


def set_rules(context: Any, **monitoring: Any) -> None:
    status, body = call(context, "PUT", f"/shops/{SHOP}/product-rules", {"monitoring": monitoring})
    assert status == 200, body


def test_product_gone_unpublishes_by_default(connected: str, ae: AliExpressSimulator, sb: ShopBaseSimulator,
                                             lambda_context: Any) -> None:
    pushed(lambda_context, WATCH)
    assert store_product(sb, WATCH)["published"] is True
    ae.remove_product(WATCH)
    body = refresh(lambda_context, WATCH)
    assert "unpublished" in body["changes"][0]
    assert store_product(sb, WATCH)["published"] is False
    assert log_kinds(lambda_context, WATCH)[0] == "product_gone"
    assert call(lambda_context, "GET", f"/shops/{SHOP}/products/{WATCH}")[1]["status"] == "gone"


def test_product_gone_can_zero_every_quantity_instead(connected: str, ae: AliExpressSimulator,
                                                      sb: ShopBaseSimulator, lambda_context: Any) -> None:
    set_rules(lambda_context, product_gone="zero_quantity")
    pushed(lambda_context, MUG)
    ae.remove_product(MUG)
    refresh(lambda_context, MUG)
    product = store_product(sb, MUG)
    assert product["published"] is True and [v["inventory_quantity"] for v in product["variants"]] == [0]
    # It comes back: quantities follow AliExpress's stock again.
    ae.seed_product(MUG, subject="Ceramic Mug", store_id="1103800200",
                    skus=[{"sku_id": "12000011111111111", "sku_attr": "", "price": "3.00", "stock": 77}])
    refresh(lambda_context, MUG)
    assert [v["inventory_quantity"] for v in store_product(sb, MUG)["variants"]] == [77]
    assert log_kinds(lambda_context, MUG)[:3] == ["back", "stock", "product_gone"]  # newest first


def test_variant_gone_or_out_of_stock_goes_to_zero(connected: str, ae: AliExpressSimulator, sb: ShopBaseSimulator,
                                                   lambda_context: Any) -> None:
    pushed(lambda_context, WATCH)
    ae.remove_sku(WATCH, GOLD_CN)
    ae.set_stock(WATCH, SILVER_CN, 0)
    body = refresh(lambda_context, WATCH)
    assert len(body["changes"]) == 2
    quantities = {v["sku"]: v["inventory_quantity"] for v in store_product(sb, WATCH)["variants"]}
    assert quantities[f"AE-{GOLD_CN}"] == 0 and quantities[f"AE-{SILVER_CN}"] == 0
    assert quantities["AE-12000044382493159"] == 12  # untouched
    assert {"variant_gone", "out_of_stock"} <= set(log_kinds(lambda_context, WATCH))
    # Nothing changed since: no store call, nothing logged.
    calls = sb.stats()["shops"][SHOP]["calls"].get("PUT /admin/products/{product_id}.json", 0)
    assert refresh(lambda_context, WATCH)["changes"] == []
    assert sb.stats()["shops"][SHOP]["calls"].get("PUT /admin/products/{product_id}.json", 0) == calls


def test_cost_change_only_notifies_by_default(connected: str, ae: AliExpressSimulator, sb: ShopBaseSimulator,
                                              lambda_context: Any) -> None:
    pushed(lambda_context, WATCH)
    ae.change_price(WATCH, GOLD_CN, "20.00")
    body = refresh(lambda_context, WATCH)
    assert any("cost 17.50 → 20.00" in c and "price kept at 35.00" in c for c in body["changes"])
    prices = {v["sku"]: v["price"] for v in store_product(sb, WATCH)["variants"]}
    assert prices[f"AE-{GOLD_CN}"] == "35.00"
    assert log_kinds(lambda_context, WATCH)[0] == "cost_changed"
    # Re-applying the rules to pushed products re-prices it (what DSers cannot do).
    status, applied = call(lambda_context, "POST", f"/shops/{SHOP}/product-rules/apply")
    assert status == 200 and applied == {"repriced": [WATCH], "failed": []}
    assert {v["sku"]: v["price"] for v in store_product(sb, WATCH)["variants"]}[f"AE-{GOLD_CN}"] == "40.00"


def test_cost_change_reprices_by_the_rules(connected: str, ae: AliExpressSimulator, sb: ShopBaseSimulator,
                                           lambda_context: Any) -> None:
    set_rules(lambda_context, cost_change="reprice")
    call(lambda_context, "PUT", f"/shops/{SHOP}/product-rules", {"pricing": {"cents": "0.99"}})
    pushed(lambda_context, WATCH)
    ae.change_price(WATCH, GOLD_CN, "21.00")
    refresh(lambda_context, WATCH)
    prices = {v["sku"]: v["price"] for v in store_product(sb, WATCH)["variants"]}
    assert prices[f"AE-{GOLD_CN}"] == "42.99" and prices[f"AE-{SILVER_CN}"] == "34.99"
    assert log_kinds(lambda_context, WATCH)[0] == "repriced"


def test_refresh_is_for_pushed_products_only(connected: str, lambda_context: Any) -> None:
    import_products(lambda_context, JUICER)
    status, body = call(lambda_context, "POST", f"/shops/{SHOP}/products/{JUICER}/refresh")
    assert status == 409 and body["code"] == "NOT_PUSHED"
    assert call(lambda_context, "POST", f"/shops/{SHOP}/products/1234567890/refresh")[0] == 404


def test_the_daily_run_checks_what_is_due_across_shops_within_the_budget(
        connected: str, ae: AliExpressSimulator, sb: ShopBaseSimulator, lambda_context: Any) -> None:
    from functions.monitor_products import app

    pushed(lambda_context, WATCH, MUG)
    ae.set_stock(WATCH, SILVER_CN, 5)
    # Nothing is due yet (pushed just now, next check in 24 h).
    assert app.lambda_handler({}, lambda_context)["checked"] == 0
    later = datetime.now(UTC) + timedelta(hours=25)
    monitor = wiring.product_monitor()
    monitor.clock = later.timestamp
    ae.reset_stats()
    report = monitor.run_due()
    assert (report.checked, report.changed, report.failed) == (2, 1, 0)
    assert aliexpress_calls(ae) == {"aliexpress.ds.product.get": 2}  # one per product, through the rate budget
    stored = wiring.products().get(SHOP, WATCH)
    assert stored is not None and stored.next_check_at is not None and stored.next_check_at > later
    assert monitor.run_due().checked == 0  # each checked product is due again only in 24 h
    # A shop that turned monitoring off is skipped (and postponed), not read.
    set_rules(lambda_context, enabled=False)
    monitor.clock = (later + timedelta(hours=25)).timestamp
    ae.reset_stats()
    assert monitor.run_due().checked == 0 and aliexpress_calls(ae) == {}


def test_the_schedule_and_the_table_are_in_the_template() -> None:
    resources = load_template()["Resources"]
    function = resources["MonitorProductsFunction"]["Properties"]
    assert function["Handler"] == "functions.monitor_products.app.lambda_handler"
    schedule = function["Events"]["Daily"]  # a function event: the local runtime fires it like the sync's
    assert schedule["Type"] == "ScheduleV2"
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 3 * * ? *)" and props["ScheduleExpressionTimezone"] == "UTC"
    assert props["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["MonitorProductsFailureQueue", "Arn"]}
    table = resources["ProductsTable"]["Properties"]
    assert "StreamSpecification" not in table  # product writes stay off the orders stream
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"ListIndex", "StoreIndex", "DueIndex"}
    policy = resources["MonitorProductsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert any(s.get("Resource") == {"Fn::Sub": "${ProductsTable.Arn}/index/DueIndex"} for s in policy)
