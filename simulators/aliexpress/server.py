"""HTTP front of the AliExpress simulator: the real gateway protocol plus a JSON control API under `/_sim/`.

Protocol endpoints: `POST /sync` (business APIs, `method=<name>`), `POST /rest/<path>` (system APIs such as
`/auth/token/create`), `GET /oauth/authorize`. Control endpoints: `GET /_sim/<view>` and
`POST /_sim/<action>` with a JSON object of keyword arguments, mirroring the Python methods (see CONTROL_*).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from simulators.aliexpress.faults import Fault
from simulators.aliexpress.protocol import (
    API_FREIGHT_QUERY,
    API_ORDER_CREATE,
    API_ORDER_GET,
    API_PRODUCT_GET,
    API_TOKEN_REFRESH,
    API_TOKEN_SECURITY_REFRESH,
    API_TRACKING_GET,
    SYSTEM_APIS,
    BusinessFailure,
    ControlError,
    SimError,
    error_for_code,
)
from simulators.aliexpress.render import Shape, response_key
from simulators.aliexpress.signing import check_signature, check_timestamp
from simulators.aliexpress.state import SimState
from simulators.aliexpress.tokens import SimAccount

# GET /_sim/<view>
CONTROL_VIEWS = ("stats", "orders", "config", "clock", "products", "tokens")
# POST /_sim/<action>, JSON body = keyword arguments of the method of the same name
CONTROL_ACTIONS = (
    "reset",
    "configure",
    "set_rate_limit",
    "set_latency",
    "advance",
    "reset_stats",
    "inject_fault",
    "clear_faults",
    "seed_product",
    "seed_products",
    "set_oauth_account",
    "issue_code",
    "issue_token",
    "revoke_token",
    "expire_token",
    "expire_refresh_token",
    "pay",
    "ship",
    "deliver",
    "cancel",
    "freeze",
    "open_issue",
    "resume",
    "set_status",
    "change_price",
    "set_stock",
    "remove_sku",
    "remove_product",
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: AliExpressSimulator) -> None:
        self.sim = sim
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients exercise connection pooling
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: request lines may carry access tokens in their query strings.
        return

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    # ------------------------------------------------------------------ routing

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/oauth/authorize":
            self._authorize(dict(parse_qsl(url.query, keep_blank_values=True)))
        elif url.path.startswith("/_sim/"):
            self._control("GET", url.path, {})
        elif url.path == "/sync" or url.path.startswith("/rest/"):
            self._api(url.path, dict(parse_qsl(url.query, keep_blank_values=True)))
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/_sim/"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send_json(400, {"error": "body must be JSON"})
                return
            if not isinstance(body, dict):
                self._send_json(400, {"error": "body must be a JSON object"})
                return
            self._control("POST", url.path, body)
        elif url.path == "/sync" or url.path.startswith("/rest/"):
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            self._api(url.path, params)
        else:
            self._send(404, b"not found", "text/plain")

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == "/_sim/faults":
            self._control("POST", "/_sim/clear_faults", {})
        else:
            self._send(404, b"not found", "text/plain")

    # ------------------------------------------------------------------ responses

    def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The client gave up (timeout) and closed the connection: nothing left to tell it.
            self.close_connection = True

    def _send_json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "application/json;charset=UTF-8")

    # ------------------------------------------------------------------ OAuth page

    def _authorize(self, query: dict[str, str]) -> None:
        sim = self.server.sim
        if query.get("client_id") != sim.app_key:
            self._send(400, b"invalid client_id", "text/plain")
            return
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri:
            self._send(400, b"missing redirect_uri", "text/plain")
            return
        code = sim.issue_code()
        sep = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{sep}{urlencode({'code': code, 'state': query.get('state', '')})}"
        self._send(302, b"", "text/plain", {"Location": location})

    # ------------------------------------------------------------------ control API

    def _control(self, verb: str, path: str, body: dict[str, Any]) -> None:
        sim = self.server.sim
        parts = [p for p in path.split("/") if p][1:]
        try:
            if verb == "GET" and len(parts) == 2 and parts[0] == "orders":
                result: Any = sim.order(parts[1])
            elif verb == "GET" and len(parts) == 1 and parts[0] in CONTROL_VIEWS:
                view = "get_config" if parts[0] == "config" else parts[0]
                result = getattr(sim, view)()
            elif verb == "POST" and len(parts) == 1 and parts[0] in CONTROL_ACTIONS:
                result = getattr(sim, parts[0])(**body)
            else:
                self._send_json(404, {"error": f"no control endpoint {verb} {path}"})
                return
        except (ControlError, TypeError, ValueError) as exc:
            self._send_json(400, {"error": str(exc)})
            return
        self._send_json(200, {"ok": True} if result is None else result)

    # ------------------------------------------------------------------ the gateway

    def _api(self, path: str, params: dict[str, str]) -> None:
        sim = self.server.sim
        api = params.get("method", "") if path == "/sync" else path[len("/rest") :]
        system = "/" in api
        request_id = sim.next_request_id()
        accepted = sim.begin_call(api or "<none>")
        try:
            status, body, content_type, error_code = self._dispatch(api, system, params, accepted, request_id)
            # Counted before the answer leaves: whoever reads the stats after receiving it sees this error.
            sim.count_error(error_code)
            self._send(status, body, content_type)
        finally:
            sim.end_call()

    def _dispatch(
        self, api: str, system: bool, params: dict[str, str], accepted: bool, request_id: str
    ) -> tuple[int, bytes, str, str | None]:
        sim = self.server.sim
        if not accepted:
            return self._error(error_for_code("ApiCallLimit"), system, request_id)
        fault = sim.take_fault(api)
        if fault is not None and fault.stall:
            time.sleep(fault.stall)
        if fault is not None and fault.when == "before" and fault.fails:
            return self._fault(fault, system, request_id)
        latency = sim.config.latency
        if latency > 0:
            time.sleep(latency)  # outside the state lock: other requests proceed meanwhile
        try:
            body, code = self._process(api, system, params, request_id)
            outcome = (200, json.dumps(body).encode(), "application/json;charset=UTF-8", code)
        except SimError as err:
            outcome = self._error(err, system, request_id)
        if fault is not None and fault.when == "after" and fault.fails:
            return self._fault(fault, system, request_id)
        return outcome

    def _fault(self, fault: Fault, system: bool, request_id: str) -> tuple[int, bytes, str, str | None]:
        if fault.error_code:
            err = error_for_code(fault.error_code, fault.message)
            err.http_status = fault.http_status or 200
            return self._error(err, system, request_id, fault.envelope)
        status = fault.http_status or 502
        page = f"<html><body><h1>{status}</h1>injected gateway failure</body></html>".encode()
        return status, page, "text/html", f"HTTP_{status}"

    def _error(
        self, err: SimError, system: bool, request_id: str, envelope: str | None = None
    ) -> tuple[int, bytes, str, str | None]:
        shape = self.server.sim.pick_envelope(system, envelope)
        body: dict[str, Any]
        if shape == "flat":
            body = {
                "type": err.error_type,
                "code": err.sub_code or err.code,
                "message": err.message,
                "request_id": request_id,
            }
        else:
            inner: dict[str, Any] = {"type": err.error_type, "code": err.code}
            if err.sub_code:
                inner.update(msg="Remote service error", sub_code=err.sub_code, sub_msg=err.message)
            else:
                inner["msg"] = err.message
            inner["request_id"] = request_id
            body = {"error_response": inner}
        payload = json.dumps(body).encode()
        return err.http_status, payload, "application/json;charset=UTF-8", err.sub_code or err.code

    def _process(
        self, api: str, system: bool, params: dict[str, str], request_id: str
    ) -> tuple[dict[str, Any], str | None]:
        sim = self.server.sim
        if params.get("app_key") != sim.app_key:
            raise SimError("InvalidAppKey", "The specified app key is invalid")
        if not api:
            raise SimError("MissingMethod", "The input parameter 'method' is mandatory")
        business = _BUSINESS_APIS.get(api)
        if business is None and not _system_api_known(api, sim.config.refresh_api):
            raise SimError("InvalidApiPath", f"The specified API {api} does not exist")
        check_signature(params, sim.app_secret, api)
        reference = sim.now() if sim.config.timestamp_uses_sim_clock else time.time()
        check_timestamp(params, reference, sim.config.timestamp_tolerance)
        shape: Shape = sim.shape(params.get("simplify", "false").strip().lower() == "true")
        if business is None:
            handler = sim.api_token_create if api.endswith("/create") else sim.api_token_refresh
            return {**handler(params, shape), "request_id": request_id}, None
        account = sim.authenticate(params.get("session") or params.get("access_token"))
        wrapper: dict[str, Any] = {}
        code: str | None = None
        try:
            wrapper["result"] = business(sim, account, params, shape)
            if api == API_PRODUCT_GET:
                wrapper.update(rsp_code=shape.num(200), rsp_msg="Call succeeds")
        except BusinessFailure as failure:
            if failure.result is not None:
                wrapper["result"] = failure.result
                code = str(failure.result.get("error_code") or failure.result.get("code") or "")
            wrapper.update(failure.extra)
            code = code or str(failure.extra.get("rsp_code", "")) or "BUSINESS"
        wrapper["request_id"] = request_id
        return {response_key(api): wrapper}, code


def _system_api_known(api: str, refresh_api: str) -> bool:
    """Whether this gateway has the system API (`refresh_api` config: which token refresh API it knows)."""
    if api not in SYSTEM_APIS:
        return False
    if api == API_TOKEN_REFRESH:
        return refresh_api in ("both", "plain")
    if api == API_TOKEN_SECURITY_REFRESH:
        return refresh_api in ("both", "security")
    return True


_BusinessHandler = Callable[[SimState, SimAccount, Mapping[str, str], Shape], dict[str, Any]]
_BUSINESS_APIS: dict[str, _BusinessHandler] = {
    API_ORDER_CREATE: SimState.api_order_create,
    API_ORDER_GET: SimState.api_order_get,
    API_TRACKING_GET: SimState.api_tracking_get,
    API_PRODUCT_GET: SimState.api_product_get,
    API_FREIGHT_QUERY: SimState.api_freight_query,
}


class AliExpressSimulator(SimState):
    """The simulator: `SimState`'s control methods plus an HTTP server. Use as a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        app_key: str = "sim-app-key",
        app_secret: str = "sim-app-secret",  # noqa: S107 - the simulator's own throwaway test secret
        *,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        **config: Any,
    ) -> None:
        super().__init__(app_key, app_secret, clock=clock, seed=seed, **config)
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Gateway base URL: pass it as the client's `gateway_url`."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> AliExpressSimulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            for conn in list(server.open_connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (for `python -m simulators.aliexpress`)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> AliExpressSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
