"""A TEST DOUBLE of a Binance-compatible futures venue, for fault scenarios.

Not the paper exchange (paper/): this is a small, scriptable
server that tests use to make the venue misbehave on purpose: answer 503 or
429 or 418, hang after accepting an order (so the client times out although
the order exists), reject timestamps (-1021), serve garbage, drop WebSocket
connections. Real HTTP (uvicorn + Starlette) and real WebSocket (websockets)
servers on 127.0.0.1, port 0, inside the test's event loop.

It verifies every signed request like the venue does (HMAC over the raw query
string + body, timestamp within recvWindow of its own clock), so a signing bug
in the client fails the tests.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.server import ServerConnection, serve

SIGNED_PREFIXES = ("/fapi/v1/order", "/fapi/v1/openOrders", "/fapi/v1/allOpenOrders", "/fapi/v2/", "/fapi/v4/",
                   "/fapi/v1/leverage", "/fapi/v1/marginType", "/fapi/v1/positionSide", "/fapi/v1/userTrades",
                   "/fapi/v1/income", "/fapi/v1/commissionRate")


@dataclass
class Fault:
    """What to do with the next `times` requests matching method and path.

    action: "status"        answer `status` with `body` (a {code,msg} dict) and `headers`, without processing
            "hang"          never answer (the client times out); nothing is processed
            "accept_hang"   process the request (e.g. the order is placed), then never answer
            "accept_status" process it, then answer `status`/`body` instead of the real result
            "garbage"       answer 200 with a body that is not what the endpoint returns
    """
    method: str
    path: str
    action: str
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    raw_query: str


def kline_row(open_time: int, close: float, interval_ms: int = 60_000) -> list[Any]:
    return [open_time, f"{close - 1:.2f}", f"{close + 2:.2f}", f"{close - 2:.2f}", f"{close:.2f}", "12.5",
            open_time + interval_ms - 1, "1250.0", 42, "6.0", "600.0", "0"]


class FakeVenue:
    def __init__(self, api_key: str = "test-key", api_secret: str = "test-secret",
                 exchange_info: dict[str, Any] | None = None):
        self.api_key, self.api_secret = api_key, api_secret
        self.exchange_info = exchange_info or {"symbols": [], "rateLimits": []}
        self.skew_ms = 0                     # venue clock = time_source() + skew
        self.time_source: Callable[[], float] = time.time
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_order_id = 1000
        self.positions: list[dict[str, Any]] = []
        self.klines: dict[tuple[str, str], list[list[Any]]] = {}
        self.agg_trades: dict[str, list[dict[str, Any]]] = {}
        self.used_weight_header: int | None = None
        self.account_v4 = True
        self.listen_key_serial = 0
        self.listen_key: str | None = None
        self.keepalives: list[str] = []
        self.closed_keys: list[str] = []
        self.ws_connections: list[ServerConnection] = []
        self.ws_paths: list[str] = []
        self.ws_close_codes: list[int | None] = []
        self._release = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._ws_server: Any = None
        self.url = self.ws_url = ""

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeVenue":
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted sockets inherit this; without it uvicorn on a pre-bound socket answers ~40 ms late (Nagle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._serve_task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._serve_task.done() or time.monotonic() > deadline:
                raise RuntimeError("fake venue did not start")
            await asyncio.sleep(0.005)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._ws_server = await serve(self._ws_handler, "127.0.0.1", 0, compression=None)
        ws_port = self._ws_server.sockets[0].getsockname()[1]
        self.ws_url = f"ws://127.0.0.1:{ws_port}"
        return self

    async def stop_http(self) -> None:
        """Take the REST server down (the venue becomes unreachable)."""
        self._release.set()
        server, self._server = self._server, None
        if server is not None:               # faster than uvicorn's graceful path, which polls every 0.1 s
            server.should_exit = server.force_exit = True
            for listener in server.servers:
                listener.close()
            for connection in list(server.server_state.connections):
                connection.transport.close()
            self._serve_task.cancel()
            await asyncio.gather(self._serve_task, return_exceptions=True)

    async def stop(self) -> None:
        await self.stop_http()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()

    # --------------------------------------------------------------- helpers
    def now_ms(self) -> int:
        return int(self.time_source() * 1000) + self.skew_ms

    def add_fault(self, method: str, path: str, action: str, **kw: Any) -> Fault:
        fault = Fault(method, path, action, **kw)
        self.faults.append(fault)
        return fault

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path == path)

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def add_order(self, **fields: Any) -> dict[str, Any]:
        self.next_order_id += 1
        order = {"orderId": self.next_order_id, "status": "NEW", "price": "0", "avgPrice": "0.00000",
                 "executedQty": "0", "cumQuote": "0", "timeInForce": "GTC", "reduceOnly": False,
                 "closePosition": False, "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
                 "priceProtect": False, "time": self.now_ms(), "updateTime": self.now_ms()}
        order.update(fields)
        order.setdefault("origType", order.get("type"))
        self.orders[order["orderId"]] = order
        return order

    def open_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.orders.values() if o["status"] in ("NEW", "PARTIALLY_FILLED")]

    # ------------------------------------------------------------ websockets
    async def _ws_handler(self, ws: ServerConnection) -> None:
        self.ws_paths.append(ws.request.path)
        self.ws_connections.append(ws)
        try:
            await ws.wait_closed()
        finally:
            self.ws_close_codes.append(ws.close_code)
            self.ws_connections.remove(ws)

    def live(self, kind: str) -> list[ServerConnection]:
        prefix = "/stream" if kind == "market" else "/ws/"
        return [ws for ws in self.ws_connections if ws.request.path.startswith(prefix)]

    async def push_market(self, stream: str, data: Any) -> int:
        sent = 0
        for ws in self.live("market"):
            if stream in ws.request.path:
                await ws.send(json.dumps({"stream": stream, "data": data}))
                sent += 1
        return sent

    async def push_user(self, data: Any) -> int:
        sent = 0
        for ws in self.live("user"):
            await ws.send(data if isinstance(data, str) else json.dumps(data))
            sent += 1
        return sent

    def drop_all(self) -> None:
        """Cut every WebSocket connection without a close frame (the client sees 1006)."""
        for ws in list(self.ws_connections):
            ws.transport.abort()

    # ------------------------------------------------------------------ REST
    async def _handle(self, request: Request) -> Response:
        method, path = request.method, "/" + request.path_params["path"]
        raw_query = request.scope.get("query_string", b"").decode()
        body = (await request.body()).decode()
        params = dict(parse_qsl(body)) | dict(parse_qsl(raw_query))
        self.seen.append(Seen(method, path, params, raw_query))
        fault = self._take_fault(method, path)
        if fault is not None and fault.action in ("status", "hang", "garbage"):
            return await self._fault_response(fault)
        if path.startswith(SIGNED_PREFIXES) or path == "/fapi/v1/listenKey":
            problem = self._auth_problem(request, raw_query, body, params, signed=path != "/fapi/v1/listenKey")
            if problem is not None:
                return problem
        try:
            result = self._route(method, path, params)
        except VenueError as exc:
            result = JSONResponse({"code": exc.code, "msg": exc.msg}, status_code=exc.status)
        if not isinstance(result, Response):
            result = JSONResponse(result)
        if fault is not None:                               # accept_hang / accept_status
            return await self._fault_response(fault)
        if self.used_weight_header is not None:
            result.headers["X-MBX-USED-WEIGHT-1M"] = str(self.used_weight_header)
        return result

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.path == path and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _fault_response(self, fault: Fault) -> Response:
        if fault.action in ("hang", "accept_hang"):
            await self._release.wait()
            return Response(status_code=599)
        if fault.action == "garbage":
            return Response(fault.body if fault.body is not None else "{not json", media_type="application/json")
        if isinstance(fault.body, str):
            return Response(fault.body, status_code=fault.status, headers=fault.headers, media_type="text/html")
        return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)

    def _auth_problem(self, request: Request, raw_query: str, body: str, params: dict[str, str],
                      signed: bool) -> Response | None:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return JSONResponse({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401)
        if not signed:
            return None
        payload, sig = raw_query, params.get("signature", "")
        if "&signature=" in raw_query:
            payload = raw_query[: raw_query.rindex("&signature=")] + body
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not sig or not hmac.compare_digest(expected, sig.lower()):
            return JSONResponse({"code": -1022, "msg": "Signature for this request is not valid."}, 400)
        ts, window = int(params.get("timestamp", "0")), int(params.get("recvWindow", "5000"))
        now = self.now_ms()
        if not (ts < now + 1000 and now - ts <= window):
            return JSONResponse({"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
                                400)
        return None

    def _route(self, method: str, path: str, p: dict[str, str]) -> Any:
        handler: Callable[[dict[str, str]], Any] | None = getattr(
            self, f"_{method.lower()}_{path.strip('/').replace('/', '_')}", None)
        if handler is None:
            return JSONResponse({"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}, 404)
        return handler(p)

    # ----------------------------------------------------------- endpoints
    def _get_fapi_v1_time(self, p: dict[str, str]) -> Any:
        return {"serverTime": self.now_ms()}

    def _get_fapi_v1_exchangeInfo(self, p: dict[str, str]) -> Any:
        return self.exchange_info

    def _get_fapi_v1_klines(self, p: dict[str, str]) -> Any:
        rows = self.klines.get((p["symbol"], p["interval"]), [])
        if "startTime" in p:
            rows = [r for r in rows if r[0] >= int(p["startTime"])]
        if "endTime" in p:
            rows = [r for r in rows if r[0] <= int(p["endTime"])]
        limit = int(p.get("limit", 500))
        return rows[:limit] if "startTime" in p else rows[-limit:]

    def _get_fapi_v1_ticker_bookTicker(self, p: dict[str, str]) -> Any:
        return {"symbol": p.get("symbol", "BTCUSDT"), "bidPrice": "100.0", "bidQty": "1", "askPrice": "100.1",
                "askQty": "2", "time": self.now_ms(), "lastUpdateId": 7}

    def _get_fapi_v1_premiumIndex(self, p: dict[str, str]) -> Any:
        return {"symbol": p.get("symbol", "BTCUSDT"), "markPrice": "100.05", "indexPrice": "100.0",
                "estimatedSettlePrice": "100.0", "lastFundingRate": "0.0001", "nextFundingTime": self.now_ms() + 1,
                "interestRate": "0.0001", "time": self.now_ms()}

    def _get_fapi_v1_depth(self, p: dict[str, str]) -> Any:
        return {"lastUpdateId": 99, "E": self.now_ms(), "T": self.now_ms(),
                "bids": [["100.0", "1"], ["99.9", "2"]], "asks": [["100.1", "3"], ["100.2", "4"]]}

    def _get_fapi_v1_aggTrades(self, p: dict[str, str]) -> Any:
        rows = self.agg_trades.get(p["symbol"], [])
        if "startTime" in p:
            rows = [r for r in rows if r["T"] >= int(p["startTime"])]
        return rows[: int(p.get("limit", 500))]

    def _get_fapi_v2_balance(self, p: dict[str, str]) -> Any:
        return [{"accountAlias": "x", "asset": "USDT", "balance": "1000.5", "crossWalletBalance": "1000.5",
                 "crossUnPnl": "0", "availableBalance": "900.25", "maxWithdrawAmount": "900.25",
                 "marginAvailable": True, "updateTime": 0}]

    def _account(self) -> Any:
        return {"totalWalletBalance": "1000", "totalUnrealizedProfit": "5", "totalMarginBalance": "1005",
                "totalMaintMargin": "10", "totalInitialMargin": "50", "availableBalance": "950", "canTrade": True,
                "updateTime": 0, "assets": [], "positions": []}

    def _get_fapi_v4_account(self, p: dict[str, str]) -> Any:
        if not self.account_v4:
            return JSONResponse({"code": -5000, "msg": "Path /fapi/v4/account, Method GET is invalid"}, 404)
        return self._account()

    def _get_fapi_v2_account(self, p: dict[str, str]) -> Any:
        return self._account()

    def _get_fapi_v2_positionRisk(self, p: dict[str, str]) -> Any:
        return [x for x in self.positions if "symbol" not in p or x["symbol"] == p["symbol"]]

    def _get_fapi_v1_openOrders(self, p: dict[str, str]) -> Any:
        return [o for o in self.open_orders() if "symbol" not in p or o["symbol"] == p["symbol"]]

    def _find(self, p: dict[str, str]) -> dict[str, Any] | None:
        if "orderId" in p:
            return self.orders.get(int(p["orderId"]))
        cid = p.get("origClientOrderId")
        matches = [o for o in self.orders.values() if o["clientOrderId"] == cid]
        return matches[-1] if matches else None

    def _get_fapi_v1_order(self, p: dict[str, str]) -> Any:
        order = self._find(p)
        if order is None:
            raise VenueError(-2013, "Order does not exist.")
        return order

    def _post_fapi_v1_order(self, p: dict[str, str]) -> Any:
        cid = p.get("newClientOrderId") or f"auto-{self.next_order_id}"
        if any(o["clientOrderId"] == cid for o in self.open_orders()):
            raise VenueError(-4116, "ClientOrderId is duplicated.")
        status = "FILLED" if p["type"] == "MARKET" else "NEW"
        return self.add_order(symbol=p["symbol"], side=p["side"], type=p["type"], clientOrderId=cid,
                              origQty=p.get("quantity", "0"), price=p.get("price", "0"),
                              stopPrice=p.get("stopPrice", "0"), status=status,
                              executedQty=p.get("quantity", "0") if status == "FILLED" else "0",
                              reduceOnly=p.get("reduceOnly") == "true",
                              closePosition=p.get("closePosition") == "true")

    def _delete_fapi_v1_order(self, p: dict[str, str]) -> Any:
        order = self._find(p)
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            raise VenueError(-2011, "Unknown order sent.")
        order["status"] = "CANCELED"
        return order

    def _delete_fapi_v1_allOpenOrders(self, p: dict[str, str]) -> Any:
        for o in self.open_orders():
            if o["symbol"] == p["symbol"]:
                o["status"] = "CANCELED"
        return {"code": "200", "msg": "The operation of cancel all open order is done."}

    def _post_fapi_v1_leverage(self, p: dict[str, str]) -> Any:
        return {"leverage": int(p["leverage"]), "maxNotionalValue": "1000000", "symbol": p["symbol"]}

    def _post_fapi_v1_marginType(self, p: dict[str, str]) -> Any:
        raise VenueError(-4046, "No need to change margin type.")

    def _post_fapi_v1_positionSide_dual(self, p: dict[str, str]) -> Any:
        return {"code": 200, "msg": "success"}

    def _get_fapi_v1_positionSide_dual(self, p: dict[str, str]) -> Any:
        return {"dualSidePosition": False}

    def _get_fapi_v1_commissionRate(self, p: dict[str, str]) -> Any:
        return {"symbol": p["symbol"], "makerCommissionRate": "0.0002", "takerCommissionRate": "0.0004"}

    def _get_fapi_v1_userTrades(self, p: dict[str, str]) -> Any:
        return []

    def _get_fapi_v1_income(self, p: dict[str, str]) -> Any:
        return [{"symbol": "", "incomeType": "TRANSFER", "income": "10", "asset": "USDT", "info": "",
                 "time": 1, "tranId": 9, "tradeId": ""}]

    def _post_fapi_v1_listenKey(self, p: dict[str, str]) -> Any:
        if self.listen_key is None:
            self.listen_key_serial += 1
            self.listen_key = f"listenkey{self.listen_key_serial:055d}"
        return {"listenKey": self.listen_key}

    def _put_fapi_v1_listenKey(self, p: dict[str, str]) -> Any:
        if p.get("listenKey") != self.listen_key:
            raise VenueError(-1125, "This listenKey does not exist.")
        self.keepalives.append(p["listenKey"])
        return {}

    def _delete_fapi_v1_listenKey(self, p: dict[str, str]) -> Any:
        self.closed_keys.append(p.get("listenKey", ""))
        self.listen_key = None
        return {}


class VenueError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status
