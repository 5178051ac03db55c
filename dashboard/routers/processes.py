"""Start, stop and restart bot, guard and paper exchange; "stop all and flatten"."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from dashboard.actions import after_close, start_trading
from dashboard.deps import ApiAccess, ServicesDep, who
from dashboard.services.credgate import CredentialsRefused
from dashboard.services.flatten import CONFIRM_WORD
from dashboard.services.supervisor import SupervisorError

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["processes"])
ACTIONS = ("start", "stop", "restart")
ENGINES = ("bot", "guard")      # started only after the live credentials check (paper: no check)


def _known(services: Any, name: str) -> None:
    if not services.supervisor.has(name):
        raise HTTPException(404, f"unknown process {name!r}; known: {', '.join(services.supervisor.names)}")


@router.get("/processes")
async def processes(services: ServicesDep) -> dict[str, Any]:
    return {"mode": "paper" if services.settings.paper else "live",
            "venue_profile": getattr(services.settings, "venue_profile", "aster-v1"),
            "account": services.credentials.status(), "processes": services.supervisor.statuses(), "notices": services.supervisor.notices[-10:]}


@router.get("/{name}/status")
async def status(name: str, services: ServicesDep) -> dict[str, Any]:
    _known(services, name)
    return services.supervisor.status(name)


@router.get("/account")
async def account(services: ServicesDep) -> dict[str, Any]:
    """The account's venue profile and the last credentials check (no secret)."""
    return services.credentials.status()


@router.post("/account/check")
async def account_check(services: ServicesDep) -> dict[str, Any]:
    """Check the live credentials now (one harmless signed read); paper mode: nothing to check."""
    await services.credentials.check(force=True)
    return services.credentials.status()


@router.post("/all/start")
async def start_all(services: ServicesDep) -> dict[str, Any]:
    """The page's Start: paper exchange if needed, the guard, then the bot."""
    try:
        return await start_trading(services, with_guard=True)
    except CredentialsRefused as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/all/flatten")
async def flatten(request: Request, services: ServicesDep, confirm: str = Body("", embed=True)) -> dict[str, Any]:
    if confirm != CONFIRM_WORD:
        raise HTTPException(422, f'confirmation missing: send {{"confirm": "{CONFIRM_WORD}"}} to close every '
                                 "position at market and stop bot and guard")
    report = await services.flatten.run(who(request, services))
    await after_close(services)
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
        if name in ENGINES and action != "stop":
            await services.credentials.require(name)
        result = await getattr(services.supervisor, action)(name)
    except CredentialsRefused as exc:
        raise HTTPException(409, str(exc)) from None
    except SupervisorError as exc:
        raise HTTPException(500, str(exc)) from None
    return {"status": result, "also_started": []}
