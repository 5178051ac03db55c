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
            "liquidation_price": float(p.liquidation_price), "margin_type": p.margin_type.value,
            "isolated_margin": float(p.isolated_margin), "notional": float(abs(p.notional)),
            "update_time_ms": p.update_time}


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
    wait_next: bool = False  # after invalidate(): callers wait for the refresh (else: last value at once)


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
        """Last good value (and its age). A stale value starts one refresh in the background and is
        answered at once (many pages polling never queue behind the venue); only a caller with no value
        yet, or after `invalidate()`, waits for the refresh, at most `wait_s`, so an unreachable venue
        never stalls the page."""
        entry = self._cache.setdefault(key, _Cached())
        self._cache.move_to_end(key)
        self._bound_charts()
        if self._clock() - entry.at >= self.ttl and (entry.task is None or entry.task.done()):
            entry.at = self._clock()
            entry.task = asyncio.create_task(self._refresh(entry, fetch))
        if entry.task is not None and not entry.task.done() and (entry.value is None or entry.wait_next):
            try:
                await asyncio.wait_for(asyncio.shield(entry.task), wait_s)
            except asyncio.TimeoutError:
                if entry.value is None and not entry.error:
                    entry.error = "waiting for the venue's answer"
        return {"data": entry.value, "error": entry.error,
                "age_s": None if entry.value is None else round(self._clock() - entry.value_at, 1)}

    def _bound_charts(self) -> None:
        """Weeks of browsing many symbols, intervals and zooms must not grow the cache without end."""
        charts = [k for k in self._cache if k.startswith(("klines:", "costs:"))]
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
            entry.value_at, entry.error, entry.wait_next = self._clock(), "", False
        except ModuleNotFoundError as exc:
            entry.error = f"the exchange client is not available ({exc.name})"
        except Exception as exc:  # shown on the page; the dashboard must keep working
            entry.error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            entry.wait_next = False

    async def client(self) -> Any:
        """The shared exchange client (for the services that act: exit recorder, close, sizing)."""
        return await self._client()

    def invalidate(self, *keys: str) -> None:
        """Ask the venue again at the next read (after a close or a flatten, the old answer is wrong)."""
        for key in keys or ("positions", "orders"):
            entry = self._cache.get(key)
            if entry is not None:
                entry.at, entry.wait_next = -1e9, True

    async def costs(self, symbol: str, since_ms: int, entry_order_id: int | None) -> dict[str, Any]:
        """Fees and funding of an open position so far: its entry fills' commission (and any partial
        exit since), the funding paid or received since its entry."""
        async def fetch(ex: Any) -> dict[str, float]:
            fills = await ex.user_trades(symbol, start_time=since_ms)
            try:
                income = await ex.income(symbol, income_type="FUNDING_FEE", start_time=since_ms)
            except Exception:   # noqa: BLE001 - fees still shown
                income = []
            fees = sum(float(f.commission) for f in fills if f.time >= since_ms)
            return {"fees": round(fees, 8), "funding": round(sum(float(r.income) for r in income), 8)}
        return await self._cached(f"costs:{symbol}:{since_ms}", fetch, QUICK_WAIT)

    async def max_leverage(self) -> dict[str, Any]:
        async def fetch(ex: Any) -> dict[str, int]:
            return dict(await ex.max_leverage())
        return await self._cached("max_leverage", fetch, CALL_TIMEOUT)

    async def account(self) -> dict[str, Any]:
        async def fetch(ex: Any) -> dict[str, float]:
            a = await ex.account()
            return {"wallet": float(a.total_wallet_balance), "margin_balance": float(a.total_margin_balance),
                    "available": float(a.available_balance), "upnl": float(a.total_unrealized_profit)}
        return await self._cached("account", fetch, CALL_TIMEOUT)

    async def rules(self) -> dict[str, Any]:
        async def fetch(ex: Any) -> dict[str, Any]:
            return dict(await ex.symbol_rules())
        return await self._cached("rules", fetch, CALL_TIMEOUT)

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
        async def fetch(ex: Any) -> list[dict[str, Any]]:   # cached apart from rules(): another shape
            rules = await ex.symbol_rules()
            return [{"symbol": r.symbol, "tick_size": str(r.tick_size), "step_size": str(r.step_size),
                     "min_notional": str(r.min_notional), "status": r.status}
                    for r in sorted(rules.values(), key=lambda r: r.symbol)]
        return await self._cached("symbol_list", fetch, CALL_TIMEOUT)


class PaperInfo:
    """`GET <ASTER_PAPER_URL>/paper/info`: the feed in use, venue time and speed (cached)."""

    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._at = -1e9
        self._value: dict[str, Any] = {}
        self._task: asyncio.Task | None = None   # the refresh in flight (kept so it is not collected)

    async def get(self, paper_url: str) -> dict[str, Any]:
        """The last answer; a stale one is refreshed in the background (the first call waits)."""
        if self._clock() - self._at < self.ttl:
            return self._value
        self._at = self._clock()
        task = self._task = asyncio.create_task(self._fetch(paper_url))
        if not self._value:
            await task
        return self._value

    async def _fetch(self, paper_url: str) -> None:
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


async def answers(url: str, timeout: float = 1.0) -> bool:
    """Does a venue answer at `url` (GET /fapi/v1/ping)?"""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(url.rstrip("/") + "/fapi/v1/ping")
        return resp.status_code < 500
    except httpx.HTTPError:
        return False
