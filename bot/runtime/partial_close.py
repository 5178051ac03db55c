"""Closing part of a trade's position (FastTP's partial exit, the cut back under the notional cap).

It goes through the bot's one close routine, `bot.runtime.closing.close_trade` (chunks of the market
lot maximum, journalled, the venue re-read after an unknown outcome). Until that routine is merged
into this branch, the same close is sent here as one journalled reduce-only MARKET order through the
bot's order executor; the import below switches to the shared routine as soon as it exists.
"""
from __future__ import annotations

from decimal import Decimal

from ..domain.ids import Role, client_order_id
from ..domain.types import OrderRequest, OrderType, PositionSide
from ..exchange.errors import ReduceOnlyRejectedError, RequestError
from ..state.model import Trade
from .context import Runtime

try:
    from .closing import close_trade as _shared_close_trade    # type: ignore[attr-defined]
except ImportError:                                             # the shared routine is not merged yet
    _shared_close_trade = None


async def close_part(rt: Runtime, trade: Trade, qty: Decimal, why: str, role: Role) -> tuple[Decimal, str]:
    """Close `qty` of the venue's position of `trade`, reduce-only at market, client ids of `role`.
    Returns (quantity closed, client id). Raises RequestError when the venue refused it and nothing was
    closed; another ExchangeError when the outcome is unknown (it may have been executed)."""
    if _shared_close_trade is not None:
        result = await _shared_close_trade(rt, trade, why, qty=qty, role=role)
        cid = result.orders[-1].client_order_id if result.orders else client_order_id(trade.trade_id, role)
        if result.closed <= 0 and result.error:
            raise RequestError(result.error)
        return result.closed, cid
    positions = await rt.exchange.positions(trade.symbol)
    pos = next((p for p in positions if p.position_side.value == trade.position_side and not p.is_flat
                and p.is_long == trade.is_long), None)
    if pos is None:
        return Decimal(0), ""
    cid = client_order_id(trade.trade_id, role)
    req = OrderRequest(symbol=trade.symbol, side=pos.exit_side, type=OrderType.MARKET, client_order_id=cid,
                       quantity=min(pos.qty, qty), reduce_only=pos.position_side is PositionSide.BOTH,
                       position_side=pos.position_side)
    try:
        order = await rt.orders.submit(trade, role, req)
    except ReduceOnlyRejectedError:              # nothing left to reduce: someone else closed it
        return Decimal(0), cid
    return order.executed_qty, cid
