"""What every part of a running bot shares: the venue, the journal, the state and its store."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..exchange.interface import Exchange
from ..journal import Journal
from ..state.model import BotState, Trade
from ..state.store import StateStore
from .market import MarketData
from .orders import OrderExecutor
from .policy_gate import PolicyGate

EQUITY_CURVE_MAX = 2000
NOTICES_MAX = 50


@dataclass
class Runtime:
    exchange: Exchange
    journal: Journal
    orders: OrderExecutor
    policy: PolicyGate
    store: StateStore
    state: BotState
    settings: Any
    market: MarketData
    setup_problems: dict[str, str] = field(default_factory=dict)   # symbol -> why its setup was refused
    stale_symbols: dict[str, str] = field(default_factory=dict)    # symbol -> why its candles are too old
    counters: dict[str, int] = field(default_factory=dict)

    def now_ms(self) -> int:
        return self.exchange.now_ms()

    def save(self) -> None:
        """Atomic write of the whole state (after any journal rows it references)."""
        self.state.updated_ms = self.now_ms()
        self.store.save(self.state)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def notice(self, level: str, text: str) -> None:
        self.state.notices.append({"time_ms": self.now_ms(), "level": level, "msg": text})
        del self.state.notices[:-NOTICES_MAX]

    def open_symbols(self) -> list[str]:
        return [t.symbol for t in self.state.open_trades.values() if t.status != "closed"]

    def move_to_closed(self, trade: Trade) -> None:
        trade.status = "closed"
        self.state.open_trades.pop(trade.trade_id, None)
        self.state.closed_trades.append(trade)
        del self.state.closed_trades[:-max(1, int(self.settings.history_max))]

    def add_equity_point(self, equity: float) -> None:
        self.state.equity_curve.append([self.now_ms(), round(equity, 6)])
        del self.state.equity_curve[:-EQUITY_CURVE_MAX]

    @staticmethod
    def wall_ms() -> int:
        return int(time.time() * 1000)
