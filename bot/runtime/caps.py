"""ASTER_MAX_NOTIONAL_USDT after the fill.

Sizing checks the cap at the worst price the entry may fill at (decide.cap_price): for a LIMIT_IOC long
that is a hard bound, for a MARKET entry (and any short) only an allowance of ASTER_ENTRY_BAND. When a
fill still lands above the cap (the market moved further between the cycle's book read and the
order's arrival), the excess is closed at once, reduce-only at market, through the bot's close routine
(partial_close.py, role CL): the smallest valid quantity that brings the position back under the cap. The stop and
take-profit are close-position orders, so they cover what remains unchanged.
"""
from __future__ import annotations

from decimal import Decimal

from mraster.domain.ids import Role
from mraster.domain.rules import SymbolRules
from mraster.exchange.errors import ExchangeError
from mraster.logs import get_logger
from mraster.state.model import Trade
from bot.runtime.context import Runtime
from bot.runtime.partial_close import close_part

log = get_logger("bot.caps")


def excess_qty(qty: Decimal, price: Decimal, cap: Decimal, rules: SymbolRules) -> Decimal | None:
    """Smallest valid market quantity to close so that the rest is worth at most `cap` at `price`; None
    when nothing is over, or when what would remain is below the market minimum (never closes it all)."""
    if qty <= 0 or price <= 0 or qty * price <= cap:
        return None
    _, min_qty, _ = rules.lot(market=True)
    keep = rules.round_qty(cap / price, market=True, mode="down")
    trim = rules.round_qty(qty - keep, market=True, mode="up")
    trim = max(trim, min_qty)
    if trim >= qty or qty - trim < min_qty or rules.qty_problem(trim, market=True):
        return None
    return trim


async def enforce_notional_cap(rt: Runtime, trade: Trade | None, rules: SymbolRules) -> Decimal | None:
    """Close the part of a just-filled entry above ASTER_MAX_NOTIONAL_USDT; returns the quantity closed."""
    if trade is None or trade.status != "open" or trade.qty is None or trade.entry_price is None:
        return None
    cap = Decimal(str(rt.settings.max_notional_usdt))
    trim = excess_qty(trade.qty, trade.entry_price, cap, rules)
    notional = trade.qty * trade.entry_price
    if trim is None:
        if notional > cap:
            log.warning("cap.exceeded", f"{trade.symbol}: filled notional {notional:.4f} is above "
                        f"ASTER_MAX_NOTIONAL_USDT {cap}, but no valid smaller position exists; left as is",
                        symbol=trade.symbol, trade_id=trade.trade_id, activity=True)
        return None
    why = f"entry filled at {trade.entry_price} for {notional:.4f} USDT, above ASTER_MAX_NOTIONAL_USDT {cap}"
    log.warning("cap.exceeded", f"{trade.symbol}: {why}; closing {trim} at once", symbol=trade.symbol,
                trade_id=trade.trade_id, qty=trim, notional=notional, cap=cap, activity=True)
    try:
        closed, _ = await close_part(rt, trade, trim, why, Role.CLOSE)
    except ExchangeError as exc:
        log.error("cap.trim_failed", f"{trade.symbol}: the excess above the cap was not closed ({exc}); the "
                  "stop and take-profit protect the whole position", symbol=trade.symbol, trade_id=trade.trade_id,
                  activity=True)
        return None
    if closed <= 0:
        return None
    trade.qty = max(trade.qty - closed, Decimal(0))
    trade.notional = trade.qty * trade.entry_price
    trade.updated_ms = rt.now_ms()
    rt.journal.upsert_trade(trade)
    rt.save()
    return closed
