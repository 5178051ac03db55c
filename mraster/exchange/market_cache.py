"""Live market cache: the latest kline, book ticker, mark/funding, depth 5 and recent trades per symbol.

Kept by five streams per symbol (`kline_1m`, `bookTicker`, `markPrice@1s`, `aggTrade`,
`depth5@100ms`) on combined connections of the existing market-stream client, which seeds every
stream from REST after each (re)connect. Only the first aggTrades window is seeded here (the stream
seeds trades only after a reconnect). Engines read `snapshot()`; the recorder also reads per-second
trade aggregates, per-stream staleness, message counts and reconnects.

Part of the shared library: no application imports. Time: `venue_now_ms()` follows the venue's
event times (the paper exchange's clock can jump forward), falling back to the client's clock.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from mraster.domain.types import (
    AggTrade, AggTradeEvent, BookTicker, BookTickerEvent, DepthEvent, Kline, KlineEvent, MarketEvent, MarkPrice,
    MarkPriceEvent,
)
from mraster.logs import get_logger
from mraster.exchange.errors import ExchangeError
from mraster.exchange.interface import Exchange, MarketStream

log = get_logger("mraster.exchange.market_cache")

KLINE, BOOK, MARK, TRADE, DEPTH = "kline_1m", "bookTicker", "markPrice@1s", "aggTrade", "depth5@100ms"
STREAM_KINDS: tuple[str, ...] = (KLINE, BOOK, MARK, TRADE, DEPTH)
MAX_STREAMS_PER_CONNECTION = 200          # Binance/Aster futures: 200 streams per connection
DEFAULT_STREAMS_PER_CONNECTION = 100      # 20 symbols x 5 streams: half the limit, room to grow
TRADE_SECONDS_KEPT = 180                  # per-second trade buckets kept per symbol
OFFSET_WINDOW_S = 5.0                     # venue-clock offset = best (least delayed) sample in this window


@dataclass(frozen=True, slots=True)
class Depth5:
    bids: tuple[tuple[float, float], ...]     # best first, at most 5
    asks: tuple[tuple[float, float], ...]
    event_time: int


@dataclass(slots=True)
class TradeSecond:
    """Aggregates of the trades of one venue second (by trade time). Buy = the taker bought."""
    n: int = 0
    qty: float = 0.0
    notional: float = 0.0
    buy_qty: float = 0.0
    sell_qty: float = 0.0
    buy_notional: float = 0.0
    sell_notional: float = 0.0

    def add(self, price: float, qty: float, buyer_is_maker: bool) -> None:
        notional = price * qty
        self.n += 1
        self.qty += qty
        self.notional += notional
        if buyer_is_maker:
            self.sell_qty += qty
            self.sell_notional += notional
        else:
            self.buy_qty += qty
            self.buy_notional += notional

    @property
    def vwap(self) -> float | None:
        return self.notional / self.qty if self.qty > 0 else None


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    symbol: str
    latest_kline_1m: Kline | None
    latest_bbo: BookTicker | None
    latest_funding: MarkPrice | None
    latest_l2: Depth5 | None
    recent_agg_trades: tuple[AggTrade, ...]
    latest_closed_kline_1m: Kline | None = None      # the last bar the venue marked closed (x=true)


@dataclass
class _Symbol:
    kline: Kline | None = None
    closed: Kline | None = None
    bbo: BookTicker | None = None
    funding: MarkPrice | None = None
    l2: Depth5 | None = None
    trades: deque[AggTrade] = field(default_factory=deque)
    seconds: dict[int, TradeSecond] = field(default_factory=dict)
    last_agg_id: int = -1
    last_local: dict[str, float] = field(default_factory=dict)     # kind -> local time of the last update


@dataclass(frozen=True)
class Reconnect:
    local_s: float
    venue_ms: int
    connection: int
    symbols: tuple[str, ...]


def _venue_timed(event: MarketEvent) -> bool:
    """Events whose time is the venue's: the stream's REST seeds of klines, trades and depth carry the
    client's clock instead (a seeded depth has no previous update id), so they never move the venue clock."""
    if isinstance(event, (MarkPriceEvent, BookTickerEvent)):
        return True
    return isinstance(event, DepthEvent) and event.prev_final_update_id != 0


def stream_names_for(symbols: Iterable[str]) -> list[str]:
    return [f"{s.lower()}@{k}" for s in symbols for k in STREAM_KINDS]


def connection_groups(symbols: Sequence[str], streams_per_connection: int = DEFAULT_STREAMS_PER_CONNECTION
                      ) -> list[list[str]]:
    """Symbols per connection: all five streams of a symbol on one connection, within the venue's limit."""
    if not 1 <= streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
        raise ValueError(f"streams per connection must be 1..{MAX_STREAMS_PER_CONNECTION}")
    per = max(1, streams_per_connection // len(STREAM_KINDS))
    return [list(symbols[i:i + per]) for i in range(0, len(symbols), per)]


class MarketCache:
    def __init__(self, client: Exchange, symbols: Sequence[str], *, max_trades: int = 1000,
                 streams_per_connection: int = DEFAULT_STREAMS_PER_CONNECTION, seed_trades: int = 500,
                 clock: Callable[[], float] = time.time):
        symbols = [s.strip().upper() for s in symbols if s.strip()]
        if not symbols:
            raise ValueError("the market cache needs at least one symbol")
        self.client = client
        self.symbols = list(dict.fromkeys(symbols))
        self.groups = connection_groups(self.symbols, streams_per_connection)
        self._clock = clock
        self._max_trades = max_trades
        self._seed_trades = seed_trades
        self._state = {s: _Symbol(trades=deque(maxlen=max_trades)) for s in self.symbols}
        self.counts = {k: 0 for k in STREAM_KINDS}           # events applied per stream kind (live + seeds)
        self.reconnects: list[Reconnect] = []
        self._streams: list[MarketStream] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._offset_samples: deque[tuple[float, int]] = deque()     # (local s, venue - local ms), max first
        self._last_venue_ms = 0
        self._closing = False
        self.started_local = clock()

    # ------------------------------------------------------------------ time
    def venue_now_ms(self) -> int:
        """The venue's clock: local time + the least delayed (largest) event-time offset of the last few
        seconds; before any event, the client's synced clock. Never runs backwards."""
        local = self._clock()
        samples = self._offset_samples
        while samples and local - samples[0][0] > OFFSET_WINDOW_S and len(samples) > 1:
            samples.popleft()
        now = int(local * 1000) + samples[0][1] if samples else self.client.now_ms()
        if now < self._last_venue_ms:
            return self._last_venue_ms
        self._last_venue_ms = now
        return now

    def _observe(self, event_ms: int, local: float) -> None:
        if event_ms <= 0:
            return
        sample = event_ms - int(local * 1000)
        samples = self._offset_samples
        while samples and samples[-1][1] <= sample:     # monotonic deque: the front is the window's max
            samples.pop()
        samples.append((local, sample))

    # ------------------------------------------------------------------ events
    def apply(self, event: MarketEvent, local: float | None = None, *, live: bool = True) -> None:
        """Fold one stream event into the cache (pure: no I/O). `live` events move the venue clock."""
        local = self._clock() if local is None else local
        if isinstance(event, BookTickerEvent):
            st, kind = self._state.get(event.ticker.symbol), BOOK
            if st is None:
                return
            st.bbo = event.ticker
        elif isinstance(event, DepthEvent):
            st, kind = self._state.get(event.symbol), DEPTH
            if st is None:
                return
            st.l2 = Depth5(tuple(event.bids[:5]), tuple(event.asks[:5]), event.event_time)
        elif isinstance(event, MarkPriceEvent):
            st, kind = self._state.get(event.mark.symbol), MARK
            if st is None:
                return
            st.funding = event.mark
        elif isinstance(event, KlineEvent):
            st, kind = self._state.get(event.symbol), KLINE
            if st is None or event.interval != "1m":
                return
            if st.kline is None or event.kline.open_time >= st.kline.open_time:
                st.kline = event.kline
            if event.kline.closed and (st.closed is None or event.kline.open_time >= st.closed.open_time):
                st.closed = event.kline         # kept: the next bar's first update follows within ms
        elif isinstance(event, AggTradeEvent):
            t = event.trade
            st, kind = self._state.get(t.symbol), TRADE
            if st is None or t.agg_id <= st.last_agg_id:
                return
            st.last_agg_id = t.agg_id
            st.trades.append(t)
            sec = t.time // 1000 * 1000
            bucket = st.seconds.get(sec)
            if bucket is None:
                bucket = st.seconds[sec] = TradeSecond()
                if len(st.seconds) > TRADE_SECONDS_KEPT:
                    for old in sorted(st.seconds)[:len(st.seconds) - TRADE_SECONDS_KEPT]:
                        del st.seconds[old]
            bucket.add(t.price, t.qty, t.buyer_is_maker)
        else:
            return
        st.last_local[kind] = local
        self.counts[kind] += 1
        if live and _venue_timed(event):
            self._observe(event.event_time, local)

    # ------------------------------------------------------------------ reading
    def snapshot(self, symbol: str) -> SymbolSnapshot:
        st = self._state[symbol]
        return SymbolSnapshot(symbol, st.kline, st.bbo, st.funding, st.l2, tuple(st.trades), st.closed)

    def trade_second(self, symbol: str, second_ms: int) -> TradeSecond:
        """Trades whose time falls in [second_ms, second_ms + 1000); empty when there were none."""
        return self._state[symbol].seconds.get(second_ms) or TradeSecond()

    def staleness(self, symbol: str | None = None) -> dict[str, dict[str, float | None]]:
        """Seconds since each stream of each symbol last updated the cache (None: never)."""
        now = self._clock()
        out: dict[str, dict[str, float | None]] = {}
        for s in ([symbol] if symbol else self.symbols):
            last = self._state[s].last_local
            out[s] = {k: (round(max(0.0, now - last[k]), 3) if k in last else None) for k in STREAM_KINDS}
        return out

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Seed recent trades over REST, then open one combined connection per group of symbols."""
        try:
            await self.client.sync_time()
        except ExchangeError as exc:
            log.warning("cache.time_sync_failed", f"venue time not synced ({exc}); event times will set it")
        await self._seed_trades_once()
        for group in self.groups:
            stream = self.client.market_stream(stream_names_for(group))
            self._streams.append(stream)
            self._tasks.append(asyncio.create_task(self._consume(stream, tuple(group)),
                                                   name=f"market-cache-{group[0]}"))

    async def _seed_trades_once(self) -> None:
        if self._seed_trades <= 0:
            return
        gate = asyncio.Semaphore(8)

        async def one(symbol: str) -> None:
            async with gate:
                try:
                    trades = await self.client.agg_trades(symbol, limit=self._seed_trades)
                except ExchangeError as exc:
                    log.warning("cache.seed_failed", f"{symbol}: recent trades not seeded ({exc})", symbol=symbol)
                    return
            now = self.client.now_ms()
            for t in trades:
                self.apply(AggTradeEvent(t, now), live=False)

        await asyncio.gather(*(one(s) for s in self.symbols))

    async def _consume(self, stream: MarketStream, symbols: tuple[str, ...]) -> None:
        seen = 0
        try:
            async for event in stream:
                conns = getattr(stream, "connections", 0)
                if conns != seen:
                    if seen:
                        self.reconnects.append(Reconnect(self._clock(), self.venue_now_ms(), conns, symbols))
                        log.warning("cache.reconnected", f"market connection for {len(symbols)} symbol(s) "
                                    f"reconnected (#{conns}); streams re-seeded from REST", connection=conns)
                    seen = conns
                self.apply(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            if not self._closing:
                log.exception("cache.consumer_failed", f"market cache consumer for {symbols[0]}.. stopped")
                raise

    def healthy(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def close(self) -> None:
        """Close every connection with a close frame (no 1006 noise), then end the consumers."""
        self._closing = True
        for stream in self._streams:
            try:
                await stream.close()
            except Exception:         # closing must always finish
                log.exception("cache.close_failed", "a market connection did not close cleanly")
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=3.0)
            for t in pending:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
