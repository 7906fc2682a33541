"""What the runtime builds from infra/template.yaml: intrinsics, Globals, routes, and every event source."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.api import RouteTable
from local.functions import LocalFunction
from local.stack import Stack
from local.streams import StreamMappingConfig
from local.template import Resolver, function_specs, load_template
from tests.local import probe
from tests.local.conftest import wait_for


def test_resolver_handles_ref_getatt_sub_join() -> None:
    template = {"Parameters": {"Stage": {"Type": "String", "Default": "prod"}}}
    resolver = Resolver(template, {"Extra": "x"})
    resolver.refs["Table"] = "orders"
    resolver.attrs["Queue.Arn"] = "arn:aws:sqs:us-east-1:123456789012:q"
    assert resolver.resolve({"Fn::Sub": "dropship/${Stage}/${Table}/${Queue.Arn}/${!Literal}"}) == \
        "dropship/prod/orders/arn:aws:sqs:us-east-1:123456789012:q/${Literal}"
    assert resolver.resolve({"Fn::Sub": ["${A}-${AWS::Region}", {"A": {"Ref": "Extra"}}]}) == "x-us-east-1"
    assert resolver.resolve({"Fn::Join": [":", ["a", {"Ref": "Table"}]]}) == "a:orders"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]}) == "b"
    assert resolver.try_resolve({"Ref": "Nope"}, "default") == "default"


def test_function_environment_is_globals_plus_own() -> None:
    specs = {s.logical_id: s for s in function_specs(load_template())}
    webhook = specs["WebhookOrderFunction"]
    assert webhook.handler == "functions.webhook_order.app.lambda_handler"
    assert webhook.environment["TABLE_NAME"] == {"Ref": "OrdersTable"}  # from Globals
    assert webhook.environment["POWERTOOLS_SERVICE_NAME"] == "webhook_order"  # its own
    assert webhook.timeout == 10


def test_routes_prefer_exact_then_parameters_then_greedy() -> None:
    table = RouteTable()
    functions = {name: object() for name in ("greedy", "param", "exact", "any")}
    table.add("ANY", "/shops/{proxy+}", functions["greedy"])  # type: ignore[arg-type]
    table.add("GET", "/shops/{shop}/orders", functions["param"])  # type: ignore[arg-type]
    table.add("GET", "/shops/demo/orders", functions["exact"])  # type: ignore[arg-type]
    table.add("ANY", "/shops/{shop}/orders", functions["any"])  # type: ignore[arg-type]

    def target(method: str, path: str) -> Any:
        found = table.match(method, path)
        return found and (found[0].function, found[1])

    assert target("GET", "/shops/demo/orders") == (functions["exact"], {})
    assert target("GET", "/shops/acme/orders") == (functions["param"], {"shop": "acme"})
    assert target("POST", "/shops/acme/orders") == (functions["any"], {"shop": "acme"})
    assert target("DELETE", "/shops/acme/links/9") == (functions["greedy"], {"proxy": "acme/links/9"})
    assert target("GET", "/elsewhere") is None


def test_stream_settings_are_read_from_the_template() -> None:
    template = load_template()
    for spec in function_specs(template):
        for event in spec.events_of("DynamoDB"):
            config = StreamMappingConfig.from_properties(event.properties)
            props = event.properties
            assert config.batch_size == props.get("BatchSize", 100)
            assert config.max_retry_attempts == props.get("MaximumRetryAttempts", -1)
            assert len(config.filters) == len((props.get("FilterCriteria") or {}).get("Filters", []))


def test_the_real_template_is_wired(start_stack: Callable[..., Stack]) -> None:
    """Every function, route, stream consumer, queue consumer and schedule of infra/template.yaml runs."""
    template = load_template()
    stack = start_stack(Path(__file__).resolve().parents[2] / "infra" / "template.yaml")
    status = stack.status()
    specs = function_specs(template)
    assert set(status["functions"]) == {s.logical_id for s in specs}
    declared_routes = {f"{e.properties['Method'].upper()} {e.properties['Path']} -> {s.logical_id}"
                       for s in specs for e in s.events_of("HttpApi")}
    assert set(status["routes"]) == declared_routes
    assert set(status["streams"]) == {f"{s.logical_id}.{e.name}" for s in specs for e in s.events_of("DynamoDB")}
    assert set(status["queues"]) == {f"{s.logical_id}.{e.name}" for s in specs for e in s.events_of("SQS")}
    assert set(status["schedules"]) == {f"{s.logical_id}.{e.name}" for s in specs
                                        for e in s.events_of("ScheduleV2", "Schedule")}
    for queue in stack.wiring.queues:
        spec = next(s for s in specs if s.logical_id == queue.function.logical_id)
        assert stack.resolver is not None
        props = stack.resolver.resolve(next(e.properties for e in spec.events_of("SQS")
                                            if queue.name.endswith(e.name)))
        assert queue.config.batch_size == int(props.get("BatchSize", 10))
        assert queue.config.max_concurrency == int((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 2))
    assert status["unsupported_events"] == []
    # Functions see the local resources, resolved from Globals.
    import os

    assert os.environ["TABLE_NAME"] == status["tables"]["OrdersTable"]
    assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url


def _sqs_template(tmp_path: Path, **event: Any) -> Path:
    template = load_template()
    template["Resources"]["ProbeDlq"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    template["Resources"]["ProbeQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        # As AWS requires, no shorter than the function's timeout (a message must not come back while handled).
        "VisibilityTimeout": 3,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["ProbeDlq", "Arn"]}, "maxReceiveCount": 2}}}
    props = {"Queue": {"Fn::GetAtt": ["ProbeQueue", "Arn"]}, "BatchSize": 3,
             "FunctionResponseTypes": ["ReportBatchItemFailures"], **event}
    template["Resources"]["ProbeSqsFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "Handler": "tests.local.probe.sqs_handler", "Timeout": 3,
        "Events": {"Work": {"Type": "SQS", "Properties": props}}}}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def test_sqs_batch_size_partial_failures_and_redrive(tmp_path: Path, start_stack: Callable[..., Stack]) -> None:
    probe.SQS_CALLS.clear()
    stack = start_stack(_sqs_template(tmp_path, ScalingConfig={"MaximumConcurrency": 2}))
    urls = stack.status()["queues_by_resource"]
    sqs = stack.client("sqs")
    for body in ["ok-1", "ok-2", "fail-3", "ok-4", "ok-5", "ok-6", "ok-7"]:
        sqs.send_message(QueueUrl=urls["ProbeQueue"], MessageBody=body)

    def dead_lettered() -> list[str]:
        got = sqs.receive_message(QueueUrl=urls["ProbeDlq"], MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in got]

    moved: list[str] = []

    def settled() -> bool:
        # The DLQ can fill before a poller's last batch of successes has run (a busy machine): wait for both, so
        # a message that was really lost still fails the test after the deadline.
        # SQS delivers at least once: a batch whose handling outlasts the visibility timeout comes again, so
        # each success must have been handled, perhaps twice.
        moved.extend(dead_lettered())
        done = {b for batch in list(probe.SQS_CALLS) for b in batch if b != "fail-3"}
        return moved == ["fail-3"] and done == {"ok-1", "ok-2", "ok-4", "ok-5", "ok-6", "ok-7"}

    wait_for(settled, timeout=30)
    mapping = next(q for q in stack.wiring.queues if q.name == "ProbeSqsFunction.Work")
    bodies = [b for batch in probe.SQS_CALLS for b in batch]
    assert all(len(batch) <= 3 for batch in probe.SQS_CALLS)
    assert bodies.count("fail-3") == 2  # received twice (maxReceiveCount), then moto redrove it
    assert mapping.max_parallel <= 2 and len(mapping._threads) == 2


def test_sqs_maximum_concurrency_is_the_number_of_pollers(tmp_path: Path,
                                                          start_stack: Callable[..., Stack]) -> None:
    stack = start_stack(_sqs_template(tmp_path, ScalingConfig={"MaximumConcurrency": 5}, BatchSize=1))
    mapping = next(q for q in stack.wiring.queues if q.name == "ProbeSqsFunction.Work")
    assert len(mapping._threads) == 5


def test_schedule_input_gets_the_simulated_time_and_errors_go_to_the_on_failure_destination(
        tmp_path: Path, start_stack: Callable[..., Stack]) -> None:
    """A function error is Lambda's to retry (EventInvokeConfig), then recorded on OnFailure with the event; the
    schedule's own DLQ is for failed deliveries only and stays empty."""
    template = load_template()
    template["Resources"]["ScheduleDlq"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    template["Resources"]["TickFailures"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    template["Resources"]["Tick"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "Handler": "tests.local.probe.schedule_handler",
        "EventInvokeConfig": {"MaximumRetryAttempts": 1, "DestinationConfig": {
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["TickFailures", "Arn"]}}}},
        "Events": {"Noon": {"Type": "ScheduleV2", "Properties": {
            "ScheduleExpression": "cron(0 12 * * ? *)", "ScheduleExpressionTimezone": "UTC",
            "Input": '{"at": "<aws.scheduler.scheduled-time>", "fail": true}',
            "RetryPolicy": {"MaximumRetryAttempts": 5},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["ScheduleDlq", "Arn"]}}}}}}}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    stack = start_stack(path)
    from datetime import UTC, datetime

    probe.SCHEDULE_EVENTS.clear()
    runs = stack.fire_schedule("Tick", datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    assert [(r["ok"], r["attempts"]) for r in runs] == [(False, 2)]  # 1 + EventInvokeConfig's 1 retry
    assert probe.SCHEDULE_EVENTS == [{"at": "2026-11-26T12:00:00Z", "fail": True}] * 2
    urls = stack.status()["queues_by_resource"]
    sqs = stack.client("sqs")
    failed = sqs.receive_message(QueueUrl=urls["TickFailures"]).get("Messages", [])
    assert len(failed) == 1
    record = json.loads(failed[0]["Body"])
    assert record["requestPayload"] == {"at": "2026-11-26T12:00:00Z", "fail": True}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert sqs.receive_message(QueueUrl=urls["ScheduleDlq"]).get("Messages", []) == []
    assert stack.status()["next_runs"]["Tick.Noon"].endswith("12:00:00+00:00")


def test_the_sync_starters_errors_reach_its_failure_queue(start_stack: Callable[..., Stack],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The real template and handler: a starter failing every attempt leaves one record on SyncStatusFailureQueue
    (and nothing on the schedule's delivery DLQ)."""
    from datetime import UTC, datetime

    import functions.sync_status.app as starter

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("DynamoDB did not answer")

    monkeypatch.setattr(starter, "start_scheduled_run", unavailable)
    stack = start_stack(Path(__file__).resolve().parents[2] / "infra" / "template.yaml")
    slot = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    [run] = stack.fire_schedule("SyncStatusFunction", slot)
    assert (run["ok"], run["attempts"]) == (False, 3)  # 1 + the template's MaximumRetryAttempts: 2
    urls = stack.status()["queues_by_resource"]
    sqs = stack.client("sqs")
    [message] = sqs.receive_message(QueueUrl=urls["SyncStatusFailureQueue"]).get("Messages", [])
    record = json.loads(message["Body"])
    assert record["requestPayload"] == {"scheduled_time": "2026-11-26T12:00:00Z"}
    assert record["responsePayload"]["errorType"] == "ConnectionError"
    assert sqs.receive_message(QueueUrl=urls["SyncScheduleDeadLetterQueue"]).get("Messages", []) == []
    assert stack.status()["schedules"]["SyncStatusFunction.TwiceDaily"]["on_failure"].endswith(
        ":dropship-local-SyncStatusFailureQueue")


def test_a_broken_handler_fails_the_start(tmp_path: Path) -> None:
    spec = function_specs({"Resources": {"F": {"Type": "AWS::Serverless::Function",
                                               "Properties": {"Handler": "tests.local.nowhere.handler"}}}})[0]

    with pytest.raises(ModuleNotFoundError):
        LocalFunction(spec, "f", "arn").load()


def test_scheduler_fires_at_the_cron_times_in_order() -> None:
    """The timer itself, on a clock that runs 4 h per look: runs for 12:00, 00:00, 12:00 with their times."""
    import threading
    from datetime import UTC, datetime, timedelta

    from local.schedules import ScheduledTarget, Scheduler
    from local.template import FunctionSpec

    spec = FunctionSpec("Tick", "tests.local.probe.schedule_handler", 5, 128, {})
    target = ScheduledTarget.from_event(LocalFunction(spec, "tick", "arn"), "Twice", "ScheduleV2", {
        "ScheduleExpression": "cron(0 0,12 * * ? *)", "Input": '{"at": "<aws.scheduler.scheduled-time>"}'})
    now = [datetime(2026, 11, 26, 3, 1, tzinfo=UTC)]
    lock = threading.Lock()

    def clock() -> datetime:
        with lock:
            now[0] += timedelta(hours=4)
            return now[0]

    probe.SCHEDULE_EVENTS.clear()
    scheduler = Scheduler([target], clock=clock, max_wait=0.01)
    scheduler.start()
    wait_for(lambda: len(target.runs) >= 3)
    scheduler.stop()
    assert [e["at"] for e in probe.SCHEDULE_EVENTS[:3]] == [
        "2026-11-26T12:00:00Z", "2026-11-27T00:00:00Z", "2026-11-27T12:00:00Z"]
