""""Stop all and flatten": stop the bot, close every position, cancel open orders, stop the guard.

The order of the steps is chosen so a position is never left without its stop:
each position is closed at market first (mraster/safety/closeout.py, the close routine
bot and guard use too: chunks of the market lot maximum) and only then are that
symbol's orders (its brackets) cancelled. If a close fails, the symbol's brackets stay and the
guard keeps running; the report says exactly what happened and what is left.

Every close order (each chunk, each press of the button) carries a client id no earlier order had
(`mraster.domain.ids.FreshIds`, actor `d`): the trade and the CLOSE role as the bot and guard read
them, plus a stamp, so a look-up by id never finds an older order.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable

from mraster.domain.ids import FreshIds, Role, client_order_id, fresh_ids, trade_id_for_adopted
from mraster.domain.types import OrderRequest
from mraster.logs import get_logger
from mraster.safety import closeout
from mraster.state import BotState

from dashboard.services.supervisor import Supervisor

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
    """The whole position as one market order that only reduces (the shared routine's request; the
    flatten itself sends it in chunks of the market lot maximum)."""
    return closeout.close_request(position, client_order_id(trade_id, Role.CLOSE), position.qty)


def trade_id_for(position: Any, state: BotState | None) -> str:
    """The bot's trade id when it knows the position (symbol, position side and direction), so the
    close is recorded on that trade; otherwise the adopted position's id, as the guard uses."""
    trade = closeout.match_trade(state.open_trades.values(), position) if state is not None else None
    if trade is not None:
        return trade.trade_id  # type: ignore[attr-defined]
    return trade_id_for_adopted(position.symbol, position.position_side.value)


def closed_entry(position: Any, result: closeout.CloseResult) -> dict[str, Any]:
    """One closed position in a report: what was closed, at what average price, by which orders."""
    avg = result.avg_price
    return {"symbol": position.symbol, "position_side": position.position_side.value,
            "position": "LONG" if position.is_long else "SHORT", "qty": str(result.closed),
            "side": result.side.value, "entry_price": str(position.entry_price),
            "avg_price": None if avg is None else str(avg),
            "fills": [{"client_order_id": o.client_order_id, "order_id": o.order_id, "status": o.status.value,
                       "qty": str(o.executed_qty), "avg_price": str(o.avg_price)} for o in result.orders],
            "client_order_ids": [o.client_order_id for o in result.orders],
            "orders": len(result.orders), "status": result.orders[-1].status.value}


async def _rules(exchange: Any) -> dict[str, Any]:
    """Symbol rules for the market lot maximum; none known (one order per position) if unreadable."""
    try:
        return dict(await exchange.symbol_rules())
    except Exception:      # noqa: BLE001 - flatten goes on; the venue refuses an oversized order loudly
        return {}


class FlattenService:
    def __init__(self, supervisor: Supervisor, exchange_factory: Callable[[], Any],
                 read_state: Callable[[], BotState | None], ids: FreshIds | None = None):
        self.supervisor = supervisor
        self.ids = ids or fresh_ids("dashboard")
        self.close_ids = fresh_ids("close")       # one position closed from the page: reason manual_close
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
        rules = await _rules(exchange)
        for position in positions:
            trade_id, side = trade_id_for(position, state), position.position_side.value

            def ids(_n: int, t: str = trade_id, s: str = side) -> str:
                return self.ids(t, Role.CLOSE, s)   # a new id per order
            try:
                result = await closeout.close_position(exchange, position, ids, rules=rules.get(position.symbol))
                problem = result.error or ("" if result.done else f"{result.remaining} still held")
            except Exception as exc:       # noqa: BLE001 - any failure: keep this symbol's brackets
                result, problem = None, f"{type(exc).__name__}: {exc}"
            if result is not None and result.orders:
                report.closed.append(closed_entry(position, result))
            if problem:
                failed_symbols.add(position.symbol)
                report.errors.append(f"{position.symbol}: close failed ({problem}); its stop and take-profit "
                                     "were kept")
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

    async def close_one(self, symbol: str, side: str, who: str) -> dict[str, Any]:
        """Close one position (LONG or SHORT of `symbol`) at market, reduce-only, through the one close
        routine; then cancel that symbol's remaining orders (its brackets) once nothing is held. The bot
        and guard keep running: the bot records the exit as `manual_close` (the id's actor letter `c`)."""
        async with self._lock:
            log.warning("position.close_requested", f"close {symbol} {side} requested by {who}", who=who,
                        symbol=symbol, activity=True)
            exchange = self._exchange_factory()
            try:
                return await self._close_one(exchange, symbol, side)
            finally:
                try:
                    await exchange.close()
                except Exception:
                    pass

    async def _close_one(self, exchange: Any, symbol: str, side: str) -> dict[str, Any]:
        positions = [p for p in await exchange.positions(symbol)
                     if not p.is_flat and ("LONG" if p.is_long else "SHORT") == side]
        if not positions:
            raise LookupError(f"the venue holds no {side} position on {symbol}")
        position = positions[0]
        trade_id, pside = trade_id_for(position, self._read_state()), position.position_side.value

        def ids(_n: int) -> str:
            return self.close_ids(trade_id, Role.CLOSE, pside)
        result = await closeout.close_position(exchange, position, ids, rules=(await _rules(exchange)).get(symbol))
        out = {"ok": result.done, "trade_id": trade_id, "closed": closed_entry(position, result) if result.orders
               else None, "remaining": str(result.remaining), "error": result.error, "cancelled": False}
        if result.done and result.remaining <= 0:
            try:
                await exchange.cancel_all(symbol)
                out["cancelled"] = True
            except Exception as exc:      # noqa: BLE001 - the guard also removes brackets of a gone position
                out["error"] = f"closed, but its orders were not cancelled ({type(exc).__name__}: {exc})"
        avg = out["closed"]["avg_price"] if out["closed"] else None
        (log.warning if result.done else log.error)(
            "position.close_done" if result.done else "position.close_failed",
            f"{symbol} {side}: " + (f"closed {result.closed} at {avg}" if result.done else
                                    f"close failed ({result.error or str(result.remaining) + ' still held'})"),
            symbol=symbol, activity=True)
        return out

    def _log_end(self, report: FlattenReport) -> None:
        if report.ok:
            log.warning("flatten.done", f"flattened: {len(report.closed)} position(s) closed", activity=True,
                        closed=len(report.closed))
        else:
            log.error("flatten.incomplete", "stop all and flatten did not finish: " + "; ".join(report.errors),
                      activity=True, remaining=report.remaining_positions)
