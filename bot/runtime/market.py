"""Market data for one cycle: closed candles (fetched only when a new bar has closed), tickers,
book tickers, mark prices and symbol rules, fetched concurrently with bounded concurrency.

Closed means `close_time < venue now` (the forming bar is dropped using venue time).
Stale means the last closed bar is older than its interval plus ASTER_STALE_GRACE_S, or the exchange
client served the candles from its cache because the venue was unreachable (`Exchange.klines_status`):
the cycle then blocks entries on that symbol (`stale_data`), while exits and protection go on.
The store keeps each (symbol, interval) series; a cycle asks the venue again only
when the next bar should have closed, and then only for the missing tail, so a
20-second loop on 5m candles costs one small klines request per symbol every 5 minutes.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

from mraster.domain.rules import SymbolRules
from mraster.domain.types import BookTicker, Kline, KlinesStatus, MarkPrice, Ticker24h
from mraster.exchange.interface import Exchange
from mraster.logs import get_logger
from mraster.signals.signals import Candles

log = get_logger("bot.market")

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "M": 28 * 86_400_000}
MAX_LIMIT = 1500
CONCURRENCY = 16
TICKERS_TTL_S = 300.0
RULES_TTL_S = 600.0


def interval_ms(interval: str) -> int:
    """Length of a kline interval in ms ("1M" counts as 28 days: the shortest month, so no bar is missed)."""
    try:
        return int(interval[:-1]) * _UNIT_MS[interval[-1]]
    except (KeyError, ValueError):
        raise ValueError(f"unknown kline interval {interval!r}") from None


def closed_only(klines: Iterable[Kline], now_ms: int) -> list[Kline]:
    return [k for k in klines if k.close_time < now_ms]


def staleness(bars: list[Kline], interval: str, now_ms: int, grace_ms: int,
              status: KlinesStatus | None = None) -> str | None:
    """Why these closed bars are too old to trade on, or None. The newest closed bar may be up to one
    interval old (the next one is still forming) plus the grace for the venue to publish it."""
    if status is not None and status.stale:
        return f"{interval} candles served from the cache, {status.age_s:.0f} s old (venue unreachable)"
    if not bars:
        return None
    age_ms = now_ms - bars[-1].close_time
    limit_ms = interval_ms(interval) + grace_ms
    if age_ms > limit_ms:
        return f"last closed {interval} bar is {age_ms / 1000:.0f} s old (limit {limit_ms / 1000:.0f} s)"
    return None


@dataclass
class _Series:
    bars: list[Kline] = field(default_factory=list)
    fetched_ms: int = 0
    arrays: Candles | None = None        # numpy view of `bars`, rebuilt only when they change


class CandleStore:
    """Closed candles per (symbol, interval), refreshed incrementally."""

    def __init__(self, exchange: Exchange):
        self.exchange = exchange
        self._series: dict[tuple[str, str], _Series] = {}
        self.requests = 0

    def _due(self, s: _Series, step: int, now_ms: int, limit: int) -> int:
        """How many bars to request (0 = nothing new can have closed)."""
        if len(s.bars) < limit:
            return min(limit + 1, MAX_LIMIT)
        last = s.bars[-1]
        if now_ms <= last.close_time + step:
            return 0
        missing = (now_ms - last.close_time) // step + 2
        return int(min(max(missing, 2), MAX_LIMIT))

    async def closed(self, symbol: str, interval: str, limit: int, now_ms: int) -> list[Kline]:
        key = (symbol, interval)
        s = self._series.setdefault(key, _Series())
        step = interval_ms(interval)
        want = self._due(s, step, now_ms, limit)
        if want:
            self.requests += 1
            fresh = closed_only(await self.exchange.klines(symbol, interval, limit=want), now_ms)
            bars = (_merge(s.bars, fresh, step) if want <= limit else fresh)[-limit:]
            if [k.open_time for k in bars[-2:]] != [k.open_time for k in s.bars[-2:]] or len(bars) != len(s.bars):
                s.arrays = Candles.from_klines(bars)      # converted while other requests are in flight
            s.bars = bars
            s.fetched_ms = now_ms
        return s.bars

    def arrays(self, symbol: str, interval: str) -> Candles:
        """The stored closed candles as arrays (converted once per new bar, when they arrive)."""
        s = self._series.get((symbol, interval)) or _Series()
        if s.arrays is None:
            s.arrays = Candles.from_klines(s.bars)
        return s.arrays

    def bars(self, symbol: str, interval: str) -> list[Kline]:
        s = self._series.get((symbol, interval))
        return s.bars if s is not None else []

    def forget(self, keep: set[str]) -> None:
        for key in [k for k in self._series if k[0] not in keep]:
            del self._series[key]


def _merge(old: list[Kline], new: list[Kline], step: int) -> list[Kline]:
    """Old bars plus new ones by open time; a gap between them means the new fetch was too short,
    so only the new bars are kept (the next cycle refills the history)."""
    if not new:
        return old
    if old and new[0].open_time > old[-1].open_time + step:
        return new
    by_time = {k.open_time: k for k in old}
    by_time.update((k.open_time, k) for k in new)
    return [by_time[t] for t in sorted(by_time)]


@dataclass
class MarketSnapshot:
    now_ms: int
    rules: dict[str, SymbolRules]
    tickers: list[Ticker24h]
    books: dict[str, BookTicker]
    marks: dict[str, MarkPrice]
    candles: dict[str, tuple[list[Kline], list[Kline]]]     # symbol -> (interval bars, HTF bars)
    problems: dict[str, str] = field(default_factory=dict)  # symbol -> why candles are missing


class MarketData:
    """Per-process caches of the slow-changing venue data, and the cycle's fetch."""

    def __init__(self, exchange: Exchange, clock: Callable[[], float] = time.monotonic):
        self.exchange = exchange
        self.candles = CandleStore(exchange)
        self._clock = clock
        self._tickers: tuple[float, list[Ticker24h]] | None = None
        self._rules: tuple[float, dict[str, SymbolRules]] | None = None

    async def rules(self) -> dict[str, SymbolRules]:
        now = self._clock()
        if self._rules is None or now - self._rules[0] > RULES_TTL_S:
            self._rules = (now, await self.exchange.symbol_rules(refresh=self._rules is not None))
        return self._rules[1]

    async def tickers(self) -> list[Ticker24h]:
        now = self._clock()
        if self._tickers is None or now - self._tickers[0] > TICKERS_TTL_S:
            self._tickers = (now, await self.exchange.tickers_24h())
        return self._tickers[1]

    async def fetch_candles(self, symbols: Iterable[str], interval: str, htf_interval: str, limit: int,
                            now_ms: int) -> tuple[dict[str, tuple[list[Kline], list[Kline]]], dict[str, str]]:
        sem = asyncio.Semaphore(CONCURRENCY)
        bars: dict[tuple[str, str], list[Kline]] = {}
        problems: dict[str, str] = {}

        async def one(symbol: str, iv: str) -> None:
            try:
                async with sem:
                    bars[(symbol, iv)] = await self.candles.closed(symbol, iv, limit, now_ms)
            except Exception as exc:  # noqa: BLE001 - one symbol's failure must not stop the scan
                problems[symbol] = f"{iv} klines: {type(exc).__name__}: {exc}"
        wanted = list(dict.fromkeys(symbols))
        await asyncio.gather(*(one(s, iv) for s in wanted for iv in dict.fromkeys((interval, htf_interval))))
        out = {s: (bars[(s, interval)], bars[(s, htf_interval)]) for s in wanted
               if (s, interval) in bars and (s, htf_interval) in bars}
        return out, problems

    def stale_symbols(self, symbols: Iterable[str], intervals: Iterable[str], now_ms: int,
                      grace_s: float) -> dict[str, str]:
        """symbol -> why its candles are too old to enter on (see `staleness`)."""
        out: dict[str, str] = {}
        for symbol in symbols:
            reasons = [r for iv in dict.fromkeys(intervals)
                       if (r := staleness(self.candles.bars(symbol, iv), iv, now_ms, int(grace_s * 1000),
                                          self.exchange.klines_status(symbol, iv)))]
            if reasons:
                out[symbol] = "; ".join(reasons)
        return out

    async def books_and_marks(self) -> tuple[dict[str, BookTicker], dict[str, MarkPrice]]:
        books, marks = await asyncio.gather(self.exchange.book_tickers(), self.exchange.mark_prices())
        return books, marks


async def gather_dict(calls: dict[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    """Run named calls concurrently; a failure is returned as the exception object, not raised."""
    names = list(calls)
    results = await asyncio.gather(*(calls[n]() for n in names), return_exceptions=True)
    return dict(zip(names, results))
