"""What the venue lists: symbols with their tick and step, and the chart intervals (the Chart page's pickers)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mraster.settings.schema import KLINE_INTERVALS

from dashboard.deps import ApiAccess, ServicesDep

router = APIRouter(prefix="/api/market", tags=["market"], dependencies=[ApiAccess])


@router.get("/symbols")
async def symbols(services: ServicesDep) -> dict[str, Any]:
    venue = services.state.venue
    if venue is None:
        return {"symbols": [], "intervals": list(KLINE_INTERVALS), "problem": "no venue connection configured"}
    rules = await venue.symbol_rules()
    return {"symbols": rules["data"] or [], "intervals": list(KLINE_INTERVALS), "problem": rules["error"]}
