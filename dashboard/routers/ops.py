"""The Ops page's API (issue 21 item 6): the schedule, each job's last result and log, run a job now,
the reports as HTML. Thin: the work is in dashboard/services/ops.py."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.services.ops import OpsError

router = APIRouter(prefix="/api/ops", dependencies=[ApiAccess], tags=["ops"])


@router.get("")
async def overview(services: ServicesDep) -> dict[str, Any]:
    return services.ops.overview()


@router.post("/jobs/{name}/run")
async def run_now(name: str, services: ServicesDep) -> dict[str, Any]:
    try:
        services.ops.start(name, "button")
    except OpsError as exc:
        raise HTTPException(404 if "unknown job" in str(exc) else 409, str(exc)) from None
    return services.ops.overview()


@router.get("/jobs/{name}/log")
async def job_log(name: str, services: ServicesDep, lines: int = 200) -> dict[str, Any]:
    try:
        return {"name": name, "lines": services.ops.log_tail(name, max(1, min(lines, 2000)))}
    except OpsError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/report/{mode}", response_class=HTMLResponse)
async def report(mode: str, services: ServicesDep, date: str = "") -> HTMLResponse:
    try:
        return HTMLResponse(await services.ops.report_html(mode, date))
    except OpsError as exc:
        raise HTTPException(404 if "unknown report" in str(exc) else 422, str(exc)) from None
