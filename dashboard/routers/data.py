"""The Data page's API: the recorders (state, figures, add, start/stop), CSV days, and the analytic store.

    GET  /api/data/recorders                   every recorder: the classic one (if used) and each instance
    POST /api/data/recorders                   add a recorder instance   {"name", "symbols", "poll_time"?}
    POST /api/data/recorders/{name}/{action}   start | stop | restart one recorder ({"symbols"}: classic only)
    GET  /api/data/recorder, POST /api/data/recorder/start|stop   the classic recorder (as before)
"""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import PlainTextResponse

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.services.marketdata import DataBusy, DataInputError, StoreCommandError
from dashboard.services.supervisor import SupervisorError

router = APIRouter(prefix="/api/data", dependencies=[ApiAccess], tags=["data"])


def _problem(exc: Exception) -> HTTPException:
    if isinstance(exc, DataInputError):
        return HTTPException(422, str(exc))
    if isinstance(exc, DataBusy):
        return HTTPException(409, str(exc))
    if isinstance(exc, StoreCommandError):
        return HTTPException(400, str(exc))
    return HTTPException(500, str(exc))


@router.get("/recorder")
async def recorder(services: ServicesDep) -> dict[str, Any]:
    return await asyncio.to_thread(services.data.recorder)


@router.post("/recorder/start")
async def recorder_start(services: ServicesDep, symbols: Any = Body(None, embed=True)) -> dict[str, Any]:
    try:
        return await services.data.start_recorder(symbols)
    except (DataInputError, DataBusy, SupervisorError) as exc:
        raise _problem(exc) from None


@router.post("/recorder/stop")
async def recorder_stop(services: ServicesDep) -> dict[str, Any]:
    try:
        return await services.data.stop_recorder()
    except SupervisorError as exc:
        raise _problem(exc) from None


@router.get("/recorders")
async def recorders(services: ServicesDep) -> dict[str, Any]:
    return await asyncio.to_thread(services.data.recorders)


@router.post("/recorders")
async def recorder_add(services: ServicesDep, payload: Any = Body(None)) -> dict[str, Any]:
    try:
        view = services.data.add_recorder(payload)
    except DataInputError as exc:
        raise _problem(exc) from None
    for source in services.engines.log_sources():       # the new instance's log file
        services.logs.add_source(source)
    return view


@router.post("/recorders/{name}/{action}")
async def recorder_action(name: str, action: str, services: ServicesDep,
                          symbols: Any = Body(None, embed=True)) -> dict[str, Any]:
    try:
        return await services.data.act(name, action, symbols)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except (DataInputError, DataBusy, SupervisorError) as exc:
        raise _problem(exc) from None


@router.get("/days")
async def days(services: ServicesDep) -> dict[str, Any]:
    return {"log_dir": str(services.data.log_dir), "days": await asyncio.to_thread(services.data.days)}


@router.get("/coverage")
async def coverage(services: ServicesDep) -> dict[str, Any]:
    try:
        return await services.data.coverage()
    except (DataBusy, StoreCommandError) as exc:
        raise _problem(exc) from None


@router.post("/load")
async def load(services: ServicesDep, date: Any = Body(None, embed=True)) -> dict[str, Any]:
    try:
        return await services.data.load(date)
    except (DataInputError, DataBusy, StoreCommandError) as exc:
        raise _problem(exc) from None


@router.post("/query")
async def query(services: ServicesDep, sql: Any = Body(None, embed=True)) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await services.data.query(sql, "json")
        return result
    except (DataInputError, DataBusy, StoreCommandError) as exc:
        raise _problem(exc) from None


@router.get("/export.csv", response_class=PlainTextResponse)
async def export_csv(services: ServicesDep, sql: str = Query(..., max_length=10_000)) -> PlainTextResponse:
    """The rows of a read-only query as a CSV download."""
    try:
        text = await services.data.query(sql, "csv")
    except (DataInputError, DataBusy, StoreCommandError) as exc:
        raise _problem(exc) from None
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="mraster-query.csv"'})
