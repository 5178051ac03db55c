"""What is happening: positions, orders, trades, equity, guard, feed; pushed live over /ws/state."""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from mraster.settings.schema import KLINE_INTERVALS

from dashboard.services.engines import child_name
from dashboard.deps import ApiAccess, ServicesDep, services_of, websocket_admitted

router = APIRouter(tags=["state"])
api = APIRouter(prefix="/api", dependencies=[ApiAccess])
SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
PUSH_INTERVAL = 1.0
REFRESH_EVERY = 5.0  # ages and uptimes are sent at least this often even when nothing else changed
VOLATILE = re.compile(r'"(time_ms|uptime_s|age_s|next_restart_in_s)": [0-9.]+')


async def full_snapshot(services: Any) -> dict[str, Any]:
    """The state view plus the processes, the account check and the engine instances."""
    snapshot: dict[str, Any] = await services.state.snapshot()
    snapshot["processes"] = services.supervisor.statuses()
    snapshot["account"] = services.credentials.status()
    snapshot["engines"] = [{"instance": i.name, "kind": i.kind, "account": i.account, "process": child_name(i.name)}
                           for i in services.engines.instances]
    return snapshot


@api.get("/state")
async def get_state(services: ServicesDep) -> dict[str, Any]:
    return await full_snapshot(services)


@api.get("/chart/{symbol}")
async def chart(symbol: str, services: ServicesDep, interval: str = "5m", limit: int = 200,
                end: int | None = None) -> dict[str, Any]:
    """Candles (the last `limit`, or the `limit` up to `end` ms: the chart zooms to an old trade)."""
    symbol = symbol.upper()
    if not SYMBOL.match(symbol):
        raise HTTPException(422, f"{symbol!r} is not a symbol")
    if interval not in KLINE_INTERVALS:
        raise HTTPException(422, f"interval must be one of {', '.join(KLINE_INTERVALS)}")
    if not 10 <= limit <= 1500:
        raise HTTPException(422, "limit must be from 10 to 1500")
    if end is not None and not 0 < end < 10**14:
        raise HTTPException(422, "end must be a time in milliseconds")
    return await services.state.chart(symbol, interval, limit, end)


@router.websocket("/ws/state")
async def ws_state(ws: WebSocket) -> None:
    """Sends the snapshot whenever it changed (checked every second)."""
    if not await websocket_admitted(ws):
        return
    services = services_of(ws)
    await ws.accept()
    last, sent_at = "", 0.0
    loop = asyncio.get_running_loop()
    receiver = asyncio.create_task(_drain(ws))
    try:
        while not receiver.done():
            text = json.dumps(await full_snapshot(services), default=str)
            comparable = VOLATILE.sub("", text)
            if comparable != last or loop.time() - sent_at >= REFRESH_EVERY:
                await ws.send_text(text)
                last, sent_at = comparable, loop.time()
            await asyncio.wait([receiver], timeout=PUSH_INTERVAL)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()


async def _drain(ws: WebSocket) -> None:
    try:
        while True:
            await ws.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return


router.include_router(api)
