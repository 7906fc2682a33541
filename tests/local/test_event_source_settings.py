"""The runtime applies the template's event source settings: change one in a copy, the behaviour changes.

Each test starts the runtime from a copy of infra/template.yaml with a probe consumer on the orders stream
(the real table definition, the real stream) and writes items through moto's HTTP endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.stack import Stack
from local.streams import StreamMapping
from tests.local import probe
from tests.local.conftest import probe_event, template_with_probe, wait_for

FUNCTION = "dropship-local-ProbeFunction"


def put(stack: Stack, sk: str, *, kind: str = "probe", mode: str = "") -> None:
    table = stack.status()["tables"]["OrdersTable"]
    item = {"pk": {"S": "PROBE"}, "sk": {"S": sk}, "kind": {"S": kind}}
    if mode:
        item["probe"] = {"S": mode}
    stack.client("dynamodb").put_item(TableName=table, Item=item)


def probe_mapping(stack: Stack) -> StreamMapping:
    return next(m for m in stack.wiring.streams if m.name == "ProbeFunction.Orders")


def write_while_paused(stack: Stack, items: list[dict[str, Any]]) -> None:
    """All records are in the stream before the mapping reads, so batching is deterministic."""
    mapping = probe_mapping(stack)
    mapping.pause()
    for item in items:
        put(stack, **item)
    mapping.resume()


def batches() -> list[list[str]]:
    return probe.CALLS[FUNCTION]


def delivered() -> list[str]:
    return [label for batch in batches() for label in batch]


def on_failure_messages(stack: Stack) -> list[dict[str, Any]]:
    url = stack.status()["queues_by_resource"]["ProbeFailures"]
    response = stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def collect(seen: list[dict[str, Any]], stack: Stack) -> int:
    seen.extend(on_failure_messages(stack))
    return len(seen)


@pytest.mark.parametrize(("batch_size", "expected"), [(2, [2, 2, 1]), (10, [5])])
def test_batch_size(tmp_path: Path, start_stack: Callable[..., Stack], batch_size: int,
                    expected: list[int]) -> None:
    stack = start_stack(template_with_probe(tmp_path, probe_event(BatchSize=batch_size)))
    write_while_paused(stack, [{"sk": f"ORDER#{i}"} for i in range(5)])
    wait_for(lambda: len(delivered()) == 5)
    assert [len(b) for b in batches()] == expected
    assert delivered() == [f"INSERT:ORDER#{i}" for i in range(5)]  # shard order kept


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"dynamodb": {"NewImage": {"kind": {"S": ["probe"]}}}}, ["INSERT:A", "INSERT:C"]),
    ({"dynamodb": {"NewImage": {"kind": {"S": ["other"]}}}}, ["INSERT:B"]),
    ({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": [{"prefix": "oth"}]}}}}, ["INSERT:B"]),
])
def test_filter_criteria(tmp_path: Path, start_stack: Callable[..., Stack], pattern: dict[str, Any],
                         expected: list[str]) -> None:
    event = probe_event(FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    stack = start_stack(template_with_probe(tmp_path, event))
    write_while_paused(stack, [{"sk": "A"}, {"sk": "B", "kind": "other"}, {"sk": "C"}, {"sk": "END", "kind": "end"}])
    mapping = probe_mapping(stack)
    wait_for(lambda: mapping.stats.records_read == 4 and mapping.is_idle())
    assert delivered() == expected
    assert mapping.stats.records_filtered_out == 4 - len(expected)


@pytest.mark.parametrize("retries", [0, 2])
def test_maximum_retry_attempts_then_on_failure_then_the_shard_moves_on(
        tmp_path: Path, start_stack: Callable[..., Stack], retries: int) -> None:
    stack = start_stack(template_with_probe(tmp_path, probe_event(MaximumRetryAttempts=retries, BatchSize=1)))
    write_while_paused(stack, [{"sk": "POISON", "mode": "raise"}, {"sk": "NEXT"}])
    wait_for(lambda: "INSERT:NEXT" in delivered())
    assert delivered().count("INSERT:POISON") == 1 + retries
    messages = on_failure_messages(stack)
    assert len(messages) == 1
    info = messages[0]["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"].endswith("/stream/" + info["streamArn"].split("/")[-1])
    assert messages[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert messages[0]["requestContext"]["approximateInvokeCount"] == 1 + retries
    assert "Records" not in messages[0]  # metadata only, never the records


def test_report_batch_item_failures_resumes_from_the_lowest_failed_record(
        tmp_path: Path, start_stack: Callable[..., Stack]) -> None:
    stack = start_stack(template_with_probe(tmp_path, probe_event(MaximumRetryAttempts=1)))
    write_while_paused(stack, [{"sk": "A"}, {"sk": "B", "mode": "report"}, {"sk": "C"}])
    seen: list[dict[str, Any]] = []
    wait_for(lambda: collect(seen, stack) == 1)
    # A succeeded; B failed, so B and everything after it is delivered again, then given up.
    assert batches() == [["INSERT:A", "INSERT:B", "INSERT:C"], ["INSERT:B", "INSERT:C"]]
    assert seen[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_without_report_batch_item_failures_the_answer_is_ignored(
        tmp_path: Path, start_stack: Callable[..., Stack]) -> None:
    stack = start_stack(template_with_probe(tmp_path, probe_event(FunctionResponseTypes=[])))
    write_while_paused(stack, [{"sk": "A"}, {"sk": "B", "mode": "report"}, {"sk": "C"}])
    mapping = probe_mapping(stack)
    wait_for(lambda: mapping.stats.records_read == 3 and mapping.is_idle())
    assert batches() == [["INSERT:A", "INSERT:B", "INSERT:C"]]


@pytest.mark.parametrize(("bisect", "expected"), [
    (True, [["A", "B", "X", "D"], ["A", "B"], ["X", "D"], ["X"], ["D"]]),
    (False, [["A", "B", "X", "D"], ["A", "B", "X", "D"], ["A", "B", "X", "D"]]),
])
def test_bisect_batch_on_function_error(tmp_path: Path, start_stack: Callable[..., Stack], bisect: bool,
                                        expected: list[list[str]]) -> None:
    event = probe_event(BisectBatchOnFunctionError=bisect, MaximumRetryAttempts=2, FunctionResponseTypes=[])
    stack = start_stack(template_with_probe(tmp_path, event))
    write_while_paused(stack, [{"sk": "A"}, {"sk": "B"}, {"sk": "X", "mode": "raise"}, {"sk": "D"}])
    mapping = probe_mapping(stack)
    wait_for(lambda: mapping.stats.records_sent_to_on_failure > 0 and mapping.is_idle())
    assert [[label.split(":")[1] for label in batch] for batch in batches()] == expected


def test_maximum_record_age(tmp_path: Path, start_stack: Callable[..., Stack]) -> None:
    # A record older than MaximumRecordAgeInSeconds is not retried: it goes to OnFailure as RecordAgeExceeded.
    # moto's ApproximateCreationDateTime has whole seconds: a record may look up to 1 s old when first read.
    event = probe_event(MaximumRecordAgeInSeconds=2, MaximumRetryAttempts=-1, BatchSize=1)
    stack = start_stack(template_with_probe(tmp_path, event), retry_delay=0.1)
    put(stack, "POISON", mode="raise")
    seen: list[dict[str, Any]] = []
    wait_for(lambda: collect(seen, stack) == 1, timeout=15)
    assert seen[0]["requestContext"]["condition"] == "RecordAgeExceeded"
    assert delivered().count("INSERT:POISON") >= 2  # retried (no retry limit) until it was too old
    put(stack, "NEXT")
    wait_for(lambda: "INSERT:NEXT" in delivered())  # the shard moved on


@pytest.mark.parametrize("push_pending_filter", [None, ["999"]])
def test_a_real_consumers_filter_decides_what_reaches_it(tmp_path: Path, start_stack: Callable[..., Stack],
                                                         push_pending_filter: list[str] | None) -> None:
    """PushTrackingFunction's own FilterCriteria from infra/template.yaml, then the same with one value changed."""
    from local.template import load_template

    template = load_template()
    event = template["Resources"]["PushTrackingFunction"]["Properties"]["Events"]["OrdersStream"]["Properties"]
    if push_pending_filter is not None:
        pattern = json.loads(event["FilterCriteria"]["Filters"][0]["Pattern"])
        pattern["dynamodb"]["NewImage"]["push_pending"]["N"] = push_pending_filter
        event["FilterCriteria"]["Filters"][0]["Pattern"] = json.dumps(pattern)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    stack = start_stack(path)
    mapping = next(m for m in stack.wiring.streams if m.name == "PushTrackingFunction.OrdersStream")
    table = stack.status()["tables"]["OrdersTable"]
    # An order item with one package waiting to be pushed (what the filter looks at), then one without.
    stack.client("dynamodb").put_item(TableName=table, Item={
        "pk": {"S": "SHOP#demo-store"}, "sk": {"S": "ORDER#0000000001"}, "entity": {"S": "order"},
        "push_pending": {"N": "1"}})
    stack.client("dynamodb").put_item(TableName=table, Item={
        "pk": {"S": "SHOP#demo-store"}, "sk": {"S": "ORDER#0000000002"}, "entity": {"S": "order"},
        "push_pending": {"N": "0"}})
    wait_for(lambda: mapping.stats.records_read == 2 and mapping.is_idle())
    delivered_records = mapping.stats.records_read - mapping.stats.records_filtered_out
    assert delivered_records == (1 if push_pending_filter is None else 0)
    assert (stack.wiring.functions["PushTrackingFunction"].stats.invocations > 0) == (push_pending_filter is None)
