"""FastTP actions on open trades (the rule itself is pure: mraster/domain/fasttp.py).

partial: cooldown and action count written to state first -> reduce-only MARKET close of part of the
         position (client id role FT) through the bot's close routine (partial_close.py) -> the trade's quantity follows the
         venue. The stop and take-profit are close-position orders: they keep protecting the rest.
         A refused close gives the count back (tried again after the cooldown); an unknown outcome
         does not (it may have been executed: never sent twice).
pull_in: new take-profit level written to state first -> replacement placed -> old one cancelled only
         after the venue accepted the replacement. If the replacement is refused, the old take-profit
         stays and the state goes back to its level.
"""
from __future__ import annotations

from decimal import Decimal

from mraster.domain.fasttp import FastTPDecision, FastTPParams, fasttp_decide
from mraster.domain.ids import Role
from mraster.domain.rules import SymbolRules
from mraster.domain.types import Kline
from mraster.exchange.errors import ExchangeError, RequestError
from mraster.logs import get_logger
from mraster.state.model import Trade
from bot.runtime.context import Runtime
from bot.runtime.orders import trade_entry_side
from bot.runtime.partial_close import close_part

log = get_logger("bot.fasttp")


def trimmed(trade: Trade) -> bool:
    """FastTP acted on this trade already (its count is saved before the partial exit is sent, so a
    restart in between does not trim twice)."""
    return trade.fasttp_count > 0


async def fasttp_pass(rt: Runtime, candles: dict[str, list[Kline]], prices: dict[str, float],
                      rules: dict[str, SymbolRules]) -> int:
    """Check every open trade once; returns how many FastTP actions were taken."""
    params = FastTPParams.from_settings(rt.settings)
    if not params.enabled:
        return 0
    acted = 0
    for trade in list(rt.state.open_trades.values()):
        bars = candles.get(trade.symbol)
        price = prices.get(trade.symbol)
        r = rules.get(trade.symbol)
        if (trade.status != "open" or not bars or price is None or r is None or trade.entry_price is None
                or trade.atr is None or getattr(trade, "close_requested", "")):   # a full close is under way
            continue
        now = rt.now_ms()
        d = fasttp_decide(side=trade_entry_side(trade), entry=trade.entry_price, risk_per_unit=trade.risk_per_unit,
                          price=price, closes=[k.close for k in bars[-4:]], atr=float(trade.atr),
                          take_profit=trade.take_profit_price,
                          last_action_ms=rt.state.fasttp_cooldowns.get(trade.symbol), now_ms=now, params=params,
                          rules=r, qty=trade.qty, trimmed=trimmed(trade))
        if not d.fire:
            continue
        if d.action == "partial":
            done = await apply_partial(rt, trade, d)
        else:
            done = await apply_pull_in(rt, trade, d)
        acted += int(done)
    return acted


def _mark(rt: Runtime, trade: Trade) -> None:
    trade.fasttp_count += 1
    trade.updated_ms = rt.now_ms()
    rt.state.fasttp_cooldowns[trade.symbol] = trade.updated_ms


async def apply_partial(rt: Runtime, trade: Trade, d: FastTPDecision) -> bool:
    assert d.exit_qty is not None
    _mark(rt, trade)
    rt.journal.upsert_trade(trade)
    rt.save()                                      # a restart mid-way sees the cooldown and does not trim twice
    why = f"FastTP partial exit of {d.exit_qty} at {d.r_now:.2f} R"
    try:
        closed, cid = await close_part(rt, trade, d.exit_qty, why, Role.FAST_TP)
    except RequestError as exc:             # refused: nothing happened, it may try again after the cooldown
        trade.fasttp_count -= 1
        rt.journal.upsert_trade(trade)
        rt.save()
        log.warning("fasttp.failed", f"{trade.symbol}: partial exit refused ({exc}); the stop and take-profit "
                    "still protect the whole position; tried again after the cooldown", symbol=trade.symbol,
                    trade_id=trade.trade_id)
        return False
    except ExchangeError as exc:            # outcome unknown: it may have been executed, so never sent twice
        log.warning("fasttp.failed", f"{trade.symbol}: partial exit outcome unknown ({exc}); not sent again; "
                    "reconciliation takes the quantity from the venue", symbol=trade.symbol,
                    trade_id=trade.trade_id)
        return False
    if closed <= 0:
        return False
    trade.qty = max((trade.qty or Decimal(0)) - closed, Decimal(0))
    trade.updated_ms = rt.now_ms()
    rt.journal.upsert_trade(trade)
    rt.save()
    log.info("fasttp", f"{trade.symbol}: FastTP closed {closed} of the position at {d.r_now:.2f} R; "
             f"{trade.qty} left under the same stop and take-profit", symbol=trade.symbol, trade_id=trade.trade_id,
             action="partial", qty=closed, remaining=trade.qty, r_now=round(d.r_now, 4), ret1=d.ret1,
             ret3=d.ret3, client_id=cid, activity=True)
    return True


async def apply_pull_in(rt: Runtime, trade: Trade, d: FastTPDecision) -> bool:
    old = trade.take_profit_price
    trade.take_profit_price = d.new_take_profit
    _mark(rt, trade)
    rt.journal.upsert_trade(trade)
    rt.save()                                      # the guard reads the new level from here
    log.info("fasttp", f"{trade.symbol}: take-profit pulled in {old} -> {d.new_take_profit} at {d.r_now:.2f} R",
             symbol=trade.symbol, trade_id=trade.trade_id, action="pull_in", old_take_profit=old,
             take_profit=d.new_take_profit, r_now=round(d.r_now, 4), ret1=d.ret1, ret3=d.ret3, activity=True)
    try:
        await rt.orders.move_take_profit(trade)
    except ExchangeError as exc:
        # the old take-profit is still resting (it is only cancelled once its replacement is accepted):
        # the state goes back to the level the venue really holds
        trade.take_profit_price = old
        log.warning("fasttp.failed", f"{trade.symbol}: take-profit not replaced ({exc}); the old one at {old} "
                    "stays", symbol=trade.symbol, trade_id=trade.trade_id)
        rt.journal.upsert_trade(trade)
        rt.save()
        return False
    rt.journal.upsert_trade(trade)
    rt.save()
    return True
