"""The trade history: paging, filters and CSV (dashboard/services/trades.py)."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from dashboard.deps import ApiAccess, ServicesDep
from dashboard.routers.state import fast_json
from dashboard.services.trades import MAX_LIMIT, TradeFilter

router = APIRouter(prefix="/api", dependencies=[ApiAccess], tags=["trades"])


def _filter(engine: str, account: str, symbol: str, side: str, reason: str, start_ms: int | None,
            end_ms: int | None) -> TradeFilter:
    if side and side.upper() not in ("LONG", "SHORT"):
        raise HTTPException(422, "side must be LONG or SHORT")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise HTTPException(422, "end_ms must be after start_ms")
    return TradeFilter(engine, account, symbol, side, reason, start_ms, end_ms)


@router.get("/trades")
async def trades(services: ServicesDep, offset: int = 0, limit: int = 50, engine: str = "", account: str = "",
                 symbol: str = "", side: str = "", reason: str = "", start_ms: int | None = None,
                 end_ms: int | None = None) -> Response:
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise HTTPException(422, f"offset must be >= 0 and limit from 1 to {MAX_LIMIT}")
    flt = _filter(engine, account, symbol, side, reason, start_ms, end_ms)
    return fast_json({**services.trades.page(flt, offset, limit), "recorder_error": services.exits.last_error})


@router.get("/trades.csv")
async def trades_csv(services: ServicesDep, engine: str = "", account: str = "", symbol: str = "", side: str = "",
                     reason: str = "", start_ms: int | None = None, end_ms: int | None = None) -> Response:
    flt = _filter(engine, account, symbol, side, reason, start_ms, end_ms)
    return Response(services.trades.csv(flt), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="mraster_trades.csv"'})
