"""Local servers for the exchange-client benchmarks (127.0.0.1, port 0): a REST app answering the calls
the benchmarks make, and a WebSocket server replaying recorded combined-stream messages."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.server import serve

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "tests" / "data" / "exchange" / "ws_combined-stream_2021-07-22_subset.jsonl"


def open_orders(n: int = 20) -> list[dict[str, Any]]:
    return [{"orderId": 1000 + i, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": f"mr-BTCUSDT.k{i}-SL",
             "price": "0", "avgPrice": "0.00000", "origQty": "0.010", "executedQty": "0", "cumQuote": "0",
             "timeInForce": "GTC", "type": "STOP_MARKET", "reduceOnly": True, "closePosition": False,
             "side": "SELL", "positionSide": "BOTH", "stopPrice": f"{29000 + i}.5", "workingType": "MARK_PRICE",
             "priceProtect": False, "origType": "STOP_MARKET", "time": 1, "updateTime": 1} for i in range(n)]


async def start_rest() -> tuple[str, uvicorn.Server, asyncio.Task]:
    import time
    orders = open_orders()

    async def handle(request: Request) -> JSONResponse:
        path = request.url.path
        if path == "/fapi/v1/time":
            return JSONResponse({"serverTime": int(time.time() * 1000)})
        if path == "/fapi/v1/ticker/bookTicker":
            return JSONResponse({"symbol": request.query_params.get("symbol", "X"), "bidPrice": "1", "bidQty": "1",
                                 "askPrice": "1.1", "askQty": "1", "time": 1})
        if path == "/fapi/v1/klines":
            return JSONResponse([])
        return JSONResponse(orders, headers={"X-MBX-USED-WEIGHT-1M": "3"})

    app = Starlette(routes=[Route("/{p:path}", handle)])
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # else ~40 ms per answer (Nagle)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, task


async def stop_rest(server: uvicorn.Server, task: asyncio.Task) -> None:
    server.should_exit = True
    await task


def replay_messages(repeats: int) -> list[str]:
    """The capture repeated, with kline times and aggTrade ids shifted so every message is new."""
    base = [json.loads(line)["msg"] for line in CAPTURE.read_text().splitlines()]
    out = []
    for i in range(repeats):
        for msg in base:
            data = json.loads(json.dumps(msg["data"]))
            if data.get("e") == "kline":
                data["k"]["t"] += i * 3_600_000
                data["k"]["T"] += i * 3_600_000
            elif data.get("e") == "aggTrade":
                data["a"] += i * 1_000_000
            out.append(json.dumps({"stream": msg["stream"], "data": data}))
    return out


def stream_names() -> list[str]:
    return sorted({json.loads(line)["msg"]["stream"] for line in CAPTURE.read_text().splitlines()})


async def start_replay(messages: list[str]):
    """Every connection receives all `messages` as fast as it can read them, then stays open."""
    async def handler(ws):
        for m in messages:
            await ws.send(m)
        await ws.wait_closed()

    server = await serve(handler, "127.0.0.1", 0, compression=None, max_queue=None)
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", server
