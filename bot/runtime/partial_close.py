"""Closing part of a trade's position (FastTP's partial exit, the cut back under the notional cap)
through the bot's one close routine, `closing.close_trade` (chunks of the market lot maximum,
journalled, the venue re-read after an unknown outcome), read the way these two callers need it."""
from __future__ import annotations

from decimal import Decimal

from mraster.domain.ids import Role, client_order_id
from mraster.exchange.errors import ExchangeError, RequestError
from mraster.state.model import Trade
from bot.runtime.closing import close_trade
from bot.runtime.context import Runtime


async def close_part(rt: Runtime, trade: Trade, qty: Decimal, why: str, role: Role) -> tuple[Decimal, str]:
    """Close `qty` of the venue's position of `trade`, reduce-only at market, client ids of `role`.
    Returns (quantity closed, client id of the last order). Raises RequestError when nothing was closed
    and the venue said why (refused), ExchangeError when nothing is known to have closed otherwise."""
    result = await close_trade(rt, trade, why, qty=qty, role=role)
    cid = result.orders[-1].client_order_id if result.orders else client_order_id(trade.trade_id, role)
    if result.closed <= 0 and result.error:
        # the routine reads the position again after an unknown outcome, so "nothing closed" is the venue's
        # word, unless it could not read it (or gave up): then it may still have been executed
        if "could not be read" in result.error or "gave up" in result.error:
            raise ExchangeError(result.error)
        raise RequestError(result.error)
    return result.closed, cid
