"""Controls a trader expects: close one position, pause new entries, force one entry, real sizing."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request

from dashboard.actions import after_close
from dashboard.deps import ApiAccess, ServicesDep, who

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["controls"])
CLOSE_WORD = "CLOSE"
FORCE_WORD = "ENTER"


@router.post("/positions/close")
async def close_position(request: Request, services: ServicesDep, symbol: str = Body(..., embed=True),
                         side: str = Body(..., embed=True), confirm: str = Body("", embed=True)) -> dict[str, Any]:
    """Close one position at market, reduce-only, through the one close routine (mraster/safety/closeout.py)."""
    if confirm != CLOSE_WORD:
        raise HTTPException(422, f'confirmation missing: send "confirm": "{CLOSE_WORD}" to close {symbol} {side} '
                                 "at market")
    side = side.upper()
    if side not in ("LONG", "SHORT"):
        raise HTTPException(422, "side must be LONG or SHORT")
    try:
        out = await services.flatten.close_one(symbol.upper(), side, who(request, services))
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the venue's refusal, said to the page
        raise HTTPException(502, f"the close could not be sent: {type(exc).__name__}: {exc}") from None
    await after_close(services)
    return out


@router.get("/entries")
async def entries(services: ServicesDep) -> dict[str, Any]:
    return {"pause": services.controls.pause_state()}


@router.post("/entries/pause")
async def pause(request: Request, services: ServicesDep, paused: bool = Body(..., embed=True),
                reason: str = Body("", embed=True)) -> dict[str, Any]:
    """Pause (or resume) new entries; the bot keeps reconciling, protecting and managing positions."""
    return {"pause": services.controls.set_pause(paused, who(request, services), reason[:200])}


@router.post("/entries/force")
async def force(request: Request, services: ServicesDep, symbol: str = Body(..., embed=True),
                side: str = Body(..., embed=True), bucket: str = Body("M", embed=True),
                confirm: str = Body("", embed=True)) -> dict[str, Any]:
    """Queue one entry the running bot makes through its normal path, brackets included."""
    if confirm != FORCE_WORD:
        raise HTTPException(422, f'confirmation missing: send "confirm": "{FORCE_WORD}" to open {side} {symbol}')
    if not services.supervisor.has("bot") or not services.supervisor.is_running("bot"):
        raise HTTPException(409, "the bot is not running: start it first (a forced entry goes through the bot, "
                                 "with its stop and take-profit)")
    try:
        return services.controls.force(symbol, side, bucket, who(request, services))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/entries/force/{req_id}")
async def force_status(req_id: str, services: ServicesDep) -> dict[str, Any]:
    return services.controls.force_status(req_id)


@router.get("/sizing")
async def sizing(services: ServicesDep, symbol: str = "") -> dict[str, Any]:
    """The real risk per trade of the current settings and of each preset (the bot's sizing function)."""
    return await services.sizing.report(symbol or None)
