""""Stop all and flatten": stop the bot, close every position, cancel open orders, stop the guard.

The order of the steps is chosen so a position is never left without its stop:
each position is closed at market first and only then are that symbol's orders
(its brackets) cancelled. If a close fails, the symbol's brackets stay and the
guard keeps running; the report says exactly what happened and what is left.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

from bot.domain.ids import Role, client_order_id, trade_id_for_adopted
from bot.domain.types import OrderRequest, OrderType, PositionSide
from bot.logs import get_logger
from bot.state import BotState

from .supervisor import Supervisor

log = get_logger("dashboard.flatten")
CONFIRM_WORD = "FLATTEN"


@dataclass
class FlattenReport:
    steps: list[str] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    cancelled_symbols: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    remaining_positions: list[dict[str, Any]] = field(default_factory=list)
    guard_stopped: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.remaining_positions

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "steps": self.steps, "closed": self.closed,
                "cancelled_symbols": self.cancelled_symbols, "errors": self.errors,
                "remaining_positions": self.remaining_positions, "guard_stopped": self.guard_stopped}


def close_request(position: Any, trade_id: str) -> OrderRequest:
    """A market order that only reduces: reduce-only in one-way mode; in hedge mode the position
    side names the leg (the venue refuses reduceOnly there)."""
    hedge = position.position_side is not PositionSide.BOTH
    return OrderRequest(symbol=position.symbol, side=position.exit_side, type=OrderType.MARKET,
                        client_order_id=client_order_id(trade_id, Role.CLOSE), quantity=position.qty,
                        reduce_only=not hedge, position_side=position.position_side)


def trade_id_for(position: Any, state: BotState | None) -> str:
    """The bot's trade id when it knows the position, so the close is recorded on that trade."""
    if state is not None:
        side = "LONG" if position.is_long else "SHORT"
        for trade in state.open_trades.values():
            if trade.symbol == position.symbol and trade.side == side and trade.status != "closed":
                return trade.trade_id
    return trade_id_for_adopted(position.symbol, position.position_side.value)


class FlattenService:
    def __init__(self, supervisor: Supervisor, exchange_factory: Callable[[], Any],
                 read_state: Callable[[], BotState | None]):
        self.supervisor = supervisor
        self._exchange_factory = exchange_factory
        self._read_state = read_state
        self._lock = asyncio.Lock()

    async def run(self, who: str) -> FlattenReport:
        async with self._lock:
            report = FlattenReport()
            log.warning("flatten.start", f"stop all and flatten requested by {who}", who=who, activity=True)
            if self.supervisor.has("bot"):
                await self.supervisor.stop("bot")
                report.steps.append("bot stopped")
            try:
                exchange = self._exchange_factory()
            except Exception as exc:
                report.errors.append(f"no exchange client: {type(exc).__name__}: {exc}")
                report.steps.append("guard left running: positions could not be checked")
                self._log_end(report)
                return report
            try:
                await self._flatten(exchange, report)
            finally:
                try:
                    await exchange.close()
                except Exception:
                    pass
            if report.ok and self.supervisor.has("guard"):
                await self.supervisor.stop("guard")
                report.guard_stopped = True
                report.steps.append("guard stopped: no position left")
            elif not report.ok:
                report.steps.append("guard left running to protect what is left")
            self._log_end(report)
            return report

    async def _flatten(self, exchange: Any, report: FlattenReport) -> None:
        state = self._read_state()
        try:
            positions = await exchange.positions()
        except Exception as exc:
            report.errors.append(f"could not read positions: {type(exc).__name__}: {exc}")
            return
        report.steps.append(f"{len(positions)} open position(s) found")
        failed_symbols: set[str] = set()
        for position in positions:
            request = close_request(position, trade_id_for(position, state))
            try:
                order = await exchange.place_order(request)
                report.closed.append({"symbol": position.symbol, "qty": str(position.qty),
                                      "side": request.side.value, "client_order_id": request.client_order_id,
                                      "status": getattr(getattr(order, "status", None), "value", "")})
            except Exception as exc:
                failed_symbols.add(position.symbol)
                report.errors.append(f"{position.symbol}: close failed ({type(exc).__name__}: {exc}); "
                                     "its stop and take-profit were kept")
        try:
            orders = await exchange.open_orders()
        except Exception as exc:
            report.errors.append(f"could not list open orders: {type(exc).__name__}: {exc}")
            orders = []
        for symbol in sorted({o.symbol for o in orders} | {p.symbol for p in positions}):
            if symbol in failed_symbols:
                continue
            try:
                await exchange.cancel_all(symbol)
                report.cancelled_symbols.append(symbol)
            except Exception as exc:
                report.errors.append(f"{symbol}: cancelling open orders failed ({type(exc).__name__}: {exc})")
        try:
            left = await exchange.positions()
        except Exception as exc:
            report.errors.append(f"could not re-check positions: {type(exc).__name__}: {exc}")
            return
        report.remaining_positions = [{"symbol": p.symbol, "qty": str(p.amount)} for p in left]

    def _log_end(self, report: FlattenReport) -> None:
        if report.ok:
            log.warning("flatten.done", f"flattened: {len(report.closed)} position(s) closed", activity=True,
                        closed=len(report.closed))
        else:
            log.error("flatten.incomplete", "stop all and flatten did not finish: " + "; ".join(report.errors),
                      activity=True, remaining=report.remaining_positions)
