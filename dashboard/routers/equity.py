"""Equity per named account and per engine instance, with drawdown (dashboard/services/equity.py)."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.routers.state import fast_json

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["equity"])


@router.get("/equity")
async def equity(services: ServicesDep, account: str = "", engine: str = "") -> Response:
    """No argument: the accounts and engines there are curves of. `account=`: that account's sampled venue
    equity; `engine=`: that instance's cumulative net PnL. Each with its drawdown and maximum drawdown."""
    service = services.equity
    if service is None:
        raise HTTPException(503, "the equity service is not running")
    if account and engine:
        raise HTTPException(422, "ask for one account or one engine, not both")
    try:
        if account:
            return fast_json(service.account_curve(account))
        if engine:
            return fast_json(service.engine_curve(engine))
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    return fast_json(service.listing())
