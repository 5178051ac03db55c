"""Closing trades. `close_trade`: send the market close of all or part of a trade's position (the one
close routine, mraster/safety/closeout.py: chunks of the market lot maximum, journalled). `finalise`: a
trade whose position is gone: how it ended (from the venue's fills and orders), PnL, fees, funding
and R, journalled before the state moves it to history, and credited to the policy."""
from __future__ import annotations

from decimal import Decimal

from mraster.domain.exits import classify_exit, r_multiple, weighted_price
from mraster.domain.ids import Role, client_order_id
from mraster.domain.types import Order, PositionSide, UserTrade
from mraster.exchange.errors import ExchangeError, UnknownOrderError
from mraster.logs import get_logger
from mraster.safety.closeout import CloseResult, close_position
from mraster.state.model import Trade
from bot.runtime.context import Runtime
from bot.runtime.orders import trade_entry_side

log = get_logger("bot.reconcile")
SEVEN_DAYS_MS = 7 * 86_400_000


async def close_trade(rt: Runtime, trade: Trade, why: str, *, qty: Decimal | None = None,
                      role: Role = Role.CLOSE) -> CloseResult:
    """Close all (`qty` None) or `qty` of the venue's position of `trade` at market, reduce-only, in
    chunks of the market lot maximum; every order journalled under `role` (CL for a full close, FT for
    a FastTP partial exit). A partial quantity is rounded down to the market step. Never raises on a
    venue answer: `result.done`, `.closed`, `.remaining`, `.avg_price`, `.error` say what happened."""
    positions = await rt.exchange.positions(trade.symbol)
    pos = next((p for p in positions if p.position_side.value == trade.position_side and not p.is_flat
                and p.is_long == trade.is_long), None)
    if pos is None:
        log.info("position.already_flat", f"{trade.symbol}: nothing to close ({why})", symbol=trade.symbol,
                 trade_id=trade.trade_id)
        return CloseResult(trade.symbol, _position_side(trade), trade_entry_side(trade).opposite,
                           requested=Decimal(0), remaining=Decimal(0), start=Decimal(0))
    rules = (await rt.market.rules()).get(trade.symbol)
    fresh = getattr(rt.orders, "next_client_id", None)   # a new id per order where ids carry a sequence
    ids = (lambda n: fresh(trade, role)) if fresh else client_order_id(trade.trade_id, role)
    return await close_position(rt.exchange, pos, ids, rules=rules, qty=qty,
                                send=lambda req: rt.orders.submit(trade, role, req))


def _position_side(trade: Trade) -> PositionSide:
    return PositionSide(trade.position_side)


async def finalise(rt: Runtime, trade: Trade, why: str) -> None:
    """The position is gone: read how it ended, journal it, credit the policy, move it to history."""
    now = rt.now_ms()
    start = max(trade.entry_time_ms, now - SEVEN_DAYS_MS + 60_000)
    fills = await rt.exchange.user_trades(trade.symbol, start_time=start)
    fills.sort(key=lambda f: (f.time, f.id))
    exit_side = trade_entry_side(trade).opposite
    closing = [f for f in fills if f.side is exit_side]
    closing_orders = await _orders_of(rt, trade, closing)
    reason, detail = classify_exit(trade, closing_orders)
    income = []
    try:
        income = await rt.exchange.income(trade.symbol, income_type="FUNDING_FEE", start_time=start)
    except ExchangeError as exc:
        log.warning("funding.unavailable", f"{trade.symbol}: funding not read ({exc})", symbol=trade.symbol)
    rt.journal.record_fills(trade.trade_id, fills)
    rt.journal.record_funding(trade.trade_id, income)
    trade.exit_price = weighted_price((f.price, f.qty) for f in closing)
    trade.exit_time_ms = closing[-1].time if closing else now
    trade.exit_reason = reason
    trade.exit_detail = "; ".join(x for x in (trade.exit_detail, detail, why) if x)
    trade.realized_pnl = sum((f.realized_pnl for f in closing), Decimal(0))
    trade.fees = sum((f.commission for f in fills), Decimal(0))
    trade.funding = sum((r.income for r in income), Decimal(0))
    trade.r_multiple = r_multiple(trade)
    trade.qty = Decimal(0)
    trade.updated_ms = now
    trade.status = "closed"
    rt.journal.upsert_trade(trade)
    rt.move_to_closed(trade)
    rt.save()
    if trade.r_multiple is not None and not trade.adopted and trade.decision.get("policy_arm") != "FORCED":
        rt.policy.note_exit(trade.trade_id, trade.r_multiple, trade.context, trade.bucket)
        rt.policy.record_reward(rt.journal.conn, trade.trade_id, trade.r_multiple, now)
    net = trade.realized_pnl - trade.fees + trade.funding
    log.info("position.closed", f"{trade.symbol} {trade.side} closed by {reason}: PnL {net:.4f} "
             f"({trade.r_multiple if trade.r_multiple is None else round(trade.r_multiple, 3)} R)",
             symbol=trade.symbol, trade_id=trade.trade_id, reason=reason, detail=trade.exit_detail,
             exit_price=trade.exit_price, pnl=trade.realized_pnl, fees=trade.fees, funding=trade.funding,
             net_pnl=net, r_multiple=trade.r_multiple, activity=True)
    rt.count("closed")


async def _orders_of(rt: Runtime, trade: Trade, closing: list[UserTrade]) -> list[Order]:
    """The orders behind the closing fills, in fill order (venue look-ups only for ids we don't know)."""
    out: list[Order] = []
    seen: dict[int, Order] = {}
    for f in closing:
        if f.order_id in seen:
            continue
        try:
            order = await rt.exchange.get_order(trade.symbol, order_id=f.order_id)
        except UnknownOrderError:
            continue
        seen[f.order_id] = order
        out.append(order)
    return out
