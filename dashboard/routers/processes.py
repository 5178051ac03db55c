"""Start, stop and restart bot, guard and paper exchange; "stop all and flatten"."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from dashboard.actions import start_trading
from dashboard.deps import ApiAccess, ServicesDep, who
from dashboard.services.flatten import CONFIRM_WORD
from dashboard.services.supervisor import SupervisorError

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["processes"])
ACTIONS = ("start", "stop", "restart")


def _known(services: Any, name: str) -> None:
    if not services.supervisor.has(name):
        raise HTTPException(404, f"unknown process {name!r}; known: {', '.join(services.supervisor.names)}")


@router.get("/processes")
async def processes(services: ServicesDep) -> dict[str, Any]:
    return {"mode": "paper" if services.settings.paper else "live",
            "venue_profile": getattr(services.settings, "venue_profile", "aster-v1"),
            "processes": services.supervisor.statuses(), "notices": services.supervisor.notices[-10:]}


@router.get("/{name}/status")
async def status(name: str, services: ServicesDep) -> dict[str, Any]:
    _known(services, name)
    return services.supervisor.status(name)


@router.post("/all/start")
async def start_all(services: ServicesDep) -> dict[str, Any]:
    """The page's Start: paper exchange if needed, the guard, then the bot."""
    return await start_trading(services, with_guard=True)


@router.post("/all/flatten")
async def flatten(request: Request, services: ServicesDep, confirm: str = Body("", embed=True)) -> dict[str, Any]:
    if confirm != CONFIRM_WORD:
        raise HTTPException(422, f'confirmation missing: send {{"confirm": "{CONFIRM_WORD}"}} to close every '
                                 "position at market and stop bot and guard")
    report = await services.flatten.run(who(request, services))
    return report.to_json()


@router.post("/{name}/{action}")
async def act(name: str, action: str, services: ServicesDep,
              guard: bool = Query(True, description="starting the bot also starts the guard")) -> dict[str, Any]:
    _known(services, name)
    if action not in ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    try:
        if name == "bot" and action == "start":
            return await start_trading(services, with_guard=guard)
        result = await getattr(services.supervisor, action)(name)
    except SupervisorError as exc:
        raise HTTPException(500, str(exc)) from None
    return {"status": result, "also_started": []}
