"""Test inputs: a state file built on real candles, a guard status, and an in-memory venue.

The in-memory venue stands in for the exchange client where a real paper exchange cannot be used
(flatten error paths, venue-side failures); it implements only the methods the dashboard calls.
"""
from __future__ import annotations

import csv
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from mraster.domain.types import (
    Kline, Order, OrderRequest, OrderStatus, OrderType, Position, PositionSide, Side,
)
from mraster.state import BotState, StateStore, Trade

DATA = Path(__file__).resolve().parent.parent / "data" / "dashboard"


def candles() -> list[dict[str, float]]:
    with open(DATA / "ADAUSDT_1m_20221213_head300.csv") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def build_state(now_ms: int | None = None) -> BotState:
    """One open ADAUSDT long and two closed trades at real prices, an equity curve, policy data."""
    rows = candles()
    t = lambda i: int(rows[i]["open_time_ms"])  # noqa: E731
    price = lambda i: Decimal(str(rows[i]["close"]))  # noqa: E731
    open_trade = Trade(trade_id="ADAUSDT.lq3k2x1a", symbol="ADAUSDT", side="LONG", status="open", qty=Decimal("400"),
                       entry_price=price(250), entry_time_ms=t(250), stop_price=Decimal("0.3001"),
                       take_profit_price=Decimal("0.3150"), bucket="M", leverage=3, notional=Decimal("122.8"))
    closed = [
        Trade(trade_id="ADAUSDT.lq3k0001", symbol="ADAUSDT", side="SHORT", status="closed", qty=Decimal("300"),
              entry_price=price(40), entry_time_ms=t(40), exit_price=price(90), exit_time_ms=t(90),
              exit_reason="take_profit", realized_pnl=(price(40) - price(90)) * 300, fees=Decimal("0.05"),
              r_multiple=1.2),
        Trade(trade_id="ADAUSDT.lq3k0002", symbol="ADAUSDT", side="LONG", status="closed", qty=Decimal("300"),
              entry_price=price(120), entry_time_ms=t(120), exit_price=price(180), exit_time_ms=t(180),
              exit_reason="stop", realized_pnl=(price(180) - price(120)) * 300, fees=Decimal("0.05"),
              r_multiple=-1.0),
    ]
    equity = [[t(i), 10000 + (float(rows[i]["close"]) - rows[0]["close"]) * 1000] for i in range(0, 300, 10)]
    return BotState(updated_ms=now_ms or int(time.time() * 1000), heartbeat_ms=now_ms or int(time.time() * 1000),
                    pid=0, mode="paper", feed="synthetic (seed 42)", cycle=17,
                    equity={"wallet": "10012.5", "margin_balance": "10020.1"}, equity_curve=equity,
                    open_trades={open_trade.trade_id: open_trade}, closed_trades=closed,
                    policy={"arms": {"S": {"pulls": 12, "mean_reward": 0.1}, "M": {"pulls": 7, "mean_reward": 0.3}}},
                    ai_hints={"ADAUSDT": "momentum fading"},
                    last_scan={"symbols": {"ADAUSDT": {"decision": "hold", "reason": "position open"},
                                           "BTCUSDT": {"decision": "skip", "reason": "spread too wide"}}},
                    client={"used_weight_1m": 120, "limit": 2400})


def write_state(path: Path, state: BotState | None = None) -> BotState:
    state = state or build_state()
    StateStore(path).save(state)
    return state


def guard_status(protected: bool = True, heartbeat_ms: int | None = None) -> dict[str, Any]:
    now = heartbeat_ms or int(time.time() * 1000)
    return {"schema_version": 1, "pid": 4242, "started_ms": now - 60_000, "heartbeat_ms": now, "mode": "paper",
            "stream": {"connected": True, "age_s": 0.4},
            "positions": [{"symbol": "ADAUSDT", "side": "LONG", "qty": "400", "entry_price": "0.307",
                           "stop": {"client_id": "mr-ADAUSDT.lq3k2x1a-SL", "order_id": 11, "price": "0.3001",
                                    "ok": protected},
                           "take_profit": {"client_id": "mr-ADAUSDT.lq3k2x1a-TP", "order_id": 12, "price": "0.315",
                                           "ok": True},
                           "protected": protected}],
            "repairs_total": 2, "recent_actions": [{"time_ms": now - 5000, "symbol": "ADAUSDT",
                                                    "action": "place_stop", "reason": "stop missing"}],
            "last_error": "", "kill_switch": {"enabled": True, "safety_multiple": None, "threshold": 1.2}}


class InMemoryVenue:
    """Positions, orders and candles held in memory; records every order it is sent."""

    def __init__(self, positions: list[Position] | None = None, orders: list[Order] | None = None,
                 fail_close: set[str] = frozenset(), fail_positions: bool = False):
        self._positions = list(positions or [])
        self._orders = list(orders or [])
        self.fail_close = set(fail_close)
        self.fail_positions = fail_positions
        self.placed: list[OrderRequest] = []
        self.cancelled: list[str] = []
        self.closed = False

    async def positions(self, symbol: str | None = None) -> list[Position]:
        if self.fail_positions:
            raise ConnectionError("venue unreachable")
        return [p for p in self._positions if p.amount != 0]

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return list(self._orders)

    async def place_order(self, request: OrderRequest) -> Order:
        self.placed.append(request)
        if request.symbol in self.fail_close:
            raise RuntimeError("-2019 Margin is insufficient")
        self._positions = [p for p in self._positions if p.symbol != request.symbol]
        return Order(symbol=request.symbol, order_id=len(self.placed), client_order_id=request.client_order_id,
                     side=request.side, type=request.type, status=OrderStatus.FILLED,
                     orig_qty=request.quantity or Decimal(0), executed_qty=request.quantity or Decimal(0))

    async def cancel_all(self, symbol: str) -> None:
        self.cancelled.append(symbol)
        self._orders = [o for o in self._orders if o.symbol != symbol]

    async def klines(self, symbol: str, interval: str, limit: int = 500, **_: Any) -> list[Kline]:
        return [Kline(open_time=int(r["open_time_ms"]), open=r["open"], high=r["high"], low=r["low"],
                      close=r["close"], volume=r["volume"], close_time=int(r["open_time_ms"]) + 59_999)
                for r in candles()[-limit:]]

    async def max_leverage(self) -> dict[str, int]:
        """The leverage brackets' maxima (the settings guard-rails ask before a leverage change)."""
        return {"ADAUSDT": 75, "BTCUSDT": 125, "ETHUSDT": 100}

    async def close(self) -> None:
        self.closed = True


def position(symbol: str, amount: str, entry: str, side: PositionSide = PositionSide.BOTH) -> Position:
    return Position(symbol=symbol, position_side=side, amount=Decimal(amount), entry_price=Decimal(entry),
                    mark_price=Decimal(entry), unrealized_pnl=Decimal("1.5"))


def bracket(symbol: str, role: str, order_id: int, stop: str) -> Order:
    return Order(symbol=symbol, order_id=order_id, client_order_id=f"mr-{symbol}.lq3k2x1a-{role}", side=Side.SELL,
                 type=OrderType.STOP_MARKET if role == "SL" else OrderType.TAKE_PROFIT_MARKET,
                 status=OrderStatus.NEW, orig_qty=Decimal("400"), stop_price=Decimal(stop), reduce_only=True)


def held_as_in_state() -> "InMemoryVenue":
    """A venue that holds the position `write_state` and `guard_status` describe (ADAUSDT LONG 400):
    the dashboard shows only what the venue holds (issue 15)."""
    return InMemoryVenue(positions=[Position("ADAUSDT", PositionSide.BOTH, Decimal("400"), Decimal("0.307"),
                                             mark_price=Decimal("0.31"), unrealized_pnl=Decimal("1.2"), leverage=3)])
