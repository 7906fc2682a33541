"""local/moto_serial.py's SQS: receives from many pollers at once, long polls included, never break each other
and every message is delivered; a long poll still waits for a message sent after it began."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.moto_serial import SerialMotoServer


@pytest.fixture
def sqs() -> Iterator[Any]:
    server = SerialMotoServer().start()
    try:
        yield boto3.client("sqs", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="local",
                           aws_secret_access_key="local", config=Config(retries={"max_attempts": 1}))
    finally:
        server.stop()


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
