"""HTTP front of the ShopBase simulator (stdlib ThreadingHTTPServer).

URL scheme: `{url}/shops/{shop}/admin/...` (so a client's base_url is `{url}/shops/{shop}`); a plain
`/admin/...` request picks the shop from the Host header's first label (`acme.onshopbase.com`,
`acme.localhost`). Control API, unauthenticated, bound to loopback by default: `{url}/_sim/...`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from simulators.shopbase import protocol
from simulators.shopbase.state import ApiError, FaultAction, Shop, SimState

log = logging.getLogger(__name__)

RATE_LIMIT_MESSAGE = "Exceeded 2 calls per second for api client. Reduce request rates to resume."
_SHOP_PREFIX = re.compile(r"^/shops/(?P<shop>[a-z0-9][a-z0-9-]*)(?P<rest>/admin/.*)$")

AdminHandler = Callable[[SimState, Shop, Mapping[str, int], Mapping[str, str], Any], Any]


def _template_regex(template: str) -> re.Pattern[str]:
    # protocol.py templates are the single source of the paths; "{name}" becomes a numeric group.
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>\\d+)", pattern)
    return re.compile(f"^{pattern}$")


_ADMIN: list[tuple[str, str, int, AdminHandler]] = [
    ("GET", protocol.ORDERS_PATH, 200, lambda st, sh, p, q, b: st.api_list_orders(sh, q)),
    ("GET", protocol.ORDER_PATH, 200, lambda st, sh, p, q, b: st.api_get_order(sh, p["order_id"])),
    ("GET", protocol.FULFILLMENTS_PATH, 200, lambda st, sh, p, q, b: st.api_list_fulfillments(sh, p["order_id"])),
    (
        "POST",
        protocol.FULFILLMENTS_PATH,
        201,
        lambda st, sh, p, q, b: st.api_create_fulfillment(sh, p["order_id"], b),
    ),
    (
        "GET",
        protocol.FULFILLMENT_PATH,
        200,
        lambda st, sh, p, q, b: st.api_get_fulfillment(sh, p["order_id"], p["fulfillment_id"]),
    ),
    (
        "PUT",
        protocol.FULFILLMENT_PATH,
        200,
        lambda st, sh, p, q, b: st.api_update_fulfillment(sh, p["order_id"], p["fulfillment_id"], b),
    ),
    ("GET", protocol.WEBHOOKS_PATH, 200, lambda st, sh, p, q, b: st.api_list_webhooks(sh)),
    ("POST", protocol.WEBHOOKS_PATH, 201, lambda st, sh, p, q, b: st.api_create_webhook(sh, b)),
    ("GET", protocol.WEBHOOK_PATH, 200, lambda st, sh, p, q, b: st.api_get_webhook(sh, p["webhook_id"])),
    ("DELETE", protocol.WEBHOOK_PATH, 200, lambda st, sh, p, q, b: st.api_delete_webhook(sh, p["webhook_id"])),
    # Products (issue 12). Create answers 200, as ShopBase does (CONFIRMED), not Shopify's 201.
    ("GET", protocol.PRODUCTS_PATH, 200, lambda st, sh, p, q, b: st.api_list_products(sh, q)),
    ("POST", protocol.PRODUCTS_PATH, 200, lambda st, sh, p, q, b: st.api_create_product(sh, b)),
    ("GET", protocol.PRODUCT_PATH, 200, lambda st, sh, p, q, b: st.api_get_product(sh, p["product_id"])),
    ("PUT", protocol.PRODUCT_PATH, 200, lambda st, sh, p, q, b: st.api_update_product(sh, p["product_id"], b)),
    ("DELETE", protocol.PRODUCT_PATH, 200, lambda st, sh, p, q, b: st.api_delete_product(sh, p["product_id"])),
    ("PUT", protocol.VARIANT_PATH, 200, lambda st, sh, p, q, b: st.api_update_variant(sh, p["variant_id"], b)),
]
_ADMIN_ROUTES = [(m, t, _template_regex(t), status, h) for m, t, status, h in _ADMIN]


def _match_admin(method: str, path: str) -> tuple[str, int, AdminHandler, dict[str, int]] | str | None:
    """(template, status, handler, params); the template alone when only the method is wrong."""
    wrong_method: str | None = None
    for route_method, template, regex, status, handler in _ADMIN_ROUTES:
        found = regex.match(path)
        if found is None:
            continue
        if route_method != method:
            wrong_method = template
            continue
        return template, status, handler, {k: int(v) for k, v in found.groupdict().items()}
    return wrong_method


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: ShopBaseSimulator) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised
    server_version = "ShopBaseSimulator/1.0"
    timeout = 60  # idle keep-alive connections end eventually
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("shopbase-sim: " + format, *args)

    # --- plumbing --------------------------------------------------------------------------------

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Invalid JSON body") from None

    def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout during a stall): nothing to answer to.
            self.close_connection = True

    def _handle(self) -> None:
        method = self.command
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        try:
            body = self._read_json() if method in ("POST", "PUT", "DELETE") else None
        except ApiError as exc:
            self._send(exc.status, {"errors": exc.errors})
            return
        if parts.path.startswith("/_sim/") or parts.path == "/_sim":
            self._handle_control(method, parts.path, query, body)
            return
        shop_name, rest = self._resolve_shop(parts.path)
        if shop_name is None:
            self._send(404, {"errors": "Not Found"})
            return
        self._handle_admin(method, shop_name, rest, query, body)

    # The methods the Admin and control APIs route: one handler (BaseHTTPRequestHandler calls `do_<method>`).
    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def _resolve_shop(self, path: str) -> tuple[str | None, str]:
        prefixed = _SHOP_PREFIX.match(path)
        if prefixed:
            return prefixed.group("shop"), prefixed.group("rest")
        if path.startswith("/admin/"):
            host = (self.headers.get("Host") or "").split(":", 1)[0].lower()
            label = host.split(".", 1)[0]
            if "." in host and label and not label.isdigit():
                return label, path
        return None, path

    # --- Admin API -------------------------------------------------------------------------------

    def _handle_admin(self, method: str, shop_name: str, path: str, query: Mapping[str, str], body: Any) -> None:
        state = self.server.sim
        with state.lock:
            shop = state.shops.get(shop_name)
            if shop is None:
                self._send(404, {"errors": "Not Found"})
                return

            def limit_header(used: int) -> dict[str, str]:
                return {protocol.CALL_LIMIT_HEADER: f"{used}/{shop.bucket.burst}"}

            authorized = state.check_auth(
                shop, self.headers.get(protocol.ACCESS_TOKEN_HEADER), self.headers.get("Authorization")
            )
            if not authorized:
                errors = "[API] Invalid API key or access token (unrecognized login or wrong password)"
                self._send(401, {"errors": errors}, limit_header(shop.bucket.used()))
                return
            matched = _match_admin(method, path)
            route = f"{method} {matched[0] if isinstance(matched, tuple) else matched or path}"
            shop.calls[route] += 1
            allowed, used, retry_after = shop.bucket.take()
            if not allowed:
                shop.rate_limited += 1
                headers = {**limit_header(used), protocol.RETRY_AFTER_HEADER: f"{max(retry_after, 0.01):.2f}"}
                self._send(429, {"errors": RATE_LIMIT_MESSAGE}, headers)
                return
            fault = state.pick_fault(shop_name, method, route)
            if fault is not None:
                shop.faults[fault.kind] += 1
                if fault.kind == "rate_limit":
                    shop.rate_limited += 1
            headers = limit_header(used)
        if fault is not None and not fault.apply:
            self._send_fault(fault, headers)
            return
        if not isinstance(matched, tuple):
            status, answer = (405, {"errors": "Method Not Allowed"}) if matched else (404, {"errors": "Not Found"})
        else:
            _template, ok_status, handler, params = matched
            try:
                status, answer = ok_status, handler(state, shop, params, query, body)
            except ApiError as exc:
                status, answer = exc.status, {"errors": exc.errors}
                headers = {**headers, **exc.headers}
        if fault is not None and fault.kind == "stall":
            # Applied now, answered late: the client times out without knowing the outcome.
            if self.server.stopping.wait(fault.stall_seconds):
                self.close_connection = True
                return
        elif fault is not None:
            self._send_fault(fault, headers)
            return
        self._send(status, answer, headers)

    def _send_fault(self, fault: FaultAction, headers: dict[str, str]) -> None:
        if fault.kind == "rate_limit":
            if fault.retry_after is not None:
                headers = {**headers, protocol.RETRY_AFTER_HEADER: f"{fault.retry_after:.2f}"}
            self._send(429, {"errors": RATE_LIMIT_MESSAGE}, headers)
        elif fault.kind == "stall":
            if not self.server.stopping.wait(fault.stall_seconds):
                self._send(504, {"errors": "Gateway Timeout"}, headers)
            self.close_connection = True
        else:
            self._send(fault.status, {"errors": "Internal Server Error"}, headers)

    # --- control API -----------------------------------------------------------------------------

    def _handle_control(self, method: str, path: str, query: Mapping[str, str], body: Any) -> None:
        sim = self.server.sim
        args: dict[str, Any] = dict(body) if isinstance(body, Mapping) else {}
        for route_method, regex, action in _CONTROL_ROUTES:
            found = regex.match(path)
            if found is None or route_method != method:
                continue
            try:
                result = action(sim, found.groupdict(), args, query)
            except ApiError as exc:
                self._send(exc.status, {"errors": exc.errors})
            except (TypeError, ValueError, KeyError) as exc:
                self._send(400, {"errors": f"bad control request: {type(exc).__name__}: {exc}"})
            else:
                self._send(200, result if result is not None else {})
            return
        self._send(404, {"errors": "Unknown control endpoint"})


def _pairs(value: Any) -> list[tuple[int, int]] | None:
    """[{"id"|"line_item_id": 1, "quantity": 2}] or [[1, 2]] -> [(1, 2)]."""
    if value is None:
        return None
    out = []
    for entry in value:
        if isinstance(entry, Mapping):
            out.append((int(entry.get("id", entry.get("line_item_id"))), int(entry["quantity"])))
        else:
            item_id, quantity = entry
            out.append((int(item_id), int(quantity)))
    return out


ControlAction = Callable[["ShopBaseSimulator", dict[str, str], dict[str, Any], Mapping[str, str]], Any]


def _c_create_order(sim: ShopBaseSimulator, p: dict[str, str], a: dict[str, Any], q: Mapping[str, str]) -> Any:
    if "order" in a:
        return sim.create_order(p["shop"], a["order"], emit=a.get("emit", True))
    return sim.make_order(
        p["shop"],
        int(a.get("n_items", 2)),
        bool(a.get("paid", True)),
        currency=a.get("currency", "USD"),
        emit=a.get("emit", True),
    )


def _c_faults(sim: ShopBaseSimulator, p: dict[str, str], a: dict[str, Any], q: Mapping[str, str]) -> Any:
    if "fail_next" in a:
        sim.fail_next(**a["fail_next"])
        return {"ok": True}
    sim.set_faults(**a)
    return {"ok": True}


_CONTROL: list[tuple[str, str, ControlAction]] = [
    ("GET", r"/_sim/health", lambda s, p, a, q: {"ok": True}),
    ("GET", r"/_sim/shops", lambda s, p, a, q: {"shops": [sh.info() for sh in list(s.shops.values())]}),
    ("POST", r"/_sim/shops", lambda s, p, a, q: s.create_shop(a.pop("name"), **a)),
    ("POST", r"/_sim/shops/(?P<shop>[^/]+)/orders", _c_create_order),
    (
        "GET",
        r"/_sim/shops/(?P<shop>[^/]+)/orders/(?P<order_id>\d+)",
        lambda s, p, a, q: s.get_order(p["shop"], int(p["order_id"])),
    ),
    (
        "DELETE",
        r"/_sim/shops/(?P<shop>[^/]+)/orders/(?P<order_id>\d+)",
        lambda s, p, a, q: s.delete_order(p["shop"], int(p["order_id"])),
    ),
    (
        "POST",
        r"/_sim/shops/(?P<shop>[^/]+)/orders/(?P<order_id>\d+)/paid",
        lambda s, p, a, q: s.mark_paid(p["shop"], int(p["order_id"])),
    ),
    (
        "POST",
        r"/_sim/shops/(?P<shop>[^/]+)/orders/(?P<order_id>\d+)/cancel",
        lambda s, p, a, q: s.cancel_order(p["shop"], int(p["order_id"]), a.get("reason", "customer")),
    ),
    (
        "POST",
        r"/_sim/shops/(?P<shop>[^/]+)/orders/(?P<order_id>\d+)/refund",
        lambda s, p, a, q: s.refund_order(
            p["shop"], int(p["order_id"]), _pairs(a.get("line_items")), note=a.get("note", "")
        ),
    ),
    (
        "POST",
        r"/_sim/shops/(?P<shop>[^/]+)/orders/(?P<order_id>\d+)/fulfill",
        lambda s, p, a, q: s.fulfill_in_admin(
            p["shop"], int(p["order_id"]), **{**a, "line_items": _pairs(a.get("line_items"))}
        ),
    ),
    (
        "GET",
        r"/_sim/shops/(?P<shop>[^/]+)/notifications",
        lambda s, p, a, q: {"notifications": s.notifications(p["shop"])},
    ),
    ("POST", r"/_sim/shops/(?P<shop>[^/]+)/rate_limit", lambda s, p, a, q: s.set_rate_limit(p["shop"], **a)),
    ("POST", r"/_sim/rate_limit", lambda s, p, a, q: s.set_rate_limit(None, **a)),
    ("POST", r"/_sim/faults", _c_faults),
    ("DELETE", r"/_sim/faults", lambda s, p, a, q: s.clear_faults()),
    ("POST", r"/_sim/delivery", lambda s, p, a, q: s.set_delivery(**a)),
    ("POST", r"/_sim/deliver", lambda s, p, a, q: {"results": [r.to_json() for r in s.deliver_pending()]}),
    ("GET", r"/_sim/shops/(?P<shop>[^/]+)/products", lambda s, p, a, q: {"products": s.products(p["shop"])}),
    ("GET", r"/_sim/stats", lambda s, p, a, q: s.stats()),
    ("POST", r"/_sim/reset", lambda s, p, a, q: s.reset(keep_shops=bool(a.get("keep_shops", False)))),
]
_CONTROL_ROUTES = [(m, re.compile(f"^{pattern}$"), action) for m, pattern, action in _CONTROL]


class ShopBaseSimulator(SimState):
    """The simulated platform served over HTTP. Also a context manager (start/stop).

    >>> with ShopBaseSimulator() as sim:
    ...     shop = sim.create_shop("acme", access_token="tok", webhook_secret="s")
    ...     base_url = sim.shop_url("acme")   # ShopBaseClient(..., base_url=base_url)

    `delivery="manual"`: webhooks wait for `deliver_pending()`; `"background"`: a thread sends them. The other
    keyword arguments (`burst`, `strict_carriers`, `seed`, ...) are SimState's, with its defaults.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        delivery: Literal["manual", "background"] = "manual",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._address = (host, port)
        self._delivery_mode = delivery
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ShopBaseSimulator:
        if self._server is not None:
            return self
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="shopbase-sim", daemon=True
        )
        self._thread.start()
        if self._delivery_mode == "background":
            self.deliverer.start_background()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        server.stopping.set()  # wake stalled handlers
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.deliverer.stop()
        self._server = None
        self._thread = None

    def __enter__(self) -> ShopBaseSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._address[0]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        return f"http://{shown}:{self.port}"

    def shop_url(self, shop: str) -> str:
        """The `base_url` a ShopBaseClient uses for `shop`."""
        return f"{self.url}/shops/{shop}"
