"""Reconciliation, run at start and every cycle: make state agree with the venue (the truth).

Executes the pure plan of reconcile_plan.py: closes trades whose position is gone (with the
reason, PnL, fees and funding read from the venue, journalled, and credited to the policy),
resolves pending entries by client id, adopts unknown positions and protects them, and retries the
market close of trades whose close failed (they stay open until the venue shows them flat).

A pending entry is never sent again. It is resolved from the venue only: found by client id and
final -> filled (protected) or dropped; found and still open (accepted, not filled) -> followed,
cancelled once it is older than the patience window; not found -> kept pending until the window has
passed in both venue and wall time, because a venue may process a send late (after a look-up said
"unknown"); a position that appears meanwhile is this entry's fill. The window is the recvWindow
(ASTER_RECV_WINDOW) plus a margin: a request older than that is refused by the venue.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Awaitable, Callable

from mraster.domain.brackets import bracket_prices, stop_crossed
from mraster.domain.ids import Role, trade_id_for_adopted
from mraster.domain.rules import NoValidOrderError, SymbolRules
from mraster.domain.types import Order, OrderStatus, OrderType, Position
from mraster.exchange.errors import ExchangeError, UnknownOrderError
from mraster.logs import get_logger
from mraster.state.model import Trade
from bot.runtime.context import Runtime
from bot.runtime.orders import trade_entry_side
from bot.runtime.reconcile_plan import (Adopt, CloseAgain, Keep, Protect, ResolvePending, TradeGone, may_touch,
                                       own_view, plan_reconcile, protective_orders)
from bot.runtime.closing import SEVEN_DAYS_MS, finalise
from bot.runtime.trading import drop_pending, on_entry_filled

log = get_logger("bot.reconcile")
AtrSource = Callable[[str], Awaitable[float | None]]
PENDING_MARGIN_MS = 5_000           # beyond the recvWindow before a pending entry is judged


@dataclass
class ReconcileReport:
    closed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)     # the venue's positions it worked from

    def to_json(self) -> dict[str, list[str]]:
        return {"closed": self.closed, "adopted": self.adopted, "protected": self.protected,
                "resolved": self.resolved}


async def reconcile(rt: Runtime, rules: dict[str, SymbolRules], atr_of: AtrSource) -> ReconcileReport:
    if "journal" in rt.disk_errors:
        rt.journal.probe(rt.now_ms())           # a success clears the problem and asks for a resync
    if rt.journal_resync_from is not None:
        await resync_journal(rt, rt.journal_resync_from)
    everything, all_orders = await asyncio.gather(rt.exchange.positions(), rt.exchange.open_orders())
    owners = rt.resolve_owners(everything, all_orders)
    positions, orders = own_view(rt.instance, rt.state.open_trades, everything, all_orders, owners)
    plan = plan_reconcile(rt.state.open_trades, positions, orders)
    report = ReconcileReport(positions=everything)     # the account's (margin in use is the account's)
    marks = {p.symbol: p.mark_price for p in positions}
    for action in plan.actions:
        try:
            if isinstance(action, TradeGone):
                await finalise(rt, rt.state.open_trades[action.trade_id], action.why)
                report.closed.append(action.trade_id)
            elif isinstance(action, ResolvePending):
                await resolve_pending(rt, rt.state.open_trades[action.trade_id], action.position, rules)
                report.resolved.append(action.trade_id)
            elif isinstance(action, Keep) and action.qty_changed:
                t = rt.state.open_trades[action.trade_id]
                log.info("position.changed", f"{t.symbol}: venue quantity {action.position.qty} (state had {t.qty})",
                         symbol=t.symbol, trade_id=t.trade_id, qty=action.position.qty)
                t.qty = action.position.qty
                t.updated_ms = rt.now_ms()
            elif isinstance(action, CloseAgain):
                t = rt.state.open_trades[action.trade_id]
                log.warning("close.retry", f"{t.symbol}: retrying the market close ({action.why})", symbol=t.symbol,
                            trade_id=t.trade_id, activity=True)
                if await rt.orders.close_now_or_warn(t, action.why):
                    await finalise(rt, t, "closed after a retried market close")
                    report.closed.append(action.trade_id)
                else:
                    rt.journal.upsert_trade(t)
            elif isinstance(action, Protect):
                t = rt.state.open_trades.get(action.trade_id)
                if t is None:                       # closed by a CloseAgain of this pass
                    continue
                await protect(rt, t, action.missing, marks.get(t.symbol), rules, atr_of)
                report.protected.append(action.trade_id)
            elif isinstance(action, Adopt):
                tid = await adopt(rt, action, rules, atr_of)
                if tid:
                    report.adopted.append(tid)
        except (ExchangeError, NoValidOrderError) as exc:
            log.warning("reconcile.error", f"{type(action).__name__} not finished: {exc}; retried next cycle",
                        action=type(action).__name__)
    if any((report.closed, report.adopted, report.protected, report.resolved)):
        rt.save()
    return report


async def resync_journal(rt: Runtime, since_ms: int) -> None:
    """After the journal could not be written: write again every open trade, and every trade closed
    since the outage began with its fills and funding read from the venue, so the journal agrees with
    the state and the venue (rows are idempotent)."""
    for t in list(rt.state.open_trades.values()):
        rt.journal.upsert_trade(t)
    unwritten = set(rt.journal.unwritten_trades)
    for t in [t for t in rt.state.closed_trades
              if t.trade_id in unwritten or t.updated_ms >= since_ms or t.exit_time_ms >= since_ms]:
        start = max(t.entry_time_ms, rt.now_ms() - SEVEN_DAYS_MS + 60_000)
        try:
            fills = await rt.exchange.user_trades(t.symbol, start_time=start, end_time=t.exit_time_ms or None)
            income = await rt.exchange.income(t.symbol, income_type="FUNDING_FEE", start_time=start,
                                              end_time=t.exit_time_ms or None)
        except ExchangeError as exc:
            log.warning("journal.resync_later", f"{t.symbol}: fills not read for the journal ({exc}); retried",
                        symbol=t.symbol, trade_id=t.trade_id)
            return
        rt.journal.record_fills(t.trade_id, fills)
        rt.journal.record_funding(t.trade_id, income)
        rt.journal.upsert_trade(t)
        if "journal" not in rt.disk_errors:
            rt.journal.unwritten_trades.discard(t.trade_id)
    if "journal" not in rt.disk_errors:
        rt.journal_resync_from = None
        log.info("journal.resynced", "journal rewritten from the state and the venue after the outage")


# ------------------------------------------------------------------ pending
async def resolve_pending(rt: Runtime, trade: Trade, position: Position | None,
                          rules: dict[str, SymbolRules]) -> None:
    cid = trade.client_ids.get(Role.ENTRY.value)
    order = None
    if cid:
        try:
            order = await rt.exchange.get_order(trade.symbol, client_order_id=cid)
        except UnknownOrderError:
            order = None
    if order is not None and order.is_open:
        partly = order.executed_qty > 0 and position is not None   # protect what filled now, end the rest
        if not partly and not pending_window_over(rt, trade):
            log.info("entry.following", f"{trade.symbol}: entry {cid} accepted ({order.status.value}), not final "
                     "yet; followed", symbol=trade.symbol, trade_id=trade.trade_id, client_id=cid)
            return
        try:
            order = await rt.exchange.cancel_order(trade.symbol, client_order_id=cid)
            log.warning("entry.cancelled", f"{trade.symbol}: entry {cid} " + ("partly filled; its rest" if partly else
                        "still not final after the patience window;") + f" cancelled ({order.executed_qty} filled)",
                        symbol=trade.symbol, client_id=cid, activity=True)
        except UnknownOrderError:       # it became final meanwhile
            order = await rt.exchange.get_order(trade.symbol, client_order_id=cid)
        position = next((p for p in await rt.exchange.positions(trade.symbol)
                         if p.position_side.value == trade.position_side and not p.is_flat), None)
    if order is None and position is None and not pending_window_over(rt, trade):
        log.info("entry.unknown_waiting", f"{trade.symbol}: entry {cid} not found yet; the venue may still "
                 "process it, so it is neither sent again nor dropped before the recvWindow has passed",
                 symbol=trade.symbol, trade_id=trade.trade_id, client_id=cid)
        return
    filled = order is not None and order.executed_qty > 0
    if position is not None and (filled or order is None):
        r = rules.get(trade.symbol)
        if r is None:
            return
        log.warning("entry.recovered", f"{trade.symbol}: entry {cid} filled while unresolved; protecting it",
                    symbol=trade.symbol, trade_id=trade.trade_id, activity=True)
        stub = order or _stub_order(trade, position)
        await on_entry_filled(rt, trade, stub, r, qty=position.qty, price=position.entry_price)
    elif filled:
        trade.status = "open"
        trade.entry_qty = order.executed_qty
        trade.entry_price = order.avg_price or None
        await finalise(rt, trade, "entry filled but the position was already closed")
    else:
        drop_pending(rt, trade, "entry_not_filled" if order is not None else "entry_unknown")


def pending_window_over(rt: Runtime, trade: Trade) -> bool:
    """True once the entry was sent longer ago than recvWindow + a margin, in venue AND wall time."""
    window = int(getattr(rt.settings, "recv_window", 10_000) or 10_000) + PENDING_MARGIN_MS
    venue_age = rt.now_ms() - trade.entry_time_ms
    wall_age = rt.wall_ms() - trade.entry_sent_wall_ms if trade.entry_sent_wall_ms else venue_age
    return venue_age > window and wall_age > window


def _stub_order(trade: Trade, position: Position) -> Order:
    return Order(symbol=trade.symbol, order_id=0, client_order_id=trade.client_ids.get(Role.ENTRY.value, ""),
                 side=position.side, type=OrderType.MARKET, status=OrderStatus.FILLED, orig_qty=position.qty,
                 executed_qty=position.qty, avg_price=position.entry_price)


# ------------------------------------------------------------------ protect / adopt
async def protect(rt: Runtime, trade: Trade, missing: tuple[Role, ...], mark: Decimal | None,
                  rules: dict[str, SymbolRules], atr_of: AtrSource) -> None:
    if trade.stop_price is None or trade.take_profit_price is None:
        await _levels_from_atr(rt, trade, rules, atr_of)
    missing = await still_missing(rt, trade, missing)
    if not missing:
        return
    log.warning("bracket.missing", f"{trade.symbol}: {'/'.join(r.name for r in missing)} missing on the venue; "
                "placing it", symbol=trade.symbol, trade_id=trade.trade_id, roles=[r.value for r in missing])
    rt.save()
    await rt.orders.place_brackets(trade, missing, price_now=mark if mark else None, again=True)
    rt.journal.upsert_trade(trade)


async def still_missing(rt: Runtime, trade: Trade, missing: tuple[Role, ...]) -> tuple[Role, ...]:
    """Re-read the symbol's open orders just before placing: the guard may have put the bracket back
    since the cycle's snapshot (a second one, under another id, would rest as a duplicate)."""
    orders = [o for o in await rt.exchange.open_orders(trade.symbol) if may_touch(rt.instance, o.client_order_id)]
    stops, tps = protective_orders(trade.symbol, trade_entry_side(trade), trade.position_side, orders)
    have = {Role.STOP: stops, Role.TAKE_PROFIT: tps}
    return tuple(r for r in missing if not have.get(r))


async def _levels_from_atr(rt: Runtime, trade: Trade, rules: dict[str, SymbolRules], atr_of: AtrSource) -> None:
    r = rules.get(trade.symbol)
    atr = trade.atr if trade.atr else await atr_of(trade.symbol)
    if r is None or not atr or trade.entry_price is None:
        raise NoValidOrderError(f"{trade.symbol}: no ATR or rules to compute bracket levels")
    trade.atr = float(atr)
    levels = bracket_prices(trade.entry_price, trade_entry_side(trade), trade.atr, rt.settings.sl_atr_mult,
                            rt.settings.tp_atr_mult, r)
    trade.stop_price = trade.stop_price or levels.stop
    trade.take_profit_price = trade.take_profit_price or levels.take_profit
    trade.risk_per_unit = trade.risk_per_unit or abs(trade.entry_price - trade.stop_price)


def new_adopted_id(rt: Runtime, pos: Position) -> str:
    """A trade id no earlier trade (open, closed or journalled) carried: adoptions never share a row."""
    at = rt.now_ms()
    while True:
        tid = trade_id_for_adopted(pos.symbol, pos.position_side.value, at, instance=rt.instance)
        known = tid in rt.state.open_trades or any(t.trade_id == tid for t in rt.state.closed_trades)
        try:
            known = known or rt.journal.trade_row(tid) is not None
        except Exception:  # noqa: BLE001 - an unreadable journal must not stop an adoption
            pass
        if not known:
            return tid
        at += 1000


async def adopt(rt: Runtime, action: Adopt, rules: dict[str, SymbolRules], atr_of: AtrSource) -> str | None:
    pos = action.position
    tid = new_adopted_id(rt, pos)
    trade = Trade(trade_id=tid, symbol=pos.symbol, side="LONG" if pos.is_long else "SHORT", status="open",
                  position_side=pos.position_side.value, qty=pos.qty, entry_qty=pos.qty,
                  entry_price=pos.entry_price, entry_time_ms=rt.now_ms(), adopted=True, leverage=pos.leverage,
                  notional=pos.qty * pos.entry_price, bucket="-", updated_ms=rt.now_ms())
    if action.existing_stop is not None:
        trade.stop_price = action.existing_stop.stop_price
        trade.client_ids[Role.STOP.value] = action.existing_stop.client_order_id
        trade.order_ids[Role.STOP.value] = action.existing_stop.order_id
    if action.existing_take_profit is not None:
        trade.take_profit_price = action.existing_take_profit.stop_price
        trade.client_ids[Role.TAKE_PROFIT.value] = action.existing_take_profit.client_order_id
        trade.order_ids[Role.TAKE_PROFIT.value] = action.existing_take_profit.order_id
    try:
        await _levels_from_atr(rt, trade, rules, atr_of)
    except NoValidOrderError as exc:
        log.error("position.unprotected", f"{pos.symbol}: adopted position has no computable levels ({exc})",
                  symbol=pos.symbol, activity=True)
    rt.state.open_trades[tid] = trade
    rt.journal.upsert_trade(trade)
    rt.save()
    log.warning("position.adopted", f"{pos.symbol}: position {pos.amount} @ {pos.entry_price} was unknown to "
                f"the bot; adopted as {tid}", symbol=pos.symbol, trade_id=tid, qty=pos.qty,
                entry_price=pos.entry_price, stop=trade.stop_price, take_profit=trade.take_profit_price,
                activity=True)
    missing = tuple(r for r, o in ((Role.STOP, action.existing_stop), (Role.TAKE_PROFIT, action.existing_take_profit))
                    if o is None)
    if missing and trade.stop_price is not None:
        missing = await still_missing(rt, trade, missing)
    if missing and trade.stop_price is not None:
        price_now = pos.mark_price if pos.mark_price else None
        if Role.STOP in missing and price_now and stop_crossed(pos.side, trade.stop_price, price_now):
            log.warning("position.adopted_crossed", f"{pos.symbol}: stop level already crossed; closing",
                        symbol=pos.symbol, trade_id=tid, activity=True)
        await rt.orders.place_brackets(trade, missing, price_now=price_now)
        rt.journal.upsert_trade(trade)
    return tid
