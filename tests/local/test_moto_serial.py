"""local/moto_serial.py: its SQS receives from many pollers at once, long polls included, never break each other
and every message is delivered; a long poll waits for a message sent after it began and answers as soon as it
is sent; its DynamoDB answers in plain JSON are the very JSON moto's model-driven serializer writes."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.core.responses import ActionContext, ActionResult

import local.moto_serial as moto_serial
from local.moto_serial import SerialMotoServer


@pytest.fixture
def server() -> Iterator[SerialMotoServer]:
    running = SerialMotoServer().start()
    try:
        yield running
    finally:
        running.stop()


def _client(server: SerialMotoServer, service: str) -> Any:
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local", config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def sqs(server: SerialMotoServer) -> Any:
    return _client(server, "sqs")


def test_concurrent_long_polls_deliver_every_message_without_errors(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    seen: Counter[str] = Counter()
    errors: list[BaseException] = []
    done = threading.Event()

    def poll() -> None:
        try:
            while not done.is_set():
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=1).get("Messages", []):
                    seen[message["Body"]] += 1
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        except BaseException as error:  # a 500 from the emulator surfaces here
            errors.append(error)

    pollers = [threading.Thread(target=poll) for _ in range(8)]
    for thread in pollers:
        thread.start()
    for start in range(0, 300, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"}
                                                      for i in range(start, start + 10)])
    deadline = time.monotonic() + 60
    while len(seen) < 300 and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    done.set()
    for thread in pollers:
        thread.join(timeout=10)
    assert errors == []
    assert set(seen) == {f"m{i}" for i in range(300)} and max(seen.values()) == 1


def test_a_long_poll_waits_for_a_message_sent_after_it_began(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="later")["QueueUrl"]
    threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")).start()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [m["Body"] for m in got] == ["late"]


def test_a_waiting_long_poll_answers_as_soon_as_a_message_is_sent(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="soon")["QueueUrl"]
    sent_at: list[float] = []

    def send() -> None:
        sent_at.append(time.monotonic())
        sqs.send_message(QueueUrl=url, MessageBody="now")

    threading.Timer(0.5, send).start()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
    assert [m["Body"] for m in got] == ["now"]
    # Woken by the send, not by the next recheck (RECHECK s later) nor the end of the 20 s poll.
    assert time.monotonic() - sent_at[0] < moto_serial._Serial.RECHECK / 2


def test_a_message_whose_visibility_ran_out_is_received_by_a_waiting_long_poll(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="again", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="retry me")
    first = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    started = time.monotonic()
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
    assert [m["Body"] for m in again] == ["retry me"] and again[0]["ReceiptHandle"] != first[0]["ReceiptHandle"]
    assert time.monotonic() - started < 1 + moto_serial._Serial.RECHECK + 2  # seen at a recheck, not at 20 s


def test_ending_long_polls_answers_the_waiting_ones_at_once(server: SerialMotoServer, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="idle")["QueueUrl"]
    answered: list[float] = []

    def poll() -> None:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        answered.append(time.monotonic())

    pollers = [threading.Thread(target=poll) for _ in range(3)]
    for thread in pollers:
        thread.start()
    time.sleep(0.5)
    ended = time.monotonic()
    server.end_long_polls()
    for thread in pollers:
        thread.join(timeout=10)
    assert len(answered) == 3 and max(answered) - ended < 2


def test_dynamodb_answers_in_plain_json_are_what_the_model_driven_serializer_writes(
        server: SerialMotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    plain, model_only, different = Counter[tuple[str, str]](), Counter[tuple[str, str]](), []

    def both(self: ActionResult, context: ActionContext) -> Any:
        status, headers, body = moto_serial._model_driven(self, context)
        service, operation = str(context.service_model.service_name), str(context.operation_model.name)
        fast = moto_serial.plain_json_answer(service, operation, self.result)
        if fast is None:
            model_only[service, operation] += 1
        else:
            plain[service, operation] += 1
            if json.loads(fast) != json.loads(body) or (status, headers) != (200, moto_serial._JSON_HEADERS):
                different.append((operation, fast, body, status, headers))
        return status, headers, body

    monkeypatch.setattr(ActionResult, "execute_result", both)
    dynamodb = _client(server, "dynamodb")
    dynamodb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                          StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}])
    item = {"pk": {"S": "SHOP#a"}, "sk": {"S": "ORDER#1"}, "n": {"N": "12.50"}, "ok": {"BOOL": True},
            "none": {"NULL": True}, "tags": {"SS": ["a", "b"]}, "nums": {"NS": ["1", "2"]},
            "lines": {"L": [{"M": {"sku": {"S": "x"}, "qty": {"N": "2"}}}]}, "unicode": {"S": "Ünïcødé ✓"}}
    dynamodb.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL")
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "SHOP#a"}, "sk": {"S": "ORDER#2"}, "n": {"N": "3"}})
    dynamodb.create_table(TableName="b", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "g", "AttributeType": "N"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                                   "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
    dynamodb.describe_table(TableName="b")
    dynamodb.put_item(TableName="b", Item={"pk": {"S": "x"}, "blob": {"B": b"\x00\xff"}})
    assert dynamodb.get_item(TableName="t", Key={"pk": item["pk"], "sk": item["sk"]})["Item"] == item
    dynamodb.get_item(TableName="t", Key={"pk": {"S": "nope"}, "sk": {"S": "nope"}})
    updated = dynamodb.update_item(TableName="t", Key={"pk": item["pk"], "sk": item["sk"]},
                                   UpdateExpression="ADD used :one SET note = :note",
                                   ExpressionAttributeValues={":one": {"N": "1"}, ":note": {"S": "n"}},
                                   ReturnValues="ALL_NEW")
    assert updated["Attributes"]["used"] == {"N": "1"}
    assert dynamodb.query(TableName="t", KeyConditionExpression="pk = :p", Limit=1,
                          ExpressionAttributeValues={":p": {"S": "SHOP#a"}})["LastEvaluatedKey"]
    dynamodb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": item["pk"], "sk": item["sk"]}]}})
    dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"S": "c"}}}}]})
    dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "d"},
                                                                                      "sk": {"S": "e"}}}}])
    assert dynamodb.scan(TableName="b")["Items"][0]["blob"] == {"B": b"\x00\xff"}  # bytes: the model's path
    dynamodb.scan(TableName="t", FilterExpression="sk = :s", ExpressionAttributeValues={":s": item["sk"]})
    dynamodb.transact_write_items(TransactItems=[{"Update": {
        "TableName": "t", "Key": {"pk": {"S": "d"}, "sk": {"S": "e"}}, "UpdateExpression": "SET x = :x",
        "ExpressionAttributeValues": {":x": {"N": "1"}}}}])
    dynamodb.delete_item(TableName="t", Key={"pk": {"S": "b"}, "sk": {"S": "c"}}, ReturnValues="ALL_OLD")
    streams = _client(server, "dynamodbstreams")
    arn = dynamodb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)
    assert {r["eventName"] for r in records["Records"]} == {"INSERT", "MODIFY", "REMOVE"}
    assert isinstance(records["Records"][0]["dynamodb"]["ApproximateCreationDateTime"], datetime)
    assert streams.get_records(ShardIterator=records["NextShardIterator"])["Records"] == []
    assert different == []
    assert set(plain) == moto_serial.PLAIN_JSON_CALLS  # every call of the list is checked here
    assert plain["dynamodbstreams", "GetRecords"] == 2  # a page of records (with datetimes) and an empty one
    # What the plain path cannot write as the serializer does still takes the model: bytes, datetimes, None
    # members, and calls outside the list (DeleteItem's result holds a key the serializer drops).
    assert model_only["dynamodb", "Scan"] == model_only["dynamodb", "DeleteItem"] == 1
    assert moto_serial.plain_json_answer("dynamodb", "GetItem", {"Item": {"blob": {"B": b"\x00"}}}) is None
    assert moto_serial.plain_json_answer("dynamodb", "Query", {"Items": [], "LastEvaluatedKey": None}) is None
    assert moto_serial.plain_json_answer("dynamodb", "ListTables", {"TableNames": ["t"]}) is None


@pytest.mark.parametrize("spare", [1, 0, -1])
def test_items_are_sized_once_and_refused_over_the_limit_as_moto_refuses(
        server: SerialMotoServer, monkeypatch: pytest.MonkeyPatch, spare: int) -> None:
    """An item of many attributes, `spare` bytes under the limit (refused at -1), built both ways: the one-pass
    size check answers as moto's attribute-by-attribute one, and sizes each attribute once."""
    from moto.dynamodb.models import dynamo_type

    dynamodb = _client(server, "dynamodb")
    table = f"big{spare + 1}"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    names = [f"a{i:02}" for i in range(40)]
    fill = moto_serial.ITEM_SIZE_LIMIT - len("pk") - len("k0") - sum(len(n) for n in names) - spare
    item = {name: {"S": "x" * (fill // 40 + (1 if i < fill % 40 else 0))} for i, name in enumerate(names)}

    def put(key: str) -> str:
        try:
            dynamodb.put_item(TableName=table, Item={"pk": {"S": key}, **item})
        except dynamodb.exceptions.ClientError as error:
            return str(error.response["Error"]["Message"])
        return "stored"

    sized = Counter[int]()
    real_size = dynamo_type.DynamoType.size

    def counted(self: Any) -> int:
        sized[id(self)] += 1
        return int(real_size(self))

    monkeypatch.setattr(dynamo_type.DynamoType, "size", counted)
    one_pass = put("k0")
    sizings = sum(sized.values())
    monkeypatch.setattr(dynamo_type.Item, "__init__", moto_serial._item_one_by_one)
    sized.clear()
    assert put("k1") == one_pass == ("stored" if spare >= 0 else "Item size has exceeded the maximum allowed size")
    # Each of the 41 attributes once, and the key once more (moto's key-size check); moto's own sizes each
    # attribute again at each set.
    assert sizings == 42 and sum(sized.values()) > 20 * sizings


@pytest.mark.parametrize("paths", [
    [["pk"], ["sk"]],  # an index's keys
    [["a"], ["n"], ["ss"], ["bin"], ["nul"], ["missing"]],  # included attributes, one of them absent
    [["n"], ["n"]],
    [["a", "b"]], [["l[0]"]], [["a"], ["a", "b"]],  # nested and indexed paths: moto's own
])
def test_projection_by_top_level_names_is_moto_projection(paths: list[list[str]]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    item = Item(DynamoType({"S": "p"}), DynamoType({"S": "s"}), {
        "pk": {"S": "p"}, "sk": {"S": "s"}, "n": {"N": "12.50"}, "ss": {"SS": ["b", "a"]}, "bin": {"B": b"\x00"},
        "nul": {"NULL": True}, "l": {"L": [{"S": "q"}]},
        "a": {"M": {"b": {"N": "1"}, "c": {"L": [{"S": "x"}, {"N": "2"}]}}}})
    ours, motos = moto_serial._project_top_level_names(item, paths), moto_serial._project_by_path(item, paths)
    assert ours == motos and ours.to_json() == motos.to_json() and ours.attrs
