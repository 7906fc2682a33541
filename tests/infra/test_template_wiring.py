"""The wiring the mission depends on, read from infra/template.yaml (the file SAM deploys).

Schedules at 00:00 and 12:00 UTC; the orders stream's two consumers (filters, retry caps, bisect, on-failure) and
no third reader; a failure destination for every asynchronous entry point; an alarm with actions on every
failure queue, every function's errors and throttles, stream lag, API 5xx, a sync run that does not end,
stalled tracking, AliExpress disconnections and SES reputation; retention of data and secrets; suppressions
with reasons.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.events.models import EventPattern

from local.cron import Schedule
from local.template import ROOT, function_specs, load_template

ORDERS_STREAM = {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
TOPIC = {"Ref": "AlarmTopic"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]  # type: ignore[no-any-return]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in resources.items() if res["Type"] == kind}


def events(resources: dict[str, Any], *types: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(fn, name, event["Properties"]) for fn, res in of_type(resources, "AWS::Serverless::Function").items()
            for name, event in (res["Properties"].get("Events") or {}).items() if event["Type"] in types]


def getatt(value: Any, attribute: str) -> str:
    assert isinstance(value, dict) and "Fn::GetAtt" in value, value
    name, attr = value["Fn::GetAtt"]
    assert attr == attribute, value
    return str(name)


def queue_alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Queue logical id -> the alarm on its visible messages."""
    found = {}
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        for dimension in props.get("Dimensions", []):
            if dimension["Name"] == "QueueName" and props["MetricName"] == "ApproximateNumberOfMessagesVisible":
                found[getatt(dimension["Value"], "QueueName")] = props
    return found


def alarmed_metrics(resources: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(namespace, metric, dimension value) of every alarm, metric math included."""
    found = set()
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        if "MetricName" in props:
            metrics.append(props)
        for metric in metrics:
            values = [json.dumps(d["Value"], sort_keys=True) for d in metric.get("Dimensions", [])] or [""]
            found |= {(metric["Namespace"], metric["MetricName"], value) for value in values}
    return found


# ---------------------------------------------------------------- the schedule
def test_one_schedule_fires_at_00_and_12_utc(resources: dict[str, Any]) -> None:
    schedules = events(resources, "ScheduleV2", "Schedule")
    assert {(function, name) for function, name, _ in schedules} == {
        ("SyncStatusFunction", "TwiceDaily"), ("MonitorProductsFunction", "Daily")}  # product monitoring, 03:00
    [(function, name, props)] = [s for s in schedules if s[0] == "SyncStatusFunction"]
    assert (function, name) == ("SyncStatusFunction", "TwiceDaily")
    assert not of_type(resources, "AWS::Scheduler::Schedule") and not of_type(resources, "AWS::Events::Rule")
    assert props["ScheduleExpression"] == "cron(0 0,12 * * ? *)" and props["ScheduleExpressionTimezone"] == "UTC"
    schedule = Schedule.parse(props["ScheduleExpression"], props["ScheduleExpressionTimezone"])
    moment, fired = datetime(2026, 3, 28, 23, 30, tzinfo=UTC), []  # across a DST weekend elsewhere
    for _ in range(4):
        moment = schedule.next_after(moment)
        fired.append(moment.astimezone(UTC).strftime("%d %H:%M"))
    assert fired == ["29 00:00", "29 12:00", "30 00:00", "30 12:00"]


# ---------------------------------------------------------------- the orders stream
def test_the_stream_has_exactly_two_readers(resources: dict[str, Any]) -> None:
    readers = sorted(fn for fn, _, props in events(resources, "DynamoDB") if props["Stream"] == ORDERS_STREAM)
    assert readers == ["NotifyCustomerFunction", "PushTrackingFunction"]
    assert len(events(resources, "DynamoDB")) == 2  # no other stream at all
    for kind in ("AWS::Lambda::EventSourceMapping", "AWS::Pipes::Pipe", "AWS::Kinesis::StreamConsumer"):
        assert not of_type(resources, kind), f"{kind}: a third stream reader needs a fan-out"


@pytest.mark.parametrize(("function", "counter"), [("PushTrackingFunction", "push_pending"),
                                                    ("NotifyCustomerFunction", "notify_pending")])
def test_each_stream_consumer_is_filtered_capped_bisected_and_has_on_failure(
        resources: dict[str, Any], function: str, counter: str) -> None:
    esm = resources[function]["Properties"]["Events"]["OrdersStream"]["Properties"]
    assert esm["BisectBatchOnFunctionError"] is True
    assert 1 <= esm["MaximumRetryAttempts"] <= 10 and 60 <= esm["MaximumRecordAgeInSeconds"] <= 6 * 3600
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    failures = getatt(esm["DestinationConfig"]["OnFailure"]["Destination"], "Arn")
    assert resources[failures]["Type"] == "AWS::SQS::Queue"
    patterns = [EventPattern.load(f["Pattern"]) for f in esm["FilterCriteria"]["Filters"]]

    def delivered(event_name: str, image: dict[str, Any]) -> bool:
        record = {"eventName": event_name, "dynamodb": {"NewImage": image}}
        return any(p.matches_event(record) for p in patterns)  # type: ignore[arg-type]

    assert delivered("MODIFY", {"entity": {"S": "order"}, counter: {"N": "1"}})
    assert not delivered("MODIFY", {"entity": {"S": "order"}, counter: {"N": "0"}})
    assert not delivered("MODIFY", {"entity": {"S": "shop"}, counter: {"N": "1"}})
    assert not delivered("REMOVE", {"entity": {"S": "order"}, counter: {"N": "1"}})


# ---------------------------------------------------------------- failures go somewhere
def failure_destinations(resources: dict[str, Any]) -> dict[str, list[str]]:
    """Every event source of every function -> the queues its failures go to; synchronous ones -> []."""
    found: dict[str, list[str]] = {}
    for fn, name, props in events(resources, "DynamoDB", "SQS", "ScheduleV2", "Schedule", "HttpApi"):
        kind = resources[fn]["Properties"]["Events"][name]["Type"]
        label = f"{fn}.{name}"
        if kind == "HttpApi":
            found[label] = []  # synchronous: the caller gets the error (ShopBase retries webhooks)
        elif kind == "DynamoDB":
            found[label] = [getatt(props["DestinationConfig"]["OnFailure"]["Destination"], "Arn")]
        elif kind == "SQS":
            source = getatt(props["Queue"], "Arn")
            redrive = resources[source]["Properties"]["RedrivePolicy"]
            found[label] = [getatt(redrive["deadLetterTargetArn"], "Arn")]
        else:
            invoke = resources[fn]["Properties"]["EventInvokeConfig"]
            assert invoke["MaximumRetryAttempts"] <= 2
            found[label] = [getatt(props["DeadLetterConfig"]["Arn"], "Arn"),  # failed deliveries
                            getatt(invoke["DestinationConfig"]["OnFailure"]["Destination"], "Arn")]  # errors
    return found


def test_every_asynchronous_entry_point_has_a_failure_destination(resources: dict[str, Any]) -> None:
    all_events = {f"{fn}.{name}" for fn, res in of_type(resources, "AWS::Serverless::Function").items()
                  for name in res["Properties"].get("Events") or {}}
    destinations = failure_destinations(resources)
    assert set(destinations) == all_events, "an event source of a kind this test does not know"
    for label, queues in destinations.items():
        if not label.startswith(("WebhookOrderFunction", "SellerApiFunction", "ConnectAliExpressFunction")):
            assert queues, label
        for queue in queues:
            assert resources[queue]["Type"] == "AWS::SQS::Queue", label
            assert resources[queue]["Properties"]["MessageRetentionPeriod"] == 14 * 86400, queue
    assert destinations["SyncStatusFunction.TwiceDaily"][1] == "SyncStatusFailureQueue"


def test_every_failure_queue_has_an_alarm_with_actions(resources: dict[str, Any]) -> None:
    alarms = queue_alarms(resources)
    for queues in failure_destinations(resources).values():
        for queue in queues:
            assert queue in alarms, f"{queue} has no alarm"
            assert alarms[queue]["Threshold"] == 0 and alarms[queue]["ComparisonOperator"] == "GreaterThanThreshold"


def test_roles_may_send_to_their_failure_queues(resources: dict[str, Any]) -> None:
    def may_send(role: str, queue: str) -> bool:
        for policy in resources[role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if "sqs:SendMessage" in actions and statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}:
                    return True
        return False

    assert may_send("SyncStatusRole", "SyncStatusFailureQueue")
    assert may_send("PushTrackingRole", "PushTrackingFailureQueue")
    assert may_send("NotifyCustomerRole", "NotifyCustomerFailureQueue")


# ---------------------------------------------------------------- alarms reach someone
def test_every_alarm_notifies_the_topic_on_alarm_and_ok(resources: dict[str, Any]) -> None:
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 30
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [TOPIC] and props["OKActions"] == [TOPIC], name
        assert "docs/deploy.md" in props["AlarmDescription"], f"{name}: say where its runbook is"
    [subscription] = of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


def test_the_runbook_covers_every_alarm(resources: dict[str, Any]) -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for name, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
        section = re.search(r"docs/deploy\.md \(([^)]+)\)", alarm["Properties"]["AlarmDescription"])
        assert section, name
        assert f"### {section.group(1)}" in guide, f"{name}: no runbook section '### {section.group(1)}'"


def test_each_function_has_error_and_throttle_alarms(resources: dict[str, Any]) -> None:
    watched = alarmed_metrics(resources)
    for function in of_type(resources, "AWS::Serverless::Function"):
        ref = json.dumps({"Ref": function}, sort_keys=True)
        assert ("AWS/Lambda", "Errors", ref) in watched, function
        assert ("AWS/Lambda", "Throttles", ref) in watched, function
    for function in ("PushTrackingFunction", "NotifyCustomerFunction"):
        assert ("AWS/Lambda", "IteratorAge", json.dumps({"Ref": function})) in watched, function


def test_api_sync_tracking_aliexpress_and_ses_are_watched(resources: dict[str, Any]) -> None:
    watched = alarmed_metrics(resources)
    assert ("AWS/ApiGateway", "5xx", json.dumps({"Ref": "HttpApi"})) in watched
    assert {("AWS/SES", "Reputation.BounceRate", ""), ("AWS/SES", "Reputation.ComplaintRate", "")} <= watched
    assert ("DropshipConnector", "StalledTracking", '"sync_worker"') in watched
    not_ended = resources["SyncRunNotEndedAlarm"]["Properties"]
    stats = {m["Id"]: m["MetricStat"] for m in not_ended["Metrics"] if "MetricStat" in m}
    assert (stats["started"]["Metric"]["MetricName"], stats["ended"]["Metric"]["MetricName"]) == (
        "SyncRunStarted", "SyncRunEnded")
    assert {s["Period"] for s in stats.values()} == {3600}  # two hourly datapoints in flight = over an hour
    assert (not_ended["EvaluationPeriods"], not_ended["DatapointsToAlarm"]) == (2, 2)
    # Every function that may disconnect a shop (it writes AliExpress tokens) is in the disconnection alarm.
    disconnecting = {res["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
                     for fn, res in of_type(resources, "AWS::Serverless::Function").items()
                     if "secretsmanager:PutSecretValue" in json.dumps(resources.get(fn.replace("Function", "Role")))}
    alarmed = {json.loads(v) for ns, metric, v in watched if metric == "AliExpressDisconnected"}
    assert disconnecting and disconnecting <= alarmed


def test_the_custom_metrics_alarmed_on_are_emitted_by_the_code(resources: dict[str, Any]) -> None:
    code = "".join(p.read_text(encoding="utf-8") for folder in ("functions", "shared")
                   for p in (ROOT / folder).rglob("*.py"))
    for namespace, metric, _ in alarmed_metrics(resources):
        if namespace == "DropshipConnector":
            assert f'name="{metric}"' in code or f'"{metric}"' in code, metric


# ---------------------------------------------------------------- retention, logs, concurrency, suppressions
def test_what_holds_data_or_secrets_is_retained(resources: dict[str, Any]) -> None:
    for name in ("OrdersTable", "AppSecret"):
        assert resources[name]["DeletionPolicy"] == "Retain" and resources[name]["UpdateReplacePolicy"] == "Retain"
    assert resources["OrdersTable"]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_the_http_api_writes_access_logs(resources: dict[str, Any]) -> None:
    settings = resources["HttpApi"]["Properties"]["AccessLogSettings"]
    group = getatt(settings["DestinationArn"], "Arn")
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    fields = json.loads(settings["Format"])
    assert {"requestId", "routeKey", "status"} <= set(fields)
    assert not any("body" in value.lower() or "querystring" in value.lower() for value in fields.values())


def test_concurrency_is_capped_where_it_protects_a_dependency(resources: dict[str, Any]) -> None:
    assert resources["WebhookOrderFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "WebhookConcurrency"}
    for function in ("PlaceOrdersFunction", "SyncWorkerFunction"):  # the AliExpress budget's spenders
        assert resources[function]["Properties"]["Events"]["Queue"]["Properties"]["ScalingConfig"][
            "MaximumConcurrency"]


def test_every_checkov_suppression_has_a_one_line_reason(resources: dict[str, Any]) -> None:
    count = 0
    for name, res in resources.items():
        for skip in (res.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
            assert 20 <= len(skip["comment"]) <= 160 and "\n" not in skip["comment"], (name, skip["id"])
            count += 1
    assert count > 0


def test_no_function_lacks_its_build_target(template: dict[str, Any]) -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    for spec in function_specs(template):
        assert f"build-{spec.logical_id}:" in make, spec.logical_id


def test_traces_hold_no_answers_and_no_error_texts(template: dict[str, Any]) -> None:
    """Issue 10: a handler's answer holds customer names and addresses, and a validation error quotes the input;
    Powertools' tracer puts both into X-Ray metadata unless told not to (read when the handler module loads)."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    for spec in function_specs(template):  # Globals merged with the function's own: none turns it back on
        assert spec.environment["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", spec.logical_id
        assert spec.environment["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false", spec.logical_id


def test_every_queue_outlasts_the_function_that_reads_it(template: dict[str, Any]) -> None:
    """Lambda refuses an SQS mapping whose queue's visibility timeout is shorter than the function's timeout (a
    message would come back while it is still being handled); the local runtime does not check it, so this does."""
    queues = template["Resources"]
    default_timeout = template["Globals"]["Function"].get("Timeout", 3)
    checked = 0
    for spec in function_specs(template):
        timeout = int(template["Resources"][spec.logical_id]["Properties"].get("Timeout", default_timeout))
        for event in spec.events_of("SQS"):
            queue = event.properties["Queue"]["Fn::GetAtt"][0]
            visibility = int(queues[queue]["Properties"].get("VisibilityTimeout", 30))
            assert visibility >= timeout, f"{spec.logical_id}.{event.name}: {queue} {visibility} s < {timeout} s"
            checked += 1
    assert checked >= 2
