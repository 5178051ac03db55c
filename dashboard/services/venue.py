"""What the venue itself says (positions, open orders, candles), asked rarely and cached.

The dashboard uses the same exchange client as bot and guard (`make_exchange`),
so paper and live look the same. Every answer is cached for a few seconds: many
open browser tabs do not multiply the request weight. A failure never raises to
the page; it becomes a message next to the last good answer.
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx

from mraster.domain.ids import parse_client_order_id
from mraster.domain.ownership import owner_of

CALL_TIMEOUT = 5.0
CHART_CACHE_MAX = 32  # candle answers kept (symbol x interval x limit); the least recently asked go first
QUICK_WAIT = 0.5  # what a page request waits for a venue refresh before it shows the last answer


def position_json(p: Any) -> dict[str, Any]:
    side = p.position_side.value if p.position_side.value != "BOTH" else ("LONG" if p.amount > 0 else "SHORT")
    return {"symbol": p.symbol, "side": side, "position_side": p.position_side.value, "qty": float(abs(p.amount)),
            "entry_price": float(p.entry_price), "mark_price": float(p.mark_price),
            "unrealized_pnl": float(p.unrealized_pnl), "leverage": p.leverage,
            "liquidation_price": float(p.liquidation_price)}


def order_json(o: Any) -> dict[str, Any]:
    parsed = parse_client_order_id(o.client_order_id)
    return {"symbol": o.symbol, "order_id": o.order_id, "client_order_id": o.client_order_id,
            "owner": owner_of(o.client_order_id),
            "role": parsed[1].name.lower() if parsed else "other", "side": o.side.value,
            "type": o.placed_type.value, "status": o.status.value, "qty": float(o.orig_qty),
            "price": float(o.price), "stop_price": float(o.stop_price), "reduce_only": o.reduce_only,
            "close_position": o.close_position, "time_ms": o.time}


@dataclass
class _Cached:
    value: Any = None
    at: float = -1e9        # last attempt
    value_at: float = 0.0   # last success
    error: str = ""
    task: asyncio.Task | None = None


class VenueReader:
    def __init__(self, settings_getter: Callable[[], Any], *, ttl: float = 5.0,
                 factory: Callable[[Any], Any] | None = None, clock: Callable[[], float] = time.monotonic,
                 chart_cache_max: int = CHART_CACHE_MAX):
        self._settings = settings_getter
        self._factory = factory
        self.ttl = ttl
        self._clock = clock
        self._exchange: Any = None
        self._exchange_key: tuple | None = None
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self.chart_cache_max = chart_cache_max
        self._orphans: set[asyncio.Task] = set()
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        for task in [*(e.task for e in self._cache.values()), *self._orphans]:
            if task is not None and not task.done():
                task.cancel()
        await self._close_exchange()

    async def _close_exchange(self) -> None:
        if self._exchange is not None:
            try:
                await self._exchange.close()
            except Exception:
                pass
            self._exchange = None

    async def _client(self) -> Any:
        s = self._settings()
        key = (s.paper, s.paper_url, s.exchange_base, s.ws_base, s.api_key, s.api_secret)
        async with self._lock:
            if self._exchange is None or key != self._exchange_key:
                await self._close_exchange()
                factory = self._factory
                if factory is None:
                    from mraster.exchange.factory import make_exchange  # built by the exchange engineer
                    factory = make_exchange
                self._exchange = factory(s)
                self._exchange_key = key
                try:  # signed requests are judged by the venue's clock (a paper venue may run faster)
                    await asyncio.wait_for(self._exchange.sync_time(), CALL_TIMEOUT)
                except Exception:
                    pass  # the client resynchronises by itself on a timestamp error
            elif hasattr(self._exchange, "reconfigure"):   # retries, backoff, kline cache: live settings
                from mraster.exchange.factory import apply_live_settings
                apply_live_settings(self._exchange, s)
        return self._exchange

    async def _cached(self, key: str, fetch: Callable[[Any], Awaitable[Any]], wait_s: float) -> dict[str, Any]:
        """Last good value (and its age). A stale value starts one refresh in the background; the
        caller waits for it at most `wait_s`, so an unreachable venue never stalls the page."""
        entry = self._cache.setdefault(key, _Cached())
        self._cache.move_to_end(key)
        self._bound_charts()
        if self._clock() - entry.at >= self.ttl and (entry.task is None or entry.task.done()):
            entry.at = self._clock()
            entry.task = asyncio.create_task(self._refresh(entry, fetch))
        if entry.task is not None and not entry.task.done():
            try:
                await asyncio.wait_for(asyncio.shield(entry.task), wait_s)
            except asyncio.TimeoutError:
                if entry.value is None and not entry.error:
                    entry.error = "waiting for the venue's answer"
        return {"data": entry.value, "error": entry.error,
                "age_s": None if entry.value is None else round(self._clock() - entry.value_at, 1)}

    def _bound_charts(self) -> None:
        """Weeks of browsing many symbols, intervals and zooms must not grow the cache without end."""
        charts = [k for k in self._cache if k.startswith("klines:")]
        for key in charts[:max(0, len(charts) - self.chart_cache_max)]:
            task = self._cache.pop(key).task
            if task is not None and not task.done():   # ends within CALL_TIMEOUT; cancelled at close
                self._orphans.add(task)
                task.add_done_callback(self._orphans.discard)

    @property
    def cached_keys(self) -> list[str]:
        return list(self._cache)

    async def _refresh(self, entry: _Cached, fetch: Callable[[Any], Awaitable[Any]]) -> None:
        try:
            client = await self._client()
            entry.value = await asyncio.wait_for(fetch(client), CALL_TIMEOUT)
            entry.value_at, entry.error = self._clock(), ""
        except ModuleNotFoundError as exc:
            entry.error = f"the exchange client is not available ({exc.name})"
        except Exception as exc:  # shown on the page; the dashboard must keep working
            entry.error = f"{type(exc).__name__}: {exc}"[:300]

    async def positions(self) -> dict[str, Any]:
        async def fetch(ex: Any) -> list[dict[str, Any]]:
            return [position_json(p) for p in await ex.positions()]
        return await self._cached("positions", fetch, QUICK_WAIT)

    async def open_orders(self) -> dict[str, Any]:
        async def fetch(ex: Any) -> list[dict[str, Any]]:
            return [order_json(o) for o in await ex.open_orders()]
        return await self._cached("orders", fetch, QUICK_WAIT)

    async def balances(self) -> dict[str, Any]:
        async def fetch(ex: Any) -> list[dict[str, Any]]:
            return [{"asset": b.asset, "wallet_balance": float(b.wallet_balance),
                     "available_balance": float(b.available_balance),
                     "unrealized_pnl": float(b.cross_unrealized_pnl)}
                    for b in await ex.balances() if b.wallet_balance or b.available_balance]
        return await self._cached("balances", fetch, QUICK_WAIT)

    async def klines(self, symbol: str, interval: str, limit: int, end_ms: int | None = None) -> dict[str, Any]:
        async def fetch(ex: Any) -> list[list[float]]:
            if end_ms is None:
                rows = await ex.klines(symbol, interval, limit=limit)
            else:
                rows = await ex.klines(symbol, interval, limit=limit, end_time=end_ms)
            return [[k.open_time, k.open, k.high, k.low, k.close, k.volume] for k in rows]
        key = f"klines:{symbol}:{interval}:{limit}" + ("" if end_ms is None else f":{end_ms}")
        return await self._cached(key, fetch, CALL_TIMEOUT)

    async def symbol_rules(self) -> dict[str, Any]:
        """Every symbol the venue lists, with its tick and step (the page formats prices to the tick)."""
        async def fetch(ex: Any) -> list[dict[str, Any]]:
            rules = await ex.symbol_rules()
            return [{"symbol": r.symbol, "tick_size": str(r.tick_size), "step_size": str(r.step_size),
                     "min_notional": str(r.min_notional), "status": r.status}
                    for r in sorted(rules.values(), key=lambda r: r.symbol)]
        return await self._cached("rules", fetch, CALL_TIMEOUT)


class PaperInfo:
    """`GET <ASTER_PAPER_URL>/paper/info`: the feed in use, venue time and speed (cached)."""

    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._at = -1e9
        self._value: dict[str, Any] = {}

    async def get(self, paper_url: str) -> dict[str, Any]:
        if self._clock() - self._at < self.ttl:
            return self._value
        try:
            async with httpx.AsyncClient(timeout=1.5) as client:
                resp = await client.get(paper_url.rstrip("/") + "/paper/info")
            if resp.status_code == 200 and isinstance(resp.json(), dict):
                self._value = {"available": True, "info": resp.json()}
            else:
                self._value = {"available": False, "problem": f"the paper exchange answered HTTP {resp.status_code}"}
        except (httpx.HTTPError, ValueError) as exc:
            self._value = {"available": False,
                           "problem": f"no paper exchange answers at {paper_url} ({type(exc).__name__})"}
        self._at = self._clock()
        return self._value


async def answers(url: str, timeout: float = 1.0) -> bool:
    """Does a venue answer at `url` (GET /fapi/v1/ping)?"""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(url.rstrip("/") + "/fapi/v1/ping")
        return resp.status_code < 500
    except httpx.HTTPError:
        return False
