"""The Backtest page's API: datasets, grid check, jobs (start, progress, cancel), results, apply."""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from dashboard.deps import ApiAccess, ServicesDep, who
from dashboard.services.backtests import JobBusy, JobInputError, JobNotFound, datasets
from dashboard.services.configstore import ConfigValidationError

router = APIRouter(prefix="/api/backtest", dependencies=[ApiAccess], tags=["backtest"])


def _problem(exc: Exception) -> HTTPException:
    code = 422 if isinstance(exc, JobInputError) else 409 if isinstance(exc, JobBusy) else 404
    return HTTPException(code, str(exc))


@router.get("/sources")
async def sources(services: ServicesDep) -> dict[str, Any]:
    store = services.backtests.store_dir / "market.duckdb"
    return {"datasets": datasets(), "store": {"path": str(store), "exists": store.exists()}}


@router.post("/check")
async def check(services: ServicesDep, body: Any = Body(None)) -> dict[str, Any]:
    try:
        result = await services.backtests.check(body)
    except JobInputError as exc:
        raise _problem(exc) from None
    return {"ok": True, "strategy": result["strategy"], "n_configs": result["n_configs"],
            "per_symbol": result["per_symbol"]}


@router.get("/jobs")
async def jobs(services: ServicesDep) -> dict[str, Any]:
    return {"jobs": await asyncio.to_thread(services.backtests.jobs)}


@router.post("/jobs")
async def start(services: ServicesDep, body: Any = Body(None)) -> dict[str, Any]:
    try:
        return await services.backtests.start(body)
    except (JobInputError, JobBusy) as exc:
        raise _problem(exc) from None


@router.get("/jobs/{job_id}")
async def status(job_id: str, services: ServicesDep) -> dict[str, Any]:
    try:
        status = await asyncio.to_thread(services.backtests.status, job_id)
        return dict(status, detail_ids=await asyncio.to_thread(services.backtests.detail_ids, job_id))
    except JobNotFound as exc:
        raise _problem(exc) from None


@router.post("/jobs/{job_id}/cancel")
async def cancel(job_id: str, services: ServicesDep) -> dict[str, Any]:
    try:
        return await services.backtests.cancel(job_id)
    except JobNotFound as exc:
        raise _problem(exc) from None


@router.get("/jobs/{job_id}/results")
async def results(job_id: str, services: ServicesDep, sort: str = "rank", desc: bool = False,
                  limit: int = Query(200), symbol: str | None = None) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(services.backtests.results, job_id, sort, desc, limit, symbol)
    except (JobInputError, JobNotFound) as exc:
        raise _problem(exc) from None


@router.get("/jobs/{job_id}/details/{config_id}")
async def details(job_id: str, config_id: int, services: ServicesDep) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(services.backtests.details, job_id, config_id)
    except JobNotFound as exc:
        raise _problem(exc) from None


@router.get("/params")
async def params(services: ServicesDep) -> dict[str, Any]:
    return services.backtests.params()


@router.post("/jobs/{job_id}/apply")
async def apply(job_id: str, request: Request, services: ServicesDep,
                config_id: Any = Body(None, embed=True)) -> dict[str, Any]:
    async def save_settings(updates: dict[str, Any]) -> dict[str, Any]:
        result = await services.config.apply(updates, who=who(request, services), action="backtest.apply")
        return result.to_json()
    try:
        return await services.backtests.apply(job_id, config_id, save_settings)
    except (JobInputError, JobNotFound) as exc:
        raise _problem(exc) from None
    except ConfigValidationError as exc:
        raise HTTPException(422, f"settings not saved: {exc}") from None
