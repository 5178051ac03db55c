"""Market-data routes (reference section 6), plus the paper exchange's own `GET /paper/info`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paper.engine.errors import VenueError
from paper.server import KEY, NONE, PaperApp, Raw, Req

if TYPE_CHECKING:
    from paper.market_data import MarketData
    from paper.venue import Venue


def _depth_weight(p: Any) -> int:
    limit = p.int("limit", default=500) or 500
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _kline_weight(p: Any) -> int:
    limit = p.int("limit", default=500) or 500
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def register(app: PaperApp, v: "Venue", d: "MarketData") -> None:
    def one_or_all(req: Req, fn) -> Any:
        symbol = req.params.symbol(required=False)
        if symbol:
            v.spec(symbol)
            return fn(symbol)
        return [fn(s) for s in v.specs]

    def klines(req: Req, volumes: bool = True, param: str = "symbol") -> list[list]:
        p = req.params
        symbol = (p.str(param, True) or "").upper()
        v.spec(symbol)
        interval = p.str("interval", True)
        rows = d.klines(symbol, interval, p.int("startTime"), p.int("endTime"), p.int("limit", default=500))
        if not volumes:                    # mark/index price klines: same layout, no volumes (rows are shared)
            return [[*r[:5], "0", r[6], "0", r[8], "0", "0", "0"] for r in rows]
        return rows

    def info(req: Req) -> dict:
        return v.info()

    pass_through = getattr(v.feed, "pass_through", None)

    def upstream(local):
        """On the live feed, history comes from the venue itself."""
        if pass_through is None:
            return local

        async def forward(req: Req) -> Raw:
            if req.params.get("symbol"):
                _sym(req, v)
            return Raw(*await pass_through(req.path, req.query))
        return forward

    add = app.add
    add("GET", "/fapi/v1/ping", lambda req: {})
    add("GET", "/fapi/v1/time", lambda req: {"serverTime": v.api_now()})
    add("GET", "/fapi/v1/exchangeInfo", lambda req: d.exchange_info())
    add("GET", "/fapi/v1/depth", lambda req: d.depth(_sym(req, v), req.params.int("limit", default=500)),
        weight=_depth_weight)
    add("GET", "/fapi/v1/klines", upstream(klines), weight=_kline_weight)
    add("GET", "/fapi/v1/markPriceKlines", upstream(lambda req: klines(req, volumes=False)), weight=_kline_weight)
    add("GET", "/fapi/v1/indexPriceKlines", lambda req: klines(req, volumes=False, param="pair"), weight=_kline_weight)
    add("GET", "/fapi/v1/premiumIndex", lambda req: one_or_all(req, d.premium_index))
    add("GET", "/fapi/v1/fundingRate", upstream(lambda req: d.funding_rates(
        req.params.symbol(required=False), req.params.int("startTime"), req.params.int("endTime"),
        req.params.int("limit", default=100))))
    add("GET", "/fapi/v1/fundingInfo", lambda req: d.funding_info())
    add("GET", "/fapi/v1/ticker/24hr", lambda req: one_or_all(req, d.ticker_24h),
        weight=lambda p: 1 if p.get("symbol") else 40)
    for path in ("/fapi/v1/ticker/price", "/fapi/v2/ticker/price"):
        add("GET", path, lambda req: one_or_all(req, d.price_ticker), weight=lambda p: 1 if p.get("symbol") else 2)
    add("GET", "/fapi/v1/ticker/bookTicker", lambda req: one_or_all(req, d.book_ticker),
        weight=lambda p: 1 if p.get("symbol") else 2)
    add("GET", "/fapi/v1/aggTrades", upstream(lambda req: d.agg_trades(
        _sym(req, v), req.params.int("fromId"), req.params.int("startTime"), req.params.int("endTime"),
        req.params.int("limit", default=500))), weight=20)
    add("GET", "/fapi/v1/trades", upstream(lambda req: d.recent_trades(_sym(req, v), _limit(req, 500, 1000))))
    add("GET", "/fapi/v1/historicalTrades", lambda req: d.recent_trades(_sym(req, v), _limit(req, 500, 1000)),
        security=KEY, weight=20)
    add("GET", "/paper/info", info, security=NONE)


def _sym(req: Req, v: "Venue") -> str:
    symbol = req.params.symbol()
    v.spec(symbol)
    return symbol


def _limit(req: Req, default: int, maximum: int) -> int:
    limit = req.params.int("limit", default=default)
    if not 1 <= limit <= maximum:
        raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit
