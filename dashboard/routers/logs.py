"""Live logs: /ws/logs sends the recent backlog, then live lines, filtered by level and source.

Messages to the page: {"type": "hello"}, {"type": "lines", "lines": [...], "dropped": n} (n lines
this client missed because it read too slowly), {"type": "error", "message": ...}.
Messages from the page: {"type": "filter", "level": "INFO", "sources": ["bot"], "activity": false}.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from dashboard.deps import ApiAccess, ServicesDep, services_of, websocket_admitted
from dashboard.services.loghub import LogFilter

router = APIRouter(tags=["logs"])
api = APIRouter(prefix="/api", dependencies=[ApiAccess])
BATCH = 500


@api.get("/logs")
async def recent_logs(services: ServicesDep, level: str = "", sources: str = "", activity: bool = False,
                      limit: int = 200) -> dict[str, Any]:
    try:
        flt = LogFilter.parse(level, sources, activity, services.logs.sources)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"lines": services.logs.recent(flt, max(1, min(limit, 2000)))}


@api.get("/logs/stats")
async def log_stats(services: ServicesDep) -> dict[str, Any]:
    """How many lines went through, and per client how many wait and how many were dropped."""
    return services.logs.stats()


@router.websocket("/ws/logs")
async def ws_logs(ws: WebSocket) -> None:
    if not await websocket_admitted(ws):
        return
    hub = services_of(ws).logs
    q = ws.query_params
    try:
        flt = LogFilter.parse(q.get("level"), q.get("sources"), q.get("activity"), hub.sources)
        backlog = max(0, min(int(q.get("backlog", "500")), 2000))
    except ValueError as exc:
        await ws.close(code=1008, reason=str(exc)[:120])
        return
    await ws.accept()
    sub, recent = hub.subscribe(flt, backlog)
    receiver = asyncio.create_task(_receive_filters(ws, hub, sub))
    try:
        await ws.send_text(json.dumps({"type": "hello", "backlog": len(recent)}))
        for start in range(0, len(recent), BATCH):
            await _send_lines(ws, recent[start:start + BATCH], 0)
        while not receiver.done():
            getter = asyncio.ensure_future(sub.next_batch(BATCH))
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            lines, dropped = getter.result()
            await _send_lines(ws, lines, dropped)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        hub.unsubscribe(sub)
        receiver.cancel()


async def _send_lines(ws: WebSocket, lines: list[dict[str, Any]], dropped: int) -> None:
    await ws.send_text(json.dumps({"type": "lines", "lines": lines, "dropped": dropped}, default=str))


async def _receive_filters(ws: WebSocket, hub: Any, sub: Any) -> None:
    """Filter changes from the page apply to the next lines (reconnect to re-filter the backlog)."""
    try:
        while True:
            try:
                message = json.loads(await ws.receive_text())
                if not isinstance(message, dict) or message.get("type") != "filter":
                    continue
                sub.filter = LogFilter.parse(message.get("level"), message.get("sources"), message.get("activity"),
                                             hub.sources)
            except ValueError as exc:
                await ws.send_text(json.dumps({"type": "error", "message": str(exc)}))
    except (WebSocketDisconnect, RuntimeError):
        return


router.include_router(api)
