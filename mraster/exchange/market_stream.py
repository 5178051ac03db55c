"""Combined market streams with REST seeding, gap filling and per-stream staleness.

`<ws_base>/stream?streams=a/b/c`. After every (re)connect, while the socket
already buffers live messages, each stream is seeded from REST: the latest
book ticker, mark price and depth; for klines, every bar since the last closed
one we delivered (so a bar that closed while we were disconnected is still
delivered, exactly once); for aggTrades, trades after the last id delivered.
Live messages that repeat what the seed delivered are dropped.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable, Sequence

from mraster.domain.types import (
    AggTradeEvent, BookTickerEvent, DepthEvent, Kline, KlineEvent, MarketEvent, MarkPriceEvent,
)
from mraster.logs import get_logger
from mraster.exchange.errors import ExchangeError, RequestError
from mraster.exchange.interface import MarketStream
from mraster.exchange.wire import WireError
from mraster.exchange.wire_stream import market_events
from mraster.exchange.ws import Opened, Sleep, SocketLoop, StreamOptions

if TYPE_CHECKING:
    from mraster.exchange.client import BinanceCompatibleClient

log = get_logger("mraster.exchange.market_stream")

_SEED_KLINES_LIMIT = 1500
_SEED_KLINES_MAX_PAGES = 20        # 30,000 bars: three weeks of 1m bars
_SEED_CONCURRENCY = 8              # REST snapshots in flight at once after a (re)connect


@dataclass(frozen=True)
class StreamName:
    """`btcusdt@kline_5m` -> symbol BTCUSDT, kind `kline`, arg `5m`."""
    name: str
    symbol: str
    kind: str
    arg: str

    @classmethod
    def parse(cls, raw: str) -> "StreamName":
        sym, sep, rest = raw.strip().partition("@")
        if not sep or not sym or not rest or not sym.isalnum():
            raise RequestError(f"not a per-symbol stream name: {raw!r} (expected e.g. btcusdt@kline_5m)")
        if rest.startswith("kline_"):
            kind, arg = "kline", rest[len("kline_"):]
        else:
            kind, arg = rest.split("@")[0], ""
        return cls(f"{sym.lower()}@{rest}", sym.upper(), kind, arg)

    @property
    def depth_levels(self) -> int:
        digits = self.kind[len("depth"):]
        return int(digits) if digits.isdigit() else 0


class CombinedMarketStream(MarketStream):
    def __init__(self, client: "BinanceCompatibleClient", ws_base: str, streams: Sequence[str],
                 options: StreamOptions, *, clock: Callable[[], float] = time.time, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None):
        if not streams:
            raise RequestError("a market stream needs at least one stream name")
        self._client = client
        self._names = [StreamName.parse(s) for s in dict.fromkeys(streams)]
        if len(self._names) > 200:
            raise RequestError("the venue allows at most 200 streams per connection")
        self._by_name = {n.name: n for n in self._names}
        self._clock = clock
        started = clock()
        self._last_message = {n.name: started for n in self._names}
        self._last_closed_open: dict[str, int] = {}
        self._last_agg_id: dict[str, tuple[int, int]] = {}      # name -> (agg id, trade time)
        path = "/".join(n.name for n in self._names)
        self._loop = SocketLoop(f"market[{len(self._names)}]", self._url_for(ws_base, path), options,
                                clock=clock, sleep=sleep, rng=rng)
        self._iterating = False

    @staticmethod
    def _url_for(ws_base: str, path: str) -> Callable[[], Awaitable[str]]:
        async def url() -> str:
            return f"{ws_base}/stream?streams={path}"
        return url

    @property
    def names(self) -> list[str]:
        return [n.name for n in self._names]

    @property
    def connections(self) -> int:
        return self._loop.connections

    def staleness(self) -> dict[str, float]:
        now = self._clock()
        return {name: max(0.0, now - at) for name, at in self._last_message.items()}

    async def close(self) -> None:
        await self._loop.close()
        self._client._forget_stream(self)

    def __aiter__(self) -> AsyncIterator[MarketEvent]:
        if self._iterating:
            raise RuntimeError("a market stream has one consumer; iterate it once")
        self._iterating = True
        return self._events()

    async def _events(self) -> AsyncIterator[MarketEvent]:
        async for item in self._loop.run():
            if isinstance(item, Opened):
                for event in await self._seed(item):
                    yield event
                continue
            name = item.get("stream") if isinstance(item, dict) else None
            stream = self._by_name.get(name) if name else None
            if stream is None:
                continue                            # subscription acks, unknown streams
            self._last_message[stream.name] = self._clock()
            try:
                events = market_events(item.get("data"))
            except (WireError, KeyError, TypeError, ValueError) as exc:
                log.error("stream.malformed", f"{stream.name}: unreadable message skipped ({exc})", stream=stream.name)
                continue
            for event in events:
                if self._accept(stream, event):
                    yield event

    # ------------------------------------------------------------- seeding
    async def _seed(self, opened: Opened) -> list[MarketEvent]:
        gate = asyncio.Semaphore(_SEED_CONCURRENCY)

        async def one(stream: StreamName) -> list[MarketEvent]:
            async with gate:
                return await self._seed_one(stream)

        results = await asyncio.gather(*(one(n) for n in self._names), return_exceptions=True)
        events: list[MarketEvent] = []
        for stream, result in zip(self._names, results):
            if isinstance(result, ExchangeError):
                gap = "; kline closes or trades since the last delivered one may be missing" \
                    if stream.kind in ("kline", "aggTrade") and opened.connection > 1 else ""
                log.error("stream.seed_failed", f"{stream.name}: REST snapshot failed after {opened.reason}: "
                          f"{result}{gap}", stream=stream.name)
                continue
            if isinstance(result, BaseException):
                raise result
            for event in result:
                if self._accept(stream, event):
                    events.append(event)
        return events

    async def _seed_one(self, stream: StreamName) -> list[MarketEvent]:
        client, now = self._client, self._client.now_ms()
        if stream.kind == "kline":
            last = self._last_closed_open.get(stream.name)
            if last is None:
                rows = await client.fetch_klines(stream.symbol, stream.arg, limit=2)
            else:
                rows = await self._klines_since(stream, last)
            return [KlineEvent(stream.symbol, stream.arg, k, now) for k in rows]
        if stream.kind == "bookTicker":
            ticker = await client.book_ticker(stream.symbol)
            return [BookTickerEvent(ticker, ticker.time or now)]
        if stream.kind.startswith("markPrice"):
            mark = await client.mark_price(stream.symbol)
            return [MarkPriceEvent(mark, mark.time or now)]
        if stream.kind.startswith("depth") and stream.depth_levels:
            snap = await client.depth(stream.symbol, limit=_depth_limit(stream.depth_levels))
            n = stream.depth_levels
            return [DepthEvent(stream.symbol, snap.last_update_id, snap.last_update_id, 0, snap.bids[:n],
                               snap.asks[:n], now, snap.time)]
        if stream.kind == "aggTrade" and stream.name in self._last_agg_id:
            _, last_time = self._last_agg_id[stream.name]
            trades = await client.agg_trades(stream.symbol, limit=1000, start_time=last_time)
            return [AggTradeEvent(t, now) for t in trades]
        return []

    async def _klines_since(self, stream: StreamName, last_open: int) -> list[Kline]:
        """Every bar after `last_open`, page by page (a long outage may span more than one page)."""
        rows: list[Kline] = []
        for _ in range(_SEED_KLINES_MAX_PAGES):
            page = await self._client.fetch_klines(stream.symbol, stream.arg, limit=_SEED_KLINES_LIMIT,
                                                   start_time=last_open + 1)
            rows += page
            if len(page) < _SEED_KLINES_LIMIT or not page[-1].closed:
                break
            last_open = page[-1].open_time
        return rows

    def _accept(self, stream: StreamName, event: MarketEvent) -> bool:
        """Drop what was already delivered: a kline close once only, agg trades once only."""
        if isinstance(event, KlineEvent):
            last = self._last_closed_open.get(stream.name)
            if last is not None and event.kline.open_time <= last:
                return False
            if event.kline.closed:
                self._last_closed_open[stream.name] = event.kline.open_time
            return True
        if isinstance(event, AggTradeEvent):
            last_id = self._last_agg_id.get(stream.name, (-1, 0))[0]
            if event.trade.agg_id <= last_id:
                return False
            self._last_agg_id[stream.name] = (event.trade.agg_id, event.trade.time)
        return True


def _depth_limit(levels: int) -> int:
    """The REST depth endpoint accepts 5, 10, 20, 50, ... levels."""
    for allowed in (5, 10, 20, 50, 100, 500, 1000):
        if levels <= allowed:
            return allowed
    return 1000


def stream_names(symbols: Sequence[str], kinds: Sequence[str]) -> list[str]:
    """Helper: every (symbol, kind) pair as a stream name, e.g. (["BTCUSDT"], ["kline_5m"])."""
    return [f"{s.lower()}@{k}" for s in symbols for k in kinds]

