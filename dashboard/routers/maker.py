"""The Maker page's API (seed 003): status of a maker instance, emergency stop and reset of its executors."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.services.maker import SERVERS, MakerError, MakerService

router = APIRouter(prefix="/api/maker", dependencies=[ApiAccess], tags=["maker"])
CONFIRM = "STOP"


def _service(services: Any) -> MakerService:
    p = services.paths
    return MakerService(p.config_file, p.dotenv_file, p.run_dir)


@router.get("")
async def instances(services: ServicesDep) -> dict[str, Any]:
    return {"instances": [i.name for i in _service(services).instances()]}


@router.get("/{instance}")
async def view(instance: str, services: ServicesDep) -> dict[str, Any]:
    try:
        return await _service(services).view(instance)
    except MakerError as exc:
        raise HTTPException(404, str(exc)) from None


def _servers(servers: list[str]) -> list[str]:
    chosen = [s.upper() for s in servers] or list(SERVERS)
    bad = [s for s in chosen if s not in SERVERS]
    if bad:
        raise HTTPException(422, f"servers: B and/or C, not {', '.join(bad)}")
    return chosen


@router.post("/{instance}/emergency_stop")
async def emergency_stop(instance: str, services: ServicesDep, servers: list[str] = Body([], embed=True),
                         confirm: str = Body("", embed=True)) -> dict[str, Any]:
    if confirm != CONFIRM:
        raise HTTPException(422, f'confirmation missing: send {{"confirm": "{CONFIRM}"}} to cancel every order and '
                                 "close the position of the executors")
    try:
        return await _service(services).control(instance, "stop", _servers(servers))
    except MakerError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("/{instance}/reset")
async def reset(instance: str, services: ServicesDep, servers: list[str] = Body([], embed=True)) -> dict[str, Any]:
    try:
        return await _service(services).control(instance, "reset", _servers(servers))
    except MakerError as exc:
        raise HTTPException(404, str(exc)) from None
