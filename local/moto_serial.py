"""moto's HTTP server with one request at a time: DynamoDB's per-request atomicity, faithfully.

moto's own server is threaded and its DynamoDB backend takes no lock, so two concurrent conditional updates
of one item can both pass their condition (real DynamoDB never lets them). The rate budget and the run
counters rely on that atomicity, so the benchmark and the concurrency tests serialise requests here.
Connections are still accepted concurrently (keep-alive clients do not block each other).
The local runtime, the benchmark and the concurrency tests all use it.

    python -m local.moto_serial --port 5123
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class _Serial:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        # Only DynamoDB needs it; an SQS long poll must not hold every other request for 20 s.
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            # Materialise the body inside the lock: moto builds responses lazily in places.
            return list(self.app(environ, start_response))


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
