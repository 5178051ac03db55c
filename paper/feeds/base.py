"""What every market feed gives the paper venue, and the bar arrays they share.

A feed knows the symbols and their contract specs, produces the market's moves up to a venue time
(`advance`), and serves history as complete base bars (usually 1 minute) from which every kline
interval is aggregated (feeds/klines.py), so a 30m bar always equals its thirty 1m bars.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from paper.engine.specs import SymbolSpec

MIN_MS = 60_000
DAY_MS = 86_400_000
BAR_FIELDS = ("open_time", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy",
              "taker_buy_quote")


@dataclass(slots=True)
class Quote:
    """One observation of a symbol's market, prices in ticks."""
    symbol: str
    time: int
    last_t: int
    mark_t: int
    bid_t: int
    ask_t: int
    bid_qty: float
    ask_qty: float


@dataclass(slots=True)
class BarPath:
    """A whole bar as its price path (ticks), for fast replays: last = mark, touch = price +- spread."""
    symbol: str
    time: int
    points: list[int]
    spread_t: int


@dataclass(frozen=True, slots=True)
class FundingInfo:
    rate: float                 # estimate for the next settlement (premiumIndex lastFundingRate)
    next_time: int
    index_t: int                # index price, ticks
    interest_rate: float = 0.0001


@dataclass(frozen=True, slots=True)
class BookParams:
    gap_t: int                  # ticks between book levels behind the touch
    level_qty: Decimal          # size of the first level behind the touch
    growth: Decimal = Decimal("0.12")


@dataclass(frozen=True, slots=True)
class AggTradeRow:
    agg_id: int
    price_t: int
    qty: float
    first_id: int
    last_id: int
    time: int
    buyer_is_maker: bool


Bars = dict[str, np.ndarray]


def empty_bars() -> Bars:
    out = {k: np.zeros(0, dtype=np.float64) for k in BAR_FIELDS}
    for k in ("open_time", "open", "high", "low", "close", "trades"):
        out[k] = np.zeros(0, dtype=np.int64)
    return out


def concat_bars(parts: list[Bars]) -> Bars:
    parts = [p for p in parts if len(p["open_time"])]
    if not parts:
        return empty_bars()
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in BAR_FIELDS}


def slice_bars(bars: Bars, start_ms: int, end_ms: int) -> Bars:
    t = bars["open_time"]
    i, j = np.searchsorted(t, start_ms, "left"), np.searchsorted(t, end_ms, "left")
    return {k: v[i:j] for k, v in bars.items()}


class Feed(ABC):
    """A source of market data for the paper venue."""

    name: str = "feed"
    base_ms: int = MIN_MS

    def __init__(self) -> None:
        self.symbols: tuple[str, ...] = ()
        self.specs: dict[str, SymbolSpec] = {}
        self.entries: dict[str, dict] = {}       # exchangeInfo entries
        self.funding_interval_ms = 8 * 3_600_000

    # ------------------------------------------------------------ lifecycle and clock
    async def open(self) -> None:
        """Load or connect (may do I/O)."""

    async def close(self) -> None:
        """Release connections and background tasks."""

    @abstractmethod
    def start_time(self, wall_ms: int) -> int:
        """Venue time at which the clock starts."""

    @property
    def follows_wall_clock(self) -> bool:
        """True when, at speed 1, venue time is the wall clock."""
        return True

    # ------------------------------------------------------------ the moving market
    @abstractmethod
    def advance(self, to_ms: int) -> list[Quote | BarPath]:
        """Market updates in (last call, to_ms], time-ordered per symbol."""

    def settlements(self, t0: int, t1: int) -> list[tuple[str, int, float]]:
        """Funding settlements (symbol, time, rate) in (t0, t1]."""
        out = []
        k0, k1 = t0 // self.funding_interval_ms, t1 // self.funding_interval_ms
        for k in range(k0 + 1, k1 + 1):
            t = k * self.funding_interval_ms
            for symbol in self.symbols:
                out.append((symbol, t, self.settlement_rate(symbol, k)))
        return out

    @abstractmethod
    def settlement_rate(self, symbol: str, k: int) -> float:
        """Funding rate of settlement number k (at k x interval)."""

    def funding(self, symbol: str, now: int, mark_t: int) -> FundingInfo:
        k = now // self.funding_interval_ms + 1
        return FundingInfo(self.settlement_rate(symbol, k), k * self.funding_interval_ms,
                           self.index_ticks(symbol, mark_t, k))

    def index_ticks(self, symbol: str, mark_t: int, k: int) -> int:
        """Index price: the mark less the premium implied by the coming funding rate."""
        rate = self.settlement_rate(symbol, k)
        return max(1, int(round(mark_t * (1.0 - (rate - 0.0001) * 0.5))))

    # ------------------------------------------------------------ history
    @abstractmethod
    def bars(self, symbol: str, start_ms: int, end_ms: int) -> Bars:
        """Complete base bars with open time in [start_ms, end_ms)."""

    def day_bars(self, symbol: str, start_ms: int, end_ms: int) -> Bars | None:
        """Daily summaries, when the feed has a cheaper way than aggregating base bars (else None)."""
        return None

    @abstractmethod
    def first_time(self, symbol: str) -> int:
        """Open time of the earliest bar the feed can serve."""

    def agg_trades(self, symbol: str, start_ms: int, end_ms: int) -> list[AggTradeRow]:
        return []

    @abstractmethod
    def book_params(self, symbol: str, price_t: int) -> BookParams:
        ...

    def describe(self) -> dict:
        """What /paper/info shows about the feed."""
        return {"name": self.name}
