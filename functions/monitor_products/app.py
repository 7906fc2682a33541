"""Daily monitoring of pushed products (EventBridge Scheduler, 03:00 UTC; issue 12).

Reads every product due (ProductsTable's DueIndex, shard by shard, across shops) with ds.product.get within the
fleet's AliExpress rate budget and applies each shop's monitoring rules (shared/logic/products/monitor.py).
Each refreshed product is due again in 24 h, so a duplicate or retried delivery finds nothing left to do; a run
cut short by the timeout leaves the rest due, and the next invocation (or the next day) goes on from there.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import wiring
from shared.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = wiring.product_monitor().run_due(time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    for name, value in (("ProductsChecked", report.checked), ("ProductsChanged", report.changed),
                        ("ProductChecksFailed", report.failed)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("product monitoring", extra={"checked": report.checked, "changed": report.changed,
                                             "failed": report.failed, "stopped_early": report.stopped_early})
    return {"checked": report.checked, "changed": report.changed, "failed": report.failed,
            "stopped_early": report.stopped_early}
