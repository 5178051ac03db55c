"""What the paper exchange behaves like, per venue profile (one profile per running exchange, i.e. per port).

Venue differences are data here; the routes and the engine read these fields instead of asking which
venue they are (binance-algo-orders.md 9.4, aster-v3.md 7):

- `aster-v1`: Aster's V1 API as the paper exchange has always served it (API key + HMAC; conditional
  orders on the order endpoint).
- `aster-v3`: the same market and engine, plus every route under `/fapi/v3/...` authenticated with API-wallet
  (EIP-712) signatures of registered agents, nonces in microseconds within the venue's window and the last
  100 per agent. The V1 routes keep working with HMAC keys, as Aster keeps serving existing V1 keys.
- `binance-usdm`: Binance USD-M: HMAC; STOP/TAKE_PROFIT/TRAILING types refused with -4120 on the order
  endpoints, served by the Algo Service (`/fapi/v1/algoOrder` & co.) with ALGO_UPDATE events; trailing
  callbackRate up to 20 %; at most 200 open algo orders per account; no MAX_NUM_ALGO_ORDERS filter.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PROFILE_NAMES = ("aster-v1", "aster-v3", "binance-usdm")


@dataclass(frozen=True)
class PaperProfile:
    name: str
    v3_auth: bool = False            # /fapi/v3 routes with API-wallet signatures
    algo_service: bool = False       # conditionals only through the Algo Service (-4120 on the order endpoints)
    callback_max: Decimal = Decimal("5")
    algo_cap: int | None = None      # open algo orders per account; None = the per-symbol MAX_NUM_ALGO_ORDERS filter
    algo_filter: bool = True         # exchangeInfo lists MAX_NUM_ALGO_ORDERS


PROFILES = {
    "aster-v1": PaperProfile("aster-v1"),
    "aster-v3": PaperProfile("aster-v3", v3_auth=True),
    "binance-usdm": PaperProfile("binance-usdm", algo_service=True, callback_max=Decimal("20"), algo_cap=200,
                                 algo_filter=False),
}


def profile_of(name: str | None) -> PaperProfile:
    """The profile of a name (aster-v1 when empty); ValueError naming the known ones otherwise."""
    key = (name or "aster-v1").strip().lower().replace("_", "-")
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown paper exchange profile {name!r}; known: {', '.join(PROFILE_NAMES)}") from None
