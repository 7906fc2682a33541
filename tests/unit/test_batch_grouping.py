"""shared.batch's grouped processing (issue 11): records of different stored items at once, records of one item
one after the other in stream order, the same partial batch response, and the container's wiring shared."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared import wiring
from shared.batch import batch_handler, stream_item_key
from tests.conftest import FakeLambdaContext


def stream_record(order_id: str, sequence: int) -> dict[str, Any]:
    return {"eventID": str(sequence), "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"S": "SHOP#s"}, "sk": {"S": f"ORDER#{order_id}"}},
                         "SequenceNumber": str(sequence), "NewImage": {}, "OldImage": {}}}


def test_different_orders_run_at_once_and_one_orders_records_in_order() -> None:
    barrier = threading.Barrier(3, timeout=30)  # the three orders' first records must all be running at once
    lock = threading.Lock()
    seen: dict[str, list[int]] = defaultdict(list)
    running: dict[str, int] = defaultdict(int)
    most: dict[str, int] = defaultdict(int)

    def handle(record: DynamoDBRecord) -> None:
        assert record.dynamodb is not None
        order = str(record.dynamodb.keys["sk"]).removeprefix("ORDER#")
        with lock:
            running[order] += 1
            most[order] = max(most[order], running[order])
        if len(seen[order]) == 0:
            barrier.wait()
        with lock:
            seen[order].append(int(record.dynamodb.sequence_number or 0))
            running[order] -= 1

    handler = batch_handler(EventType.DynamoDBStreams, handle, group_of=stream_item_key, workers=4)
    records = [stream_record(o, n) for n, o in enumerate(["a", "b", "a", "c", "b", "a"], start=1)]
    answer = handler({"Records": records}, FakeLambdaContext())
    assert answer == {"batchItemFailures": []}
    assert seen == {"a": [1, 3, 6], "b": [2, 5], "c": [4]}
    assert max(most.values()) == 1  # never two records of one order at the same time


def test_a_failed_record_is_reported_alone() -> None:
    def handle(record: DynamoDBRecord) -> None:
        if record.dynamodb is not None and record.dynamodb.sequence_number == "2":
            raise RuntimeError("transient")

    handler = batch_handler(EventType.DynamoDBStreams, handle, group_of=stream_item_key, workers=4)
    records = [stream_record("a", 1), stream_record("b", 2), stream_record("c", 3)]
    answer = handler({"Records": records}, FakeLambdaContext())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}


def test_workers_share_the_containers_wiring() -> None:
    built: list[int] = []

    def handle(record: DynamoDBRecord) -> None:
        built.append(id(wiring.cached_shop_settings()))

    wiring.reset()
    try:
        handler = batch_handler(EventType.DynamoDBStreams, handle, group_of=stream_item_key, workers=4,
                                before_workers=wiring.bind_container)
        handler({"Records": [stream_record(o, n) for n, o in enumerate("abcdef", start=1)]}, FakeLambdaContext())
        handler({"Records": [stream_record(o, n) for n, o in enumerate("ghij", start=7)]}, FakeLambdaContext())
        assert len(built) == 10 and len(set(built)) == 1  # built once for the container, not per worker
        assert set(built) == {id(wiring.cached_shop_settings())}
    finally:
        wiring.reset()


def test_a_record_that_does_not_validate_fails_without_its_data_in_the_error() -> None:
    """Issue 10: pydantic's message quotes the input (a customer's email, an address); a batch that fails whole
    raises with every record's error, which Lambda writes to the logs."""
    import pytest
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from shared.models.order import Customer

    def handle(record: DynamoDBRecord) -> None:
        Customer.model_validate({"email": {"not": "ana.lopez@example.com"}, "first_name": "Ana Lopez"})

    handler = batch_handler(EventType.DynamoDBStreams, handle, group_of=stream_item_key, workers=2)
    with pytest.raises(BatchProcessingError) as raised:
        handler({"Records": [stream_record("a", 1), stream_record("b", 2)]}, FakeLambdaContext())
    text = str(raised.value) + "".join(str(e) for e in raised.value.child_exceptions)
    assert "ana.lopez@example.com" not in text and "email" in text and "UnreadableRecord" in text
    one = batch_handler(EventType.DynamoDBStreams, handle, raise_on_entire_batch_failure=False)
    assert one({"Records": [stream_record("a", 1)]}, FakeLambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "1"}]}
