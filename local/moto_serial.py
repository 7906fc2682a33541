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
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class _Serial:
    """DynamoDB (tables and streams) one request at a time; SQS one request at a time too, its long polls
    included: moto's SQS backend takes no lock either, and two concurrent receives of one queue race (seen: a
    RuntimeError out of `deepcopy(message)` answering 500 to a receive whose message it had already marked
    received, so the message stayed invisible for its visibility timeout). A long poll is asked as short polls
    under the lock, with the lock released between them, so it never holds the other requests up."""

    LONG_POLL_STEP = 0.05  # seconds between the short polls of one long poll

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()  # DynamoDB and its streams
        self.sqs_lock = threading.Lock()

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
                return list(self.app(environ, start_response))
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
            short = dict(environ, **{"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
            with self.sqs_lock:
                chunks = b"".join(self.app(short, keep))
            got = not str(answer.get("status", "")).startswith("200") or b'"Messages"' in chunks
            if got or time.monotonic() >= deadline:
                start_response(answer["status"], answer["headers"])
                return [chunks]
            time.sleep(self.LONG_POLL_STEP)


class SerialMotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, _Serial(DomainDispatcherApplication(create_backend_app)), threaded=True,
            request_handler=MotoRequestHandler)
        self.port = int(self._server.server_port)
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SerialMotoServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
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
