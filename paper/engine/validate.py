"""The venue's checks on a new order, in the venue's order (reference section 5.2). Pure.

Each failed check raises the VenueError the venue would send, so a client learns the same lesson
from the paper exchange as from the real one.
"""
from __future__ import annotations

import re
from decimal import Decimal

from mraster.domain.types import OrderType, PositionSide, Side, TimeInForce
from paper.engine.errors import VenueError, mandatory, not_required
from paper.engine.model import EAccount, NewOrder
from paper.engine.specs import SymbolSpec

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CALLBACK_MIN, CALLBACK_MAX = Decimal("0.1"), Decimal("5")
D0 = Decimal(0)
_CLOSE_TYPES = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)


def decimals(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def check_shape(req: NewOrder, acct: EAccount, spec: SymbolSpec) -> PositionSide:
    """Mandatory parameters, position mode and combinations. Returns the effective position side."""
    t = req.type
    if spec.rules.status != "TRADING":
        raise VenueError(-4140, "Invalid symbol status for opening position.")
    if t.value not in spec.rules.order_types and spec.rules.order_types:
        raise VenueError(-1116, "Invalid orderType.")
    if req.close_position and t not in _CLOSE_TYPES:
        raise not_required("closePosition")
    needs_qty = not (req.close_position and t in _CLOSE_TYPES)
    if needs_qty and req.quantity is None:
        raise mandatory("quantity")
    if t in (OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT) and req.price is None:
        raise mandatory("price")
    if t is OrderType.LIMIT and req.time_in_force is None:
        raise mandatory("timeInForce")
    if t in (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET) \
            and req.stop_price is None:
        raise mandatory("stopPrice")
    if t is OrderType.TRAILING_STOP_MARKET and req.callback_rate is None:
        raise mandatory("callbackRate")
    tif = req.time_in_force
    if tif is not None and spec.rules.time_in_force and tif.value not in spec.rules.time_in_force:
        raise VenueError(-1115, "Invalid timeInForce.")
    # position mode
    ps = req.position_side
    if acct.dual_side:
        if ps is None or ps is PositionSide.BOTH:
            raise VenueError(-4061, "Order's position side does not match user's setting.")
        if req.reduce_only is not None:
            raise not_required("reduceonly")
        if req.close_position and ((req.side is Side.BUY) == (ps is PositionSide.LONG)):
            raise VenueError(-1128, "Combination of optional parameters invalid.")
    else:
        if ps is not None and ps is not PositionSide.BOTH:
            raise VenueError(-4061, "Order's position side does not match user's setting.")
        ps = PositionSide.BOTH
    if req.close_position:
        if req.quantity is not None:
            raise VenueError(-4137, "Quantity can not be greater than zero when closePosition is true.")
        if req.reduce_only:
            raise VenueError(-4138, "Reduce only must be true when closePosition is true.")
    cid = req.client_order_id
    if cid is not None and not CLIENT_ID_RE.match(cid):
        raise VenueError(-4015, "Client order id is not valid.")
    if cid is not None and (req.symbol, cid) in acct.client_ids:
        raise VenueError(-4116, "ClientOrderId is duplicated.")
    return ps


def check_filters(req: NewOrder, spec: SymbolSpec, mark: Decimal, callback_max: Decimal = CALLBACK_MAX) -> None:
    """Precision, PRICE_FILTER (price, stopPrice, activationPrice), LOT_SIZE, PERCENT_PRICE, MIN_NOTIONAL."""
    r = spec.rules
    for value in (req.price, req.stop_price, req.activation_price):
        if value is not None and decimals(value) > max(r.price_precision, decimals(r.tick_size)):
            raise VenueError(-1111, "Precision is over the maximum defined for this asset.")
    if req.quantity is not None and decimals(req.quantity) > r.quantity_precision:
        raise VenueError(-1111, "Precision is over the maximum defined for this asset.")
    if req.price is not None:
        _check_price(req.price, spec, (-4001, "Price less than 0."), (-4013, "Price less than min price."),
                     (-4002, "Price greater than max price."))
    if req.stop_price is not None:
        _check_price(req.stop_price, spec, (-4006, "Stop price less than zero."),
                     (-4006, "Stop price less than min price."), (-4007, "Stop price greater than max price."))
    if req.activation_price is not None:
        if req.activation_price <= 0 or (r.max_price > 0 and req.activation_price > r.max_price):
            raise VenueError(-4135, "Invalid activation price.")
    if req.callback_rate is not None and not CALLBACK_MIN <= req.callback_rate <= callback_max:
        raise VenueError(-1130, "Data sent for parameter 'callbackRate' is not valid.")
    qty = req.quantity
    if qty is not None:
        step, min_qty, max_qty = r.lot(req.type is OrderType.MARKET)
        if qty <= 0:
            raise VenueError(-4003, "Quantity less than zero.")
        if qty < min_qty:
            raise VenueError(-4004, "Quantity less than min qty.")
        if max_qty > 0 and qty > max_qty:
            raise VenueError(-4005, "Quantity greater than max qty.")
        if step > 0 and (qty - (min_qty if min_qty > 0 else D0)) % step != 0:
            raise VenueError(-4023, "Quantity not increased by step size.")
    if req.price is not None and mark > 0 and r.multiplier_up is not None and r.multiplier_down is not None:
        if req.side is Side.BUY and req.price > mark * r.multiplier_up:
            raise VenueError(-4016, f"Limit price can't be higher than {spec.rules.round_price(mark * r.multiplier_up, 'down')}.")
        if req.side is Side.SELL and req.price < mark * r.multiplier_down:
            raise VenueError(-4024, f"Limit price can't be lower than {spec.rules.round_price(mark * r.multiplier_down, 'up')}.")


def _check_price(price: Decimal, spec: SymbolSpec, neg: tuple, low: tuple, high: tuple) -> None:
    r = spec.rules
    if price <= 0:
        raise VenueError(*neg)
    if r.min_price > 0 and price < r.min_price:
        raise VenueError(*low)
    if r.max_price > 0 and price > r.max_price:
        raise VenueError(*high)
    anchor = r.min_price if r.min_price > 0 else D0
    if r.tick_size > 0 and (price - anchor) % r.tick_size != 0:
        raise VenueError(-4014, "Price not increased by tick size.")


def check_min_notional(req: NewOrder, spec: SymbolSpec, ref_price: Decimal, exempt: bool) -> None:
    if exempt or req.quantity is None or spec.rules.min_notional <= 0:
        return
    if req.quantity * ref_price < spec.rules.min_notional:
        raise VenueError(-4164, f"Order's notional must be no smaller than {spec.rules.min_notional} "
                                "(unless you choose reduce only).")


def check_would_trigger(req: NewOrder, working_t: int, stop_t: int) -> None:
    """STOP/TP orders whose condition already holds, rejected as the venue does (-2021)."""
    t = req.type
    buy = req.side is Side.BUY
    if t in (OrderType.STOP, OrderType.STOP_MARKET):
        fires = working_t >= stop_t if buy else working_t <= stop_t
    elif t in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET):
        fires = working_t <= stop_t if buy else working_t >= stop_t
    else:
        return
    if fires:
        raise VenueError(-2021, "Order would immediately trigger.")


def check_time_in_force(req: NewOrder) -> TimeInForce:
    if req.type in (OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT):
        return req.time_in_force or TimeInForce.GTC
    return TimeInForce.GTC
