"""The Operator page's API (seed 004's delta-neutral instances): a thin router over OperatorService."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import Response

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.services.operator import InstanceError, OperatorError, OperatorService
from mraster.tradedb import TradeDBError

router = APIRouter(prefix="/api/operator", dependencies=[ApiAccess], tags=["operator"])


def _service(services: Any) -> OperatorService:
    p = services.paths
    journal = Path(services.settings.journal_file).expanduser()
    return OperatorService(p.config_file, p.run_dir, journal if journal.is_absolute() else p.base_dir / journal)


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except OperatorError as exc:
        raise HTTPException(404, str(exc)) from None
    except (InstanceError, TradeDBError) as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("")
async def instances(services: ServicesDep) -> dict[str, Any]:
    return {"instances": _service(services).names()}


@router.get("/{name}")
async def status(name: str, services: ServicesDep) -> dict[str, Any]:
    return _call(_service(services).status, name)


@router.get("/{name}/history")
async def history(name: str, services: ServicesDep, limit: int = 200, days: int = 30) -> dict[str, Any]:
    return _call(_service(services).history, name, max(1, min(limit, 5000)), max(1, min(days, 366)))


@router.get("/{name}/export.csv")
async def export(name: str, services: ServicesDep, table: str = "trades") -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.csv"
        _call(_service(services).export_csv, name, table, out)
        body = out.read_bytes()
    return Response(body, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-{table}.csv"'})


@router.post("/{name}/pause")
async def pause(name: str, services: ServicesDep, paused: bool = Body(True, embed=True)) -> dict[str, Any]:
    return _call(_service(services).set_paused, name, paused)


@router.post("/{name}/close-pair")
async def close_pair(name: str, services: ServicesDep) -> dict[str, Any]:
    return _call(_service(services).close_pair, name)


@router.post("/{name}/settings")
async def save_settings(name: str, services: ServicesDep,
                        settings: dict[str, Any] = Body(..., embed=True)) -> dict[str, Any]:
    return _call(_service(services).save_settings, name, settings)
