"""Binance's Algo Service routes (binance-algo-orders.md 2-4), served in the binance-usdm profile only.

Same HMAC signing as every other call. Parameter names differ from the order endpoint (`triggerPrice`,
`activatePrice`, `clientAlgoId`, mandatory `algoType=CONDITIONAL`); the engine's checks and trigger rules
are the order endpoint's (engine/algo.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mraster.domain.types import OrderType, PositionSide, Side, TimeInForce, WorkingType
from paper.engine.errors import VenueError, invalid, mandatory
from paper.engine.model import NewOrder
from paper.params import Params
from paper.server import SIGNED, PaperApp, Req
from paper.wire import algo_json

if TYPE_CHECKING:
    from paper.venue import Venue

SEVEN_DAYS = 7 * 86_400_000
THREE_DAYS = 3 * 86_400_000
NINETY_DAYS = 90 * 86_400_000
_TRIGGERED_TYPES = (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)


def algo_order(p: Params) -> NewOrder:
    """A new algo order's parameters as the engine's NewOrder (syntax only)."""
    algo_type = p.str("algoType", True)
    if algo_type.upper() != "CONDITIONAL":
        raise invalid("algoType")
    kind = p.enum("type", OrderType, True)
    if not kind.is_conditional:
        raise VenueError(-1116, "Invalid orderType.")
    trigger = p.decimal("triggerPrice")
    if kind in _TRIGGERED_TYPES and trigger is None:
        raise mandatory("triggerPrice")
    for flag in ("priceProtect", "reduceOnly", "closePosition"):      # "TRUE"/"true" both accepted
        value = p.str(flag)
        if value is not None and value.lower() not in ("true", "false"):
            raise invalid(flag)
    resp = (p.str("newOrderRespType") or "ACK").upper()
    if resp not in ("ACK", "RESULT"):
        raise VenueError(-1136, "Invalid newOrderRespType.")
    return NewOrder(
        symbol=p.symbol(), side=p.enum("side", Side, True), type=kind, quantity=p.decimal("quantity"),
        price=p.decimal("price"), stop_price=trigger, time_in_force=p.enum("timeInForce", TimeInForce),
        position_side=p.enum("positionSide", PositionSide), reduce_only=p.bool("reduceOnly"),
        close_position=bool(p.bool("closePosition")),
        working_type=p.enum("workingType", WorkingType) or WorkingType.CONTRACT_PRICE,
        price_protect=bool(p.bool("priceProtect")), activation_price=p.decimal("activatePrice"),
        callback_rate=p.decimal("callbackRate"), client_order_id=p.str("clientAlgoId"), response_type=resp)


def register(app: PaperApp, v: "Venue") -> None:
    f = v.formats
    eng = v.engine

    def ids(p: Params) -> tuple[int | None, str | None]:
        algo_id, client_id = p.int("algoId"), p.str("clientAlgoId")
        if algo_id is None and client_id is None:
            raise VenueError(-1102, "Either algoId or clientAlgoId must be sent.")
        return algo_id, client_id

    def place(req: Req) -> dict[str, Any]:
        try:
            return algo_json(eng.place_algo(req.key, algo_order(req.params), v.now()), f)
        finally:
            v.commit()

    def query(req: Req) -> dict[str, Any]:
        algo_id, client_id = ids(req.params)
        order = eng.find_algo(req.key, algo_id, client_id) or v.store.find_algo(req.key, algo_id, client_id)
        age = v.now() - (order.time if order else 0)
        if order is None or age > NINETY_DAYS or (
                order.algo_status in ("CANCELED", "EXPIRED") and not order.executed_qty and age > THREE_DAYS):
            raise VenueError(-2013, "Order does not exist.")
        return algo_json(order, f, query=True)

    def cancel(req: Req) -> dict[str, Any]:
        algo_id, client_id = ids(req.params)
        try:
            order = eng.cancel_algo(req.key, algo_id, client_id, v.now())
        finally:
            v.commit()
        return {"algoId": order.order_id, "clientAlgoId": order.client_order_id, "code": "200", "msg": "success"}

    def open_algo(req: Req) -> list[dict[str, Any]]:
        p = req.params
        symbol = p.symbol(required=False)
        if symbol:
            v.spec(symbol)
        algo_type, algo_id = p.str("algoType"), p.int("algoId")
        if algo_type is not None and algo_type.upper() != "CONDITIONAL":
            return []
        acct = eng.accounts.get(req.key)
        orders = [] if acct is None else [o for o in acct.open_orders.values() if o.algo_service
                                          and symbol in (None, o.symbol) and algo_id in (None, o.order_id)]
        return [algo_json(o, f, listing=True) for o in sorted(orders, key=lambda o: o.order_id)]

    def all_algo(req: Req) -> list[dict[str, Any]]:
        p = req.params
        symbol = p.symbol()
        v.spec(symbol)
        limit = p.int("limit", default=500)
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        start, end = p.int("startTime"), p.int("endTime")
        if start is not None and end is not None and end - start >= SEVEN_DAYS:
            raise VenueError(-4165, "Maximum time interval is 7 days")
        algo_id = p.int("algoId")
        if algo_id is None and start is None and end is None:
            start = v.now() - SEVEN_DAYS
        v.commit()
        return [algo_json(o, f, listing=True) for o in v.store.algo_orders(req.key, symbol, from_id=algo_id,
                                                                           start=start, end=end, limit=limit)]

    def cancel_all(req: Req) -> dict[str, Any]:
        symbol = req.params.symbol()
        v.spec(symbol)
        try:
            eng.cancel_all_algo(req.key, symbol, v.now())
        finally:
            v.commit()
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    add = app.add
    add("POST", "/fapi/v1/algoOrder", place, SIGNED, weight=0, order=True)
    add("GET", "/fapi/v1/algoOrder", query, SIGNED)
    add("DELETE", "/fapi/v1/algoOrder", cancel, SIGNED)
    add("GET", "/fapi/v1/openAlgoOrders", open_algo, SIGNED, weight=lambda p: 1 if p.get("symbol") else 40)
    add("GET", "/fapi/v1/allAlgoOrders", all_algo, SIGNED, weight=5)
    add("DELETE", "/fapi/v1/algoOpenOrders", cancel_all, SIGNED)
