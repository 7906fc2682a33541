"""The HTTP API: requests become API Gateway v2 events for the routes the template's `HttpApi` events declare.

Route selection follows API Gateway: exact paths beat `{param}` paths beat `{proxy+}`; a route for the method
beats `ANY`. Paths under `/_local/` are the runtime's own control endpoints (fire a schedule, stats).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from local.apigw import http_event
from local.functions import FunctionError, LocalFunction

log = logging.getLogger("local.api")

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded", "+json", "+xml")
ControlHandler = Callable[[str, str, dict[str, Any]], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # template form: /shops/{shop}/orders/{proxy+}
    function: LocalFunction
    regex: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        segments = [s for s in self.path.split("/") if s]
        greedy = any(s.endswith("+}") for s in segments)
        literal = sum(1 for s in segments if not s.startswith("{"))
        return (1 if greedy else 0, -literal, -len(segments), 1 if self.method == "ANY" else 0)


def compile_path(path: str) -> re.Pattern[str]:
    pattern = ""
    for segment in [s for s in path.split("/") if s]:
        if match := re.fullmatch(r"\{(\w+)\+\}", segment):
            pattern += f"/(?P<{match.group(1)}>.+)"
        elif match := re.fullmatch(r"\{(\w+)\}", segment):
            pattern += f"/(?P<{match.group(1)}>[^/]+)"
        else:
            pattern += "/" + re.escape(segment)
    return re.compile(f"^{pattern or '/'}/?$")


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, function: LocalFunction) -> None:
        method = "ANY" if method.strip() in ("*", "ANY", "any") else method.strip().upper()
        self.routes.append(Route(method, path, function, compile_path(path)))
        self.routes.sort(key=lambda r: r.specificity)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            if found := route.regex.match(path):
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(marker in lowered for marker in TEXT_TYPES)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], routes: RouteTable, control: ControlHandler | None) -> None:
        self.routes = routes
        self.control = control
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DropshipLocalApi/1.0"
    timeout = 30  # API Gateway's integration timeout
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("api: " + format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              cookies: list[str] | None = None) -> None:
        try:
            self.send_response(status)
            sent = {k.lower() for k in (headers or {})}
            for name, value in (headers or {}).items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            if "content-type" not in sent and body:
                self.send_header("Content-Type", "application/json")
            for cookie in cookies or []:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, default=str).encode(), {"Content-Type": "application/json"})

    def _handle(self) -> None:
        method = self.command
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else None
        if parts.path.startswith("/_local/") and self.server.control is not None:
            try:
                args = json.loads(body) if body else {}
                status, answer = self.server.control(method, parts.path, args if isinstance(args, dict) else {})
            except Exception as error:
                log.exception("control request failed")
                status, answer = 500, {"error": f"{type(error).__name__}: {error}"}
            self._json(status, answer)
            return
        matched = self.server.routes.match(method, parts.path)
        if matched is None:
            self._json(404, {"message": "Not Found"})
            return
        route, params = matched
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        binary = body is not None and not _is_text(headers.get("content-type", ""))
        if body is not None and not binary:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                binary = True
        event = http_event(method, parts.path, body=body, headers=headers, route_key=route.route_key,
                           path_parameters=params or None, query=parts.query, base64_body=binary,
                           source_ip=self.client_address[0])
        try:
            result = route.function.invoke(event)
        except FunctionError:
            # API Gateway's answer when the integration fails.
            self._json(500, {"message": "Internal Server Error"})
            return
        self._respond(result)

    # Every method API Gateway routes: one handler (BaseHTTPRequestHandler calls `do_<method>`).
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _respond(self, result: Any) -> None:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Payload v2: anything without statusCode is a 200 JSON body.
            self._send(200, json.dumps(result).encode(), {"Content-Type": "application/json"})
            return
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[str(name)] = ",".join(str(v) for v in values)
        self._send(int(result["statusCode"]), body, headers, result.get("cookies"))


class ApiServer:
    def __init__(self, routes: RouteTable, host: str = "127.0.0.1", port: int = 0,
                 control: ControlHandler | None = None) -> None:
        self._server = _Server((host, port), routes, control)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ApiServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="local-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever: only call it once that runs
            self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
