"""moto's HTTP server with one request at a time: DynamoDB's per-request atomicity, faithfully.

moto's own server is threaded and its DynamoDB and SQS backends take no lock, so two concurrent conditional
updates of one item can both pass their condition (real DynamoDB never lets them), and two receives of one
queue can break each other. The rate budget and the run
counters rely on that atomicity, so the benchmark and the concurrency tests serialise requests here.
Connections are still accepted concurrently (keep-alive clients do not block each other).
The local runtime, the benchmark and the concurrency tests all use it.

    python -m local.moto_serial --port 5123
"""

from __future__ import annotations

import argparse
import io
import json
import re
import threading
import time
from datetime import datetime
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import TimestampSerializer
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.utilities import bytesize
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class _Serial:
    """DynamoDB (tables and streams) one request at a time; SQS one request at a time too, its long polls
    included: moto's SQS backend takes no lock either, and two concurrent receives of one queue race (seen: a
    RuntimeError out of `deepcopy(message)` answering 500 to a receive whose message it had already marked
    received, so the message stayed invisible for its visibility timeout). A long poll is asked as short polls
    under the lock, with the lock released between them, so it never holds the other requests up.

    Between its short polls a long poll sleeps until a request that can make a message visible (a send, a
    visibility change) has been answered, or for RECHECK seconds, whichever comes first: a sent message is
    received at once, as from SQS, and an empty queue costs a short poll per RECHECK seconds per poller
    instead of one every few milliseconds (polling empty queues was a quarter of the local runtime's CPU).
    RECHECK bounds how late a message whose visibility timeout or delay ran out is seen. `end_long_polls`
    answers every waiting long poll at once (the stack is stopping: its pollers should not wait out theirs)."""

    RECHECK = 2.0  # seconds a long poll waits for a send before asking the queue again anyway
    WAKES_RECEIVERS = frozenset({"AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch",
                                 "AmazonSQS.ChangeMessageVisibility", "AmazonSQS.ChangeMessageVisibilityBatch"})

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()  # DynamoDB and its streams
        self.sqs_lock = threading.Lock()
        self.sqs_changed = threading.Condition()
        self.sqs_changes = 0  # counts requests that may have made a message visible; guarded by sqs_changed
        self.ending = False  # guarded by sqs_changed

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith("DynamoDB"):  # DynamoDB_20120810.* and DynamoDBStreams_20120810.*
            with self.lock:
                # Materialise the body inside the lock: moto builds responses lazily in places.
                return list(self.app(environ, start_response))
        if target == "AmazonSQS.ReceiveMessage":
            return self._receive(environ, start_response)
        if target.startswith("AmazonSQS."):
            with self.sqs_lock:
                answer = list(self.app(environ, start_response))
            if target in self.WAKES_RECEIVERS:
                with self.sqs_changed:
                    self.sqs_changes += 1
                    self.sqs_changed.notify_all()
            return answer
        return self.app(environ, start_response)

    def _receive(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = json.loads(body or b"{}")
        deadline = time.monotonic() + float(request.get("WaitTimeSeconds") or 0)
        request["WaitTimeSeconds"] = 0
        raw = json.dumps(request).encode()
        answer: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            return lambda _chunk: None

        while True:
            with self.sqs_changed:
                seen = self.sqs_changes  # read before the poll: a send answered after it wakes the wait below
            short = dict(environ, **{"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
            with self.sqs_lock:
                chunks = b"".join(self.app(short, keep))
            got = not str(answer.get("status", "")).startswith("200") or b'"Messages"' in chunks
            left = deadline - time.monotonic()
            if got or left <= 0 or self.ending:
                start_response(answer["status"], answer["headers"])
                return [chunks]
            self._wait_for_change(seen, min(left, self.RECHECK))

    def _wait_for_change(self, seen: int, timeout: float) -> None:
        with self.sqs_changed:
            self.sqs_changed.wait_for(lambda: self.sqs_changes != seen or self.ending, timeout=timeout)

    def end_long_polls(self) -> None:
        with self.sqs_changed:
            self.ending = True
            self.sqs_changed.notify_all()


_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}
_model_driven = ActionResult.execute_result  # moto's own: the botocore model walked member by member

# The calls whose results moto writes with exactly the model's keys (DeleteItem, for one, adds a key the
# serializer drops); tests/local/test_moto_serial.py checks each of them against the serializer.
PLAIN_JSON_CALLS = frozenset({("dynamodb", op) for op in ("GetItem", "PutItem", "UpdateItem", "Query", "Scan",
                                                          "BatchGetItem", "CreateTable", "DescribeTable")}
                              | {("dynamodbstreams", "GetRecords")})


def _holds_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_holds_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_none(v) for v in value)
    return False


def _epoch(value: object) -> float:
    """A datetime as the JSON protocol writes it (epoch seconds, milliseconds kept), as moto's serializer does."""
    if not isinstance(value, datetime):
        raise TypeError(type(value).__name__)
    return TimestampSerializer._timestamp_unixtimestamp(value)


def plain_json_answer(service: str, operation: str, result: object) -> str | None:
    """The body moto's serializer would write for a DynamoDB (or Streams) data call whose result is plain
    JSON already (items as {"S": …}/{"N": "…"}, keys, counts, datetimes), or None where the serializer does
    more: bytes (base64), None members (left out), keys outside the model. Walking the botocore model member
    by member for every answer was a quarter of the local runtime's CPU, stream records most of it."""
    if (service, operation) not in PLAIN_JSON_CALLS or not isinstance(result, dict):
        return None
    try:
        body = json.dumps(result, default=_epoch)
    except (TypeError, ValueError):
        return None
    # A null member is written `null` outside quotes; the walk runs only when the text holds the word at all.
    return None if "null" in body and _holds_none(result) else body


def _execute_result(self: ActionResult, context: ActionContext) -> Any:
    body = plain_json_answer(str(context.service_model.service_name), str(context.operation_model.name),
                             self.result)
    if body is None:
        return _model_driven(self, context)
    return 200, dict(_JSON_HEADERS), body


_item_one_by_one = dynamo_type.Item.__init__  # moto's own
ITEM_SIZE_LIMIT = 405000  # moto's own figure (LimitedSizeDict.__setitem__): between the real 409 and 410 KB


def _item_in_one_pass(self: dynamo_type.Item, hash_key: dynamo_type.DynamoType,
                      range_key: dynamo_type.DynamoType | None, attrs: dict[str, Any]) -> None:
    """moto's `Item.__init__` with the 400 KB check made once: moto's sets the attributes one by one and
    sizes the whole item again at each, so an item of n attributes is sized n times (a test writing a product
    of hundreds of variants spent two thirds of its 24 s there). The
    sizes are non-negative, so "some prefix of the attributes exceeds the limit" is "all of them exceed it"."""
    self.hash_key = hash_key
    self.range_key = range_key
    values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = dynamo_type.LimitedSizeDict(values)  # its constructor does not check: done above



_project_by_path = dynamo_type.Item.project  # moto's own
_LIST_INDEX = re.compile(r"(.+)\[(\d+)\]$")  # moto's own pattern for `name[3]`


def _project_top_level_names(self: dynamo_type.Item, projection_expressions: list[list[str]]) -> dynamo_type.Item:
    """moto's `Item.project` where every path is one top-level name (an index's keys and included attributes,
    a plain ProjectionExpression): the same item, but only the named attributes converted. moto's converts the
    whole item once per name: a KEYS_ONLY index of 4 keys, 4 whole-item conversions for each item a Query
    answers. Nested paths and list indices keep moto's own."""
    if not all(len(path) == 1 and not _LIST_INDEX.match(path[0]) for path in projection_expressions):
        return _project_by_path(self, projection_expressions)
    result: dict[str, Any] = {}
    for (name,) in projection_expressions:
        if name in self.attrs and name not in result:
            result[name] = dynamo_type.deserializer.deserialize(self.attrs[name].to_regular_json())
    return dynamo_type.Item(hash_key=self.hash_key, range_key=self.range_key,
                            attrs=dynamo_type.serializer.serialize(result)["M"])


def answer_dynamodb_in_plain_json() -> None:
    """Give moto's results of PLAIN_JSON_CALLS the plain JSON path (every other result keeps moto's own), build
    items with one size check and project them converting only the named attributes; idempotent, process-wide
    (moto's backends are per process too)."""
    ActionResult.execute_result = _execute_result  # type: ignore[method-assign]
    dynamo_type.Item.__init__ = _item_in_one_pass  # type: ignore[method-assign]
    dynamo_type.Item.project = _project_top_level_names  # type: ignore[method-assign]


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host: moto's own answer lists its package folder
    on disk and matches every backend's URL patterns on each request (a tenth of the runtime's CPU)."""

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:  # called under the dispatcher's own lock
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class SerialMotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        answer_dynamodb_in_plain_json()
        self._serial = _Serial(_Dispatcher())
        self._server: BaseWSGIServer = make_server(
            host, port, self._serial, threaded=True, request_handler=MotoRequestHandler)
        self.port = int(self._server.server_port)
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SerialMotoServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    def end_long_polls(self) -> None:
        """Answer the SQS long polls now waiting, and any asked from now on, at once (empty)."""
        self._serial.end_long_polls()

    def stop(self) -> None:
        self._serial.end_long_polls()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5123)
    args = parser.parse_args()
    server = SerialMotoServer(args.host, args.port)
    server._server.serve_forever()


if __name__ == "__main__":
    main()
