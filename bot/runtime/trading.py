"""Entries with brackets, in the order that keeps them recoverable:

entry:  leverage/margin type set once per symbol (setup.py; refused = no entry) -> pending trade
        written (journal, then state) -> entry sent -> fill: levels from the AVERAGE fill price written
        to state -> stop, then take-profit placed -> entry fills journalled -> policy told.
        No entry is sent while the state file or journal cannot be written (rt.disk_problem); a fill
        still gets its brackets when the disk fails between the entry and the brackets.
        An entry whose outcome is unknown (5xx, timeout, -1006/-1007) or that the venue answered NEW
        (accepted, not filled yet) stays pending: reconciliation follows it by client id until it is
        final, never sending it again.
FastTP actions: fasttp_action.py.
"""
from __future__ import annotations

from decimal import Decimal

from mraster.domain.brackets import bracket_prices
from mraster.domain.ids import Role, client_order_id, trade_id_for_entry
from mraster.domain.rules import NoValidOrderError, SymbolRules, to_decimal
from mraster.domain.types import Order, OrderRequest, OrderType, Side, TimeInForce
from mraster.exchange.errors import (BannedError, ExchangeError, OrderWouldTriggerError, RateLimitedError,
                               RetryableError)
from mraster.logs import get_logger
from mraster.state.model import Trade
from bot.runtime.closing import finalise
from bot.runtime.context import Runtime
from bot.runtime.decide import EntryPlan
from bot.runtime.setup import ensure_symbol_setup

log = get_logger("bot.trading")
UNKNOWN_CODES = (-1006, -1007)      # "unexpected response" / "timeout": the order may have been executed


def entry_request(plan: EntryPlan, trade_id: str, entry_order: str, band: float) -> OrderRequest:
    cid = client_order_id(trade_id, Role.ENTRY)
    if entry_order == "LIMIT_IOC":
        factor = to_decimal(1 + band) if plan.side is Side.BUY else to_decimal(1 - band)
        limit = plan.rules.round_price(plan.price * factor, "down" if plan.side is Side.BUY else "up")
        return OrderRequest(symbol=plan.symbol, side=plan.side, type=OrderType.LIMIT, client_order_id=cid,
                            quantity=plan.size.qty, price=limit, time_in_force=TimeInForce.IOC)
    return OrderRequest(symbol=plan.symbol, side=plan.side, type=OrderType.MARKET, client_order_id=cid,
                        quantity=plan.size.qty)


def average_fill_price(order: Order) -> Decimal | None:
    if order.avg_price and order.avg_price > 0:
        return order.avg_price
    if order.executed_qty > 0 and order.cum_quote > 0:
        return order.cum_quote / order.executed_qty
    return None


def apply_fill(trade: Trade, price: Decimal, qty: Decimal, rules: SymbolRules, sl_mult: float, tp_mult: float,
               now_ms: int) -> None:
    """Open the trade at its average fill price with brackets computed from that price."""
    side = Side.BUY if trade.is_long else Side.SELL
    levels = bracket_prices(price, side, float(trade.atr or 0.0), sl_mult, tp_mult, rules)
    trade.status = "open"
    trade.entry_price = price
    trade.qty = qty
    trade.entry_qty = qty
    trade.stop_price = levels.stop
    trade.take_profit_price = levels.take_profit
    trade.risk_per_unit = levels.risk_per_unit(price)
    trade.notional = price * qty
    trade.updated_ms = now_ms


async def enter(rt: Runtime, plan: EntryPlan) -> tuple[Trade | None, str]:
    """Open one trade. Returns (trade or None, outcome reason)."""
    s = rt.settings
    if rt.disk_problem:
        return None, "disk_unwritable"
    problem = await ensure_symbol_setup(rt, plan.symbol)
    if problem:
        return None, "setup_failed"
    if rt.gate is not None:             # the account's risk gate: kill-switch latch, account caps, ownership
        decision = await rt.gate.admit(rt.instance, plan.symbol, plan.side, plan.size.notional)
        if not decision:
            log.info("entry.refused", f"{plan.symbol}: the account's risk gate refused the entry: {decision.reason}",
                     symbol=plan.symbol, code=decision.code, instance=rt.instance, account=rt.account)
            return None, decision.code
    now = rt.now_ms()
    trade = Trade(trade_id=trade_id_for_entry(plan.symbol, now, rt.instance), symbol=plan.symbol,
                  side="LONG" if plan.side is Side.BUY else "SHORT", status="pending", qty=plan.size.qty,
                  entry_time_ms=now, atr=plan.atr, bucket=plan.decision.arm,
                  size_mult=plan.size.mult,
                  leverage=int(s.leverage), notional=plan.size.notional, context=plan.ctx.to_json(),
                  decision={"arm": plan.decision.arm, "policy_arm": plan.decision.policy_arm,
                            "shadow": plan.decision.shadow, "scores": plan.decision.scores,
                            "edge": plan.record.edge, "edge_source": plan.record.edge_source,
                            "sizing": plan.size.method, "notes": list(plan.size.notes)},
                  updated_ms=now)
    req = entry_request(plan, trade.trade_id, s.entry_order, s.entry_band)
    trade.client_ids[Role.ENTRY.value] = req.client_order_id
    trade.entry_sent_wall_ms = rt.wall_ms()
    rt.journal.upsert_trade(trade)
    rt.state.open_trades[trade.trade_id] = trade
    if not rt.save() or rt.disk_problem:           # pending trade on disk before the entry is sent
        rt.state.open_trades.pop(trade.trade_id, None)
        release_gate(rt, trade.symbol)
        return None, "disk_unwritable"
    rt.policy.record_decision(rt.journal.conn, trade.trade_id, now, plan.ctx, plan.decision)
    rt.policy.note_entry(trade.trade_id, plan.ctx, plan.decision)    # dropped again if it never fills
    try:
        order = await rt.orders.submit(trade, Role.ENTRY, req)
    except OrderWouldTriggerError:
        order = None
    except ExchangeError as exc:
        unknown = isinstance(exc, RetryableError) and not isinstance(exc, (RateLimitedError, BannedError))
        if unknown or exc.code in UNKNOWN_CODES:
            log.warning("entry.unresolved", f"{plan.symbol}: entry outcome unknown ({exc}); it is not sent again: "
                        "reconciliation follows it by client id", symbol=plan.symbol, trade_id=trade.trade_id,
                        activity=True)
            return trade, "entry_unknown"
        drop_pending(rt, trade, "entry_rejected")  # a clear refusal (or 429/418): the venue did not take it
        return None, "entry_rejected"
    if order is not None and order.is_open and order.executed_qty <= 0:
        trade.order_ids[Role.ENTRY.value] = order.order_id
        log.info("entry.accepted", f"{plan.symbol}: entry accepted ({order.status.value}), not filled yet; "
                 "followed until it is final", symbol=plan.symbol, trade_id=trade.trade_id, order_id=order.order_id)
        rt.save()
        return trade, "entry_pending"
    if order is None or order.executed_qty <= 0:
        drop_pending(rt, trade, "entry_not_filled")
        return None, "entry_not_filled"
    if order.is_open:                   # partly filled and still working: protect what filled, end the rest
        order = await end_entry_rest(rt, trade, order)
    return await on_entry_filled(rt, trade, order, plan.rules)


async def end_entry_rest(rt: Runtime, trade: Trade, order: Order) -> Order:
    """Cancel the unfilled rest of a partly filled entry; the order as it ended (or as last seen)."""
    try:
        return await rt.orders.cancel(trade, Role.ENTRY) or await rt.exchange.get_order(
            trade.symbol, client_order_id=order.client_order_id)
    except ExchangeError as exc:
        log.warning("entry.rest_not_cancelled", f"{trade.symbol}: rest of the entry not cancelled ({exc}); the "
                    "close-position brackets cover whatever fills later", symbol=trade.symbol, trade_id=trade.trade_id)
        return order


def release_gate(rt: Runtime, symbol: str) -> None:
    """An admitted entry that opened nothing gives its reservation at the risk gate back."""
    if rt.gate is not None:
        try:
            rt.gate.release(rt.instance, symbol)
        except OSError as exc:          # the reservation then expires by itself
            log.warning("gate.release_failed", f"{symbol}: risk-gate reservation not released ({exc})")


def drop_pending(rt: Runtime, trade: Trade, reason: str) -> None:
    release_gate(rt, trade.symbol)
    trade.status = "closed"
    trade.exit_reason = reason
    trade.exit_time_ms = rt.now_ms()
    rt.journal.upsert_trade(trade)
    rt.state.open_trades.pop(trade.trade_id, None)
    rt.save()
    rt.policy.drop_entry(trade.trade_id)
    log.info("entry.dropped", f"{trade.symbol}: entry not filled ({reason})", symbol=trade.symbol,
             trade_id=trade.trade_id, reason=reason)


async def on_entry_filled(rt: Runtime, trade: Trade, order: Order, rules: SymbolRules,
                          qty: Decimal | None = None, price: Decimal | None = None) -> tuple[Trade | None, str]:
    s = rt.settings
    price = price or average_fill_price(order)
    qty = qty or order.executed_qty
    if order.order_id:                  # also when the entry was resolved by a look-up, not by its answer
        trade.order_ids[Role.ENTRY.value] = order.order_id
    if price is None:
        positions = await rt.exchange.positions(trade.symbol)
        pos = next((p for p in positions if not p.is_flat), None)
        price = pos.entry_price if pos else None
    if price is None:
        trade.exit_detail = "filled but no fill price known"
        await rt.orders.close_now_or_warn(trade, trade.exit_detail)
        return trade, "entry_no_price"
    try:
        apply_fill(trade, price, qty, rules, s.sl_atr_mult, s.tp_atr_mult, rt.now_ms())
    except NoValidOrderError as exc:
        trade.exit_detail = f"no valid bracket levels: {exc}"
        await rt.orders.close_now_or_warn(trade, trade.exit_detail)
        return trade, "brackets_invalid"
    rt.journal.upsert_trade(trade)
    rt.save()       # intended levels on disk before the brackets go out (a failed write does not hold them)
    log.info("fill", f"{trade.side} {trade.symbol} {qty} @ {price} (bucket {trade.bucket})", symbol=trade.symbol,
             trade_id=trade.trade_id, side=trade.side, qty=qty, price=price, client_id=order.client_order_id,
             bucket=trade.bucket, notional=trade.notional, activity=True)
    protected = await rt.orders.place_brackets(trade)
    rt.journal.upsert_trade(trade)
    rt.save()
    await record_entry_fills(rt, trade, order)
    if not protected:
        if trade.close_requested:       # the close failed too: the trade stays open, retried every cycle
            return trade, "stop_failed"
        await finalise(rt, trade, "closed at once: no stop could be placed")
        return trade, "stop_failed"
    return trade, "enter"


async def record_entry_fills(rt: Runtime, trade: Trade, order: Order) -> None:
    try:
        fills = await rt.exchange.user_trades(trade.symbol, start_time=trade.entry_time_ms)
    except ExchangeError as exc:
        log.warning("fills.unavailable", f"{trade.symbol}: entry fills not read yet ({exc})", symbol=trade.symbol)
        return
    mine = [f for f in fills if f.order_id == order.order_id]
    rt.journal.record_fills(trade.trade_id, mine)
    trade.fees = sum((f.commission for f in mine), Decimal(0))
    rt.journal.upsert_trade(trade)
