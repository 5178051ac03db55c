"""Small builders of domain objects for the guard's tests, and a model venue that applies a plan.

`apply_plan` is the venue's bookkeeping reduced to what the planner's tests need (orders appear,
disappear, positions close); it lets a test check that planning again after acting finds nothing
left to do. The real venue (the paper exchange) is exercised by the integration tests.
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import count

from mraster.domain.rules import SymbolRules
from mraster.domain.types import (
    Order, OrderStatus, OrderType, Position, PositionSide, Side, WorkingType,
)
from guard.planner import ActionKind, Plan

D = Decimal
_ids = count(1000)

RULES = {
    "BTCUSDT": SymbolRules("BTCUSDT", tick_size=D("0.1"), step_size=D("0.001"), min_qty=D("0.001"),
                           max_qty=D("1000"), min_notional=D("5"), market_step_size=D("0.001"),
                           market_min_qty=D("0.001"), market_max_qty=D("120")),
    "ETHUSDT": SymbolRules("ETHUSDT", tick_size=D("0.01"), step_size=D("0.001"), min_qty=D("0.001"),
                           max_qty=D("10000"), min_notional=D("5")),
}


def pos(symbol="BTCUSDT", amount="0.5", entry="30000", mark="30000", side=PositionSide.BOTH) -> Position:
    return Position(symbol=symbol, position_side=side, amount=D(amount), entry_price=D(entry), mark_price=D(mark))


def order(symbol="BTCUSDT", cid="x", side=Side.SELL, type=OrderType.STOP_MARKET, stop="29000", qty="0",
          close_position=True, reduce_only=False, wt=WorkingType.MARK_PRICE, position_side=PositionSide.BOTH,
          time=1, order_id=None, price_rate=None, activate=None, executed="0") -> Order:
    return Order(symbol=symbol, order_id=order_id if order_id is not None else next(_ids), client_order_id=cid,
                 side=side, type=type, status=OrderStatus.NEW, orig_qty=D(qty), executed_qty=D(executed),
                 stop_price=D(stop), close_position=close_position, reduce_only=reduce_only, working_type=wt,
                 position_side=position_side, time=time, price_rate=None if price_rate is None else D(price_rate),
                 activate_price=None if activate is None else D(activate))


def apply_plan(positions: list[Position], orders: list[Order], plan: Plan) -> tuple[list[Position], list[Order]]:
    """What the venue would hold after the plan's actions (no triggers, no rejections)."""
    positions, orders = list(positions), list(orders)

    def cancel(o: Order) -> None:
        orders[:] = [x for x in orders if x.order_id != o.order_id]

    for a in plan.actions:
        if a.kind is ActionKind.CANCEL and a.order is not None:
            cancel(a.order)
        elif a.kind is ActionKind.CANCEL_ALL:
            orders[:] = [x for x in orders if x.symbol != a.symbol]
        elif a.kind is ActionKind.CLOSE and a.request is not None:
            r = a.request
            for i, p in enumerate(positions):
                if p.symbol == r.symbol and p.position_side is r.position_side and p.exit_side is r.side:
                    left = p.qty - (r.quantity or D(0))
                    positions[i] = replace(p, amount=left if p.is_long else -left)
            positions = [p for p in positions if not p.is_flat]
        elif a.kind is ActionKind.PLACE and a.request is not None:
            for o in a.cancel_before:
                cancel(o)
            r = a.request
            assert all(not (x.symbol == r.symbol and x.client_order_id == r.client_order_id) for x in orders), \
                f"id {r.client_order_id} still held by an open order"
            orders.append(Order(symbol=r.symbol, order_id=next(_ids), client_order_id=r.client_order_id,
                                side=r.side, type=r.type, status=OrderStatus.NEW, orig_qty=r.quantity or D(0),
                                stop_price=r.stop_price or D(0), reduce_only=r.reduce_only,
                                close_position=r.close_position,
                                working_type=r.working_type or WorkingType.CONTRACT_PRICE,
                                position_side=r.position_side, price_rate=r.callback_rate,
                                activate_price=r.activation_price, time=10**12))
            for o in a.replaces:
                cancel(o)
    return positions, orders
