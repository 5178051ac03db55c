"""The one way bot, guard and recorder talk to a venue.

Implementations: `BinanceCompatibleClient` (any Binance-compatible base URL:
Aster, Binance, or the local paper exchange, which speaks the same wire API).
The account's venue profile (`profiles.py`: aster-v1, aster-v3, binance-usdm)
decides the wire: paths, signing, and where conditional orders go (Binance's
Algo Service included); callers use the same methods whatever the profile.
Everything in and out is a domain type from `mraster.domain`; no raw dicts.
Errors are the tree in `mraster.exchange.errors`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal
from typing import AsyncIterator, Sequence

from mraster.domain.rules import SymbolRules
from mraster.domain.types import (
    AccountInfo, AggTrade, Balance, BookTicker, ClientStatus, DepthSnapshot, IncomeRecord, Kline,
    KlinesStatus, LeverageInfo, MarginType, MarketEvent, MarkPrice, Order, OrderRequest, Position, Ticker24h,
    UserEvent, UserTrade,
)


class UserStream(ABC):
    """User-data events in order of arrival. Reconnects by itself; after every (re)connect it yields a
    `StreamResynced` with a REST snapshot, so a gap is never silent."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[UserEvent]: ...

    @abstractmethod
    async def close(self) -> None: ...

    @property
    @abstractmethod
    def age_s(self) -> float:
        """Seconds since the last message (or connect); large means the stream may be dead."""


class MarketStream(ABC):
    """Combined market streams, e.g. ["btcusdt@kline_5m", "btcusdt@bookTicker"]. Reconnects and
    resubscribes by itself; `staleness()` gives each stream's age of last message in seconds."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[MarketEvent]: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def staleness(self) -> dict[str, float]: ...


class Exchange(ABC):
    # ------------------------------------------------------------ time / status
    @abstractmethod
    def now_ms(self) -> int:
        """Best estimate of the venue's clock (local clock + measured offset)."""

    @abstractmethod
    async def sync_time(self) -> int:
        """Measure the venue clock offset; returns the offset in ms."""

    @abstractmethod
    def status(self) -> ClientStatus: ...

    @abstractmethod
    async def close(self) -> None: ...

    # -------------------------------------------------------------- market data
    @abstractmethod
    async def symbol_rules(self, refresh: bool = False) -> dict[str, SymbolRules]: ...

    @abstractmethod
    async def klines(self, symbol: str, interval: str, limit: int = 500, start_time: int | None = None,
                     end_time: int | None = None) -> list[Kline]: ...

    def klines_status(self, symbol: str, interval: str) -> KlinesStatus | None:
        """Freshness of the klines last returned for (symbol, interval): whether they came from a stale cache
        because the venue was unreachable, and how old they were. None if unknown (not abstract: optional)."""
        return None

    @abstractmethod
    async def book_ticker(self, symbol: str) -> BookTicker: ...

    @abstractmethod
    async def book_tickers(self) -> dict[str, BookTicker]: ...

    @abstractmethod
    async def mark_price(self, symbol: str) -> MarkPrice: ...

    @abstractmethod
    async def mark_prices(self) -> dict[str, MarkPrice]: ...

    @abstractmethod
    async def tickers_24h(self) -> list[Ticker24h]: ...

    @abstractmethod
    async def depth(self, symbol: str, limit: int = 5) -> DepthSnapshot: ...

    @abstractmethod
    async def agg_trades(self, symbol: str, limit: int = 500, start_time: int | None = None,
                         end_time: int | None = None) -> list[AggTrade]: ...

    # ------------------------------------------------------------------ account
    @abstractmethod
    async def balances(self) -> list[Balance]: ...

    @abstractmethod
    async def account(self) -> AccountInfo: ...

    @abstractmethod
    async def positions(self, symbol: str | None = None) -> list[Position]:
        """Non-flat positions only."""

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    @abstractmethod
    async def get_order(self, symbol: str, *, order_id: int | None = None,
                        client_order_id: str | None = None) -> Order:
        """Raises UnknownOrderError when the venue does not know it."""

    @abstractmethod
    async def place_order(self, request: OrderRequest) -> Order:
        """Place one order. Never doubles it: after a timeout or 5xx the client looks the order up by
        its client id before trying again, and when an open order already has this client id (-4116)
        the resting order is returned instead of a second one being placed."""

    @abstractmethod
    async def cancel_order(self, symbol: str, *, order_id: int | None = None,
                           client_order_id: str | None = None) -> Order: ...

    @abstractmethod
    async def cancel_all(self, symbol: str) -> None: ...

    @abstractmethod
    async def set_leverage(self, symbol: str, leverage: int) -> LeverageInfo: ...

    @abstractmethod
    async def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        """Idempotent: 'no need to change' counts as success."""

    @abstractmethod
    async def set_position_mode(self, hedge: bool) -> None:
        """Idempotent: 'no need to change' counts as success."""

    @abstractmethod
    async def get_position_mode(self) -> bool:
        """True when the account is in hedge (dual-side) mode."""

    @abstractmethod
    async def user_trades(self, symbol: str, start_time: int | None = None, end_time: int | None = None,
                          limit: int = 500, from_id: int | None = None) -> list[UserTrade]: ...

    @abstractmethod
    async def income(self, symbol: str | None = None, income_type: str | None = None,
                     start_time: int | None = None, end_time: int | None = None,
                     limit: int = 1000) -> list[IncomeRecord]: ...

    @abstractmethod
    async def commission_rate(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates."""

    # ------------------------------------------------------------------ streams
    @abstractmethod
    def user_stream(self) -> UserStream: ...

    @abstractmethod
    def market_stream(self, streams: Sequence[str]) -> MarketStream: ...
