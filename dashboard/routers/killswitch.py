"""The kill-switch latch: its state (also in /api/state as `kill_switch`) and a person's reset."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request

from dashboard.deps import ApiAccess, ServicesDep, who
from dashboard.services.killswitch import CONFIRM_WORD, KillSwitchService

router = APIRouter(prefix="/api/killswitch", dependencies=[ApiAccess], tags=["kill-switch"])


def _service(services: Any) -> KillSwitchService:
    return KillSwitchService(lambda: services.settings, services.paths.run_dir)


@router.get("")
async def status(services: ServicesDep) -> dict[str, Any]:
    return _service(services).status()


@router.post("/reset")
async def reset(request: Request, services: ServicesDep, confirm: str = Body("", embed=True)) -> dict[str, Any]:
    if confirm != CONFIRM_WORD:
        raise HTTPException(422, f'confirmation missing: send {{"confirm": "{CONFIRM_WORD}"}} to let every engine '
                                 "open positions again")
    return _service(services).reset(who(request, services))
