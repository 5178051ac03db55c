"""The ASGI application: one port for REST and WebSocket, a lean request path, fault injection.

Deliberately thin (a dict lookup per request, raw query/body bytes, one HMAC, orjson), because the
order round trip is benchmarked. Route handlers live in routes_*.py and admin.py.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass
from typing import Any, Callable

import orjson
from starlette.websockets import WebSocket

from mraster.logs import get_logger
from paper.engine.errors import VenueError
from paper.faults import Decision
from paper.params import Params

log = get_logger("paper.server")

NONE, KEY, SIGNED = "NONE", "KEY", "SIGNED"
_JSON = [(b"content-type", b"application/json")]


@dataclass(slots=True)
class Route:
    handler: Callable[["Req"], Any]
    security: str = NONE
    weight: int | Callable[[Params], int] = 1
    order: bool = False          # places orders: order-count headers, lose_order_response applies
    v3: bool = False             # API-wallet signatures only (aster-v3 profile, /fapi/v3/...)
    guarded: bool = False        # aster-v3 guarded cancel: the nonce repeats the order's placement nonce


@dataclass(slots=True)
class Raw:
    """A ready answer (status and JSON bytes), e.g. passed through from the live venue."""
    status: int
    body: bytes


class Req:
    __slots__ = ("method", "path", "params", "query", "body", "headers", "key", "client", "nonce")

    def __init__(self, method: str, path: str, query: bytes, body: bytes, headers: dict[bytes, bytes],
                 client: str):
        self.method, self.path, self.query, self.body, self.headers, self.client = (
            method, path, query, body, headers, client)
        self.key = ""
        self.nonce = 0                  # aster-v3: the request's nonce (recorded with a placed order)
        ctype = headers.get(b"content-type", b"")
        form = body if body and b"json" not in ctype else b""
        self.params = Params.parse(query, form)

    def header(self, name: str) -> str | None:
        v = self.headers.get(name.lower().encode())
        return v.decode("latin-1") if v is not None else None


class Usage:
    """Request weight per client and orders per account, per minute of venue time (reported, not enforced).

    Venue time, like every window a client budgets by (the project's client counts weight in venue
    ms): at a speed other than 1 a wall-clock window would report a minute's worth of weight for a
    sliver of the client's minute, and the client would hold its requests (the guard's too) for
    up to a wall minute. At speed 1 venue time is the wall clock."""

    def __init__(self) -> None:
        self.minute = 0
        self.weight: dict[str, int] = {}
        self.orders: dict[str, int] = {}
        self.orders10: dict[str, tuple[int, int]] = {}

    def add(self, client: str, weight: int, account: str, order: bool, now_s: float) -> tuple[int, int, int]:
        minute = int(now_s // 60)
        if minute != self.minute:
            self.minute, self.weight, self.orders = minute, {}, {}
        w = self.weight[client] = self.weight.get(client, 0) + weight
        o = o10 = 0
        if order and account:
            o = self.orders[account] = self.orders.get(account, 0) + 1
            slot = int(now_s // 10)
            prev = self.orders10.get(account)
            o10 = (prev[1] + 1) if prev and prev[0] == slot else 1
            self.orders10[account] = (slot, o10)
        return w, o, o10


class PaperApp:
    def __init__(self, venue: Any, hub: Any):
        self.venue = venue
        self.hub = hub
        self.routes: dict[tuple[str, str], Route] = {}
        self.usage = Usage()
        self._late: set[asyncio.Task] = set()       # order placements held by the late_order fault

    def add(self, method: str, path: str, handler: Callable, security: str = NONE,
            weight: int | Callable[[Params], int] = 1, order: bool = False, v3: bool = False,
            guarded: bool = False) -> None:
        self.routes[(method, path)] = Route(handler, security, weight, order, v3, guarded)

    def _hold_late(self, route: Route, req: Req, delay_s: float) -> None:
        task = asyncio.get_running_loop().create_task(_run_late(self, route, req, delay_s))
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self.hub.serve(WebSocket(scope, receive, send))
        elif kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        method, path = scope["method"], scope["path"]
        faulted = path.startswith("/fapi/")
        if faulted:
            decision = self.venue.faults.decide(time.time())
            if decision.delay_s:
                await asyncio.sleep(decision.delay_s)
            if decision.drop:
                await _drop(send)
                return
            if decision.status:
                await _respond_fault(send, decision)
                return
        route = self.routes.get((method, path))
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        if route is None:
            known = any(p == path for (_, p) in self.routes)
            status = 405 if known else 404
            await _respond(send, status, orjson.dumps({"code": -1000 if known else -5000,
                                                       "msg": f"Path {path}, Method {method} is invalid"}))
            return
        headers = dict(scope["headers"])
        client = (scope.get("client") or ("?", 0))[0]
        req = Req(method, path, scope.get("query_string", b""), body, headers, client)
        status, payload = 200, b""
        before = self.venue.last_write
        try:
            if route.security != NONE and self.venue.v3 is not None and (route.v3 or "signer" in req.params):
                req.key, req.nonce = self.venue.v3.authenticate(req.query, body, self.venue.api_now(), client,
                                                                guarded=route.guarded)
            elif route.security != NONE:
                req.key = self.venue.auth.api_key(req.header("x-mbx-apikey"))
                if route.security == SIGNED:
                    self.venue.auth.check_signed(req.key, req.query, body, req.params.get("timestamp"),
                                                 req.params.get("recvWindow"), self.venue.api_now())
            late_s = self.venue.faults.take_late_order() if route.order and faulted else 0.0
            if late_s:                            # fault: answered "unknown" now, executed later
                self._hold_late(route, req, late_s)
                raise VenueError(-1007, "Timeout waiting for response from backend server. Send status unknown; "
                                 "execution status unknown.", status=503)
            result = route.handler(req)
            if inspect.isawaitable(result):
                result = await result
            await self.venue.durable(before)      # what we answer about is on disk first
            if isinstance(result, Raw):
                status, payload = result.status, result.body
            else:
                payload = orjson.dumps(result)
        except VenueError as exc:
            await self.venue.durable(before)
            status, payload = exc.status, orjson.dumps(exc.body())
        except Exception as exc:  # a bug must answer like the venue does, and be logged
            log.exception("paper.handler_failed", f"{method} {path} failed: {exc}", path=path)
            status, payload = 500, orjson.dumps({"code": -1000, "msg": "An unknown error occured while processing "
                                                                        "the request."})
        if route.order and status == 200 and faulted and self.venue.faults.take_lost_order_response():
            await _drop(send)          # executed, but the answer is lost (fault injection)
            return
        extra: list = []
        if faulted:   # only the venue API counts toward request weight; /admin and /paper are not the venue
            weight = route.weight(req.params) if callable(route.weight) else route.weight
            w, o, o10 = self.usage.add(client, weight, req.key, route.order, self.venue.now() / 1000.0)
            extra = [(b"x-mbx-used-weight-1m", str(w).encode())]
            if route.order:
                extra += [(b"x-mbx-order-count-1m", str(o).encode()),
                          (b"x-mbx-order-count-10s", str(o10).encode())]
        await _respond(send, status, payload, extra)


async def _run_late(app: "PaperApp", route: Route, req: Req, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    before = app.venue.last_write
    try:
        result = route.handler(req)
        if inspect.isawaitable(result):
            await result
        log.info("paper.late_order", f"{req.method} {req.path} executed {delay_s:g} s late (fault late_order)")
    except VenueError as exc:
        log.info("paper.late_order", f"{req.method} {req.path} executed late and refused: {exc.body()}")
    except Exception as exc:  # noqa: BLE001 - a late execution must not take the server down
        log.exception("paper.handler_failed", f"late {req.method} {req.path} failed: {exc}", path=req.path)
    await app.venue.durable(before)


async def _respond(send: Callable, status: int, payload: bytes, extra: list | None = None) -> None:
    headers = _JSON + [(b"content-length", str(len(payload)).encode())] + (extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _respond_fault(send: Callable, d: Decision) -> None:
    extra = [(b"retry-after", str(d.retry_after).encode())] if d.retry_after else []
    await _respond(send, d.status, orjson.dumps({"code": d.code, "msg": d.msg}), extra)


async def _drop(send: Callable) -> None:
    """Close the connection without any answer. uvicorn gives no public way to do this, so we reach its
    transport through the bound `send`; if that ever fails we answer 504 -1007 (execution unknown),
    which a client must treat the same way."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None and hasattr(cycle, "disconnected"):
        cycle.disconnected = True
        transport.close()
        return
    await _respond(send, 504, orjson.dumps({"code": -1007, "msg": "Timeout waiting for response from backend "
                                                                  "server. Send status unknown; execution status "
                                                                  "unknown."}))



def http_protocol_class() -> type:
    """uvicorn's httptools protocol, with each response's head and body sent in one write.

    uvicorn writes the head and the body of a response separately (two send syscalls); on loopback at
    thousands of requests per second that is a large share of the server's time. Writes of a response
    cycle are gathered and sent together at the end of the event-loop turn. WebSocket upgrades keep the
    real transport."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class CoalescingTransport:
        __slots__ = ("_transport", "_loop", "_buffer")

        def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop):
            self._transport, self._loop, self._buffer = transport, loop, []

        def write(self, data: bytes) -> None:
            if not self._buffer:
                self._loop.call_soon(self._flush)
            self._buffer.append(data)

        def _flush(self) -> None:
            if self._buffer:
                data = b"".join(self._buffer)
                self._buffer.clear()
                if not self._transport.is_closing():
                    self._transport.write(data)

        def close(self) -> None:
            self._flush()
            self._transport.close()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._transport, name)

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not None and not isinstance(cycle.transport, CoalescingTransport):
                cycle.transport = CoalescingTransport(self.transport, self.loop)

    return CoalescingHttpToolsProtocol
