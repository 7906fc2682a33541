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
import threading
import time
from datetime import datetime
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import TimestampSerializer
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
                                                          "BatchGetItem")} | {("dynamodbstreams", "GetRecords")})


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
    return None if _holds_none(result) else body


def _execute_result(self: ActionResult, context: ActionContext) -> Any:
    body = plain_json_answer(str(context.service_model.service_name), str(context.operation_model.name),
                             self.result)
    if body is None:
        return _model_driven(self, context)
    return 200, dict(_JSON_HEADERS), body


def answer_dynamodb_in_plain_json() -> None:
    """Give moto's results of PLAIN_JSON_CALLS the plain JSON path (every other result keeps moto's own);
    idempotent, process-wide (moto's backends are per process too)."""
    ActionResult.execute_result = _execute_result  # type: ignore[method-assign]


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
