"""Binance Algo Service objects and ALGO_UPDATE events -> domain `Order` / `OrderUpdate`.

An algo order is shown to bot and guard as an ordinary conditional `Order`:
`order_id` = algoId, `client_order_id` = clientAlgoId, `type` = the conditional
type, `stop_price` = triggerPrice. Its life (binance-algo-orders.md §5.1) maps to
order statuses:

    NEW, TRIGGERING   -> NEW          (waiting for its trigger: still protects)
    TRIGGERED         -> NEW          (a regular child order exists; the client follows it)
    FINISHED          -> FILLED when something executed, else EXPIRED
    CANCELED          -> CANCELED
    REJECTED          -> REJECTED
    EXPIRED           -> EXPIRED

Fills and fees never come from here: only the child's ORDER_TRADE_UPDATE
carries them (an algo event has no last-fill fields, so last_filled_qty is 0).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mraster.domain.types import (
    ZERO, ExecutionType, Order, OrderStatus, OrderType, OrderUpdate, PositionSide, Side, TimeInForce, WorkingType,
)
from mraster.exchange.wire import WireError, boolean, dec, enum, integer, obj, opt, req, text, time_in_force

OPEN_ALGO_STATUSES = frozenset({"NEW", "TRIGGERING", "TRIGGERED"})
FINAL_ALGO_STATUSES = frozenset({"FINISHED", "CANCELED", "REJECTED", "EXPIRED"})
_EXEC = {OrderStatus.NEW: ExecutionType.NEW, OrderStatus.CANCELED: ExecutionType.CANCELED,
         OrderStatus.EXPIRED: ExecutionType.EXPIRED, OrderStatus.REJECTED: ExecutionType.EXPIRED,
         OrderStatus.FILLED: ExecutionType.TRADE}


@dataclass(frozen=True)
class AlgoView:
    """One algo order as the venue reported it: the domain view plus what the client needs to follow it."""
    order: Order
    algo_status: str
    child_order_id: int | None      # actualOrderId / `ai` once triggered

    @property
    def algo_id(self) -> int:
        return self.order.order_id

    @property
    def is_open(self) -> bool:
        return self.algo_status in OPEN_ALGO_STATUSES


def order_status(algo_status: str, executed: Any) -> OrderStatus:
    s = algo_status.upper()
    if s in OPEN_ALGO_STATUSES:
        return OrderStatus.NEW
    if s == "FINISHED":
        return OrderStatus.FILLED if executed > ZERO else OrderStatus.EXPIRED
    try:
        return OrderStatus(s)
    except ValueError:
        raise WireError(f"algoStatus: unknown value {algo_status!r}") from None


def _child_id(value: Any) -> int | None:
    if value is None or value == "" or str(value) == "0":
        return None
    return integer(value, "actualOrderId")


def _bool_text(value: Any, name: str) -> bool:
    return boolean(str(value).lower() if isinstance(value, str) else value, name)


def algo_order(d: Any) -> AlgoView:
    """POST/GET /fapi/v1/algoOrder, items of openAlgoOrders / allAlgoOrders."""
    kind = req(d, "orderType", lambda v, n: enum(OrderType, v, n))
    algo_status = req(d, "algoStatus", text)
    executed = opt(d, "actualQty", dec, ZERO)
    order = Order(
        symbol=req(d, "symbol", text), order_id=req(d, "algoId", integer),
        client_order_id=req(d, "clientAlgoId", text), side=req(d, "side", lambda v, n: enum(Side, v, n)),
        type=kind, status=order_status(algo_status, executed), orig_qty=opt(d, "quantity", dec, ZERO),
        executed_qty=executed, price=opt(d, "price", dec, ZERO), avg_price=opt(d, "actualPrice", dec, ZERO),
        stop_price=opt(d, "triggerPrice", dec, ZERO), cum_quote=executed * opt(d, "actualPrice", dec, ZERO),
        orig_type=kind, time_in_force=opt(d, "timeInForce", time_in_force, TimeInForce.GTC),
        position_side=opt(d, "positionSide", lambda v, n: enum(PositionSide, v, n), PositionSide.BOTH),
        reduce_only=opt(d, "reduceOnly", _bool_text, False), close_position=opt(d, "closePosition", _bool_text, False),
        working_type=opt(d, "workingType", lambda v, n: enum(WorkingType, v, n), WorkingType.CONTRACT_PRICE),
        price_protect=opt(d, "priceProtect", _bool_text, False), activate_price=opt(d, "activatePrice", dec, None),
        price_rate=opt(d, "callbackRate", dec, None), time=opt(d, "createTime", integer, 0),
        update_time=opt(d, "updateTime", integer, 0))
    return AlgoView(order, algo_status.upper(), _child_id(d.get("actualOrderId")))


def algo_update(d: Mapping[str, Any]) -> tuple[OrderUpdate, AlgoView]:
    """ALGO_UPDATE -> an OrderUpdate on the algo order (so the guard re-checks the symbol as for any
    order event) and the view (so the client can link the child order)."""
    o = req(d, "o", obj)
    kind = enum(OrderType, req(o, "o", text), "o")
    algo_status = req(o, "X", text)
    executed = opt(o, "aq", dec, ZERO)
    status = order_status(algo_status, executed)
    avg = opt(o, "ap", dec, ZERO)
    order = Order(
        symbol=req(o, "s", text), order_id=req(o, "aid", integer), client_order_id=req(o, "caid", text),
        side=enum(Side, req(o, "S", text), "S"), type=kind, status=status, orig_qty=opt(o, "q", dec, ZERO),
        executed_qty=executed, price=opt(o, "p", dec, ZERO), avg_price=avg, stop_price=opt(o, "tp", dec, ZERO),
        cum_quote=executed * avg, orig_type=kind, time_in_force=opt(o, "f", time_in_force, TimeInForce.GTC),
        position_side=enum(PositionSide, o.get("ps") or "BOTH", "ps"), reduce_only=opt(o, "R", _bool_text, False),
        close_position=opt(o, "cp", _bool_text, False),
        working_type=enum(WorkingType, o.get("wt") or "CONTRACT_PRICE", "wt"),
        price_protect=opt(o, "pP", _bool_text, False), update_time=opt(d, "T", integer, 0))
    event = OrderUpdate(event_time=req(d, "E", integer), transaction_time=opt(d, "T", integer, 0), order=order,
                        execution_type=_EXEC.get(status, ExecutionType.NEW))
    return event, AlgoView(order, algo_status.upper(), _child_id(o.get("ai")))
