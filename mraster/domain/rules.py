"""A symbol's trading rules (exchangeInfo filters) and exact Decimal rounding.

Prices snap to the tick grid anchored at minPrice, quantities to the step grid
anchored at minQty, exactly as the venue checks them. Sizing helpers find the
smallest valid order for a target notional and raise `NoValidOrderError`
instead of letting the venue reject an order.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

Rounding = Literal["down", "up", "nearest"]
_MODES = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}
ZERO = Decimal(0)


class NoValidOrderError(ValueError):
    """No order satisfying the symbol's filters exists for what was asked (a domain error)."""


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def snap(value: Decimal, step: Decimal, anchor: Decimal = ZERO, mode: Rounding = "nearest") -> Decimal:
    """Snap `value` to the grid anchor + k*step (k integer). step == 0 disables snapping."""
    if step <= 0:
        return value
    k = ((value - anchor) / step).to_integral_value(rounding=_MODES[mode])
    out = anchor + k * step
    e_step, e_anchor = step.normalize().as_tuple().exponent, anchor.normalize().as_tuple().exponent
    if not isinstance(e_step, int) or not isinstance(e_anchor, int):    # 'n'/'N'/'F': NaN or infinity
        raise ValueError(f"snap needs a finite step and anchor (got step={step}, anchor={anchor})")
    return out.quantize(Decimal(1).scaleb(min(e_step, e_anchor, 0)))


def on_grid(value: Decimal, step: Decimal, anchor: Decimal = ZERO) -> bool:
    return step <= 0 or (value - anchor) % step == 0


def fmt(value: Decimal) -> str:
    """Plain decimal text for the wire: no exponent, no trailing zeros beyond what is needed."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True, slots=True)
class SymbolRules:
    symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    market_step_size: Decimal | None = None
    market_min_qty: Decimal | None = None
    market_max_qty: Decimal | None = None
    price_precision: int = 8
    quantity_precision: int = 8
    status: str = "TRADING"
    contract_type: str = "PERPETUAL"
    base_asset: str = ""
    quote_asset: str = "USDT"
    margin_asset: str = "USDT"
    max_num_orders: int = 200
    max_num_algo_orders: int = 100
    multiplier_up: Decimal | None = None
    multiplier_down: Decimal | None = None
    trigger_protect: Decimal | None = None
    order_types: tuple[str, ...] = ()
    time_in_force: tuple[str, ...] = ()

    # ------------------------------------------------------------- facts
    @property
    def is_tradable(self) -> bool:
        return self.status == "TRADING" and self.contract_type == "PERPETUAL"

    def lot(self, market: bool) -> tuple[Decimal, Decimal, Decimal]:
        """(step, min, max) of LOT_SIZE, or MARKET_LOT_SIZE for market orders."""
        if market and self.market_step_size is not None:
            return (self.market_step_size, self.market_min_qty or self.min_qty,
                    self.market_max_qty or self.max_qty)
        return self.step_size, self.min_qty, self.max_qty

    # ---------------------------------------------------------- rounding
    def round_price(self, price: Decimal | float | str, mode: Rounding = "nearest") -> Decimal:
        p = snap(to_decimal(price), self.tick_size, self.min_price if self.min_price > 0 else ZERO, mode)
        if self.min_price > 0 and p < self.min_price:
            p = self.min_price
        return p

    def round_qty(self, qty: Decimal | float | str, market: bool = False, mode: Rounding = "down") -> Decimal:
        step, min_qty, _ = self.lot(market)
        return snap(to_decimal(qty), step, min_qty if min_qty > 0 else ZERO, mode)

    # -------------------------------------------------------- validation
    def qty_problem(self, qty: Decimal, market: bool = False) -> str | None:
        step, min_qty, max_qty = self.lot(market)
        if qty <= 0:
            return "quantity must be positive"
        if qty < min_qty:
            return f"quantity {fmt(qty)} below minimum {fmt(min_qty)}"
        if max_qty > 0 and qty > max_qty:
            return f"quantity {fmt(qty)} above maximum {fmt(max_qty)}"
        if not on_grid(qty, step, min_qty if min_qty > 0 else ZERO):
            return f"quantity {fmt(qty)} not a multiple of step {fmt(step)}"
        return None

    def price_problem(self, price: Decimal) -> str | None:
        if price <= 0:
            return "price must be positive"
        if self.min_price > 0 and price < self.min_price:
            return f"price {fmt(price)} below minimum {fmt(self.min_price)}"
        if self.max_price > 0 and price > self.max_price:
            return f"price {fmt(price)} above maximum {fmt(self.max_price)}"
        if not on_grid(price, self.tick_size, self.min_price if self.min_price > 0 else ZERO):
            return f"price {fmt(price)} not a multiple of tick {fmt(self.tick_size)}"
        return None

    def notional_ok(self, qty: Decimal, price: Decimal, reduce_only: bool = False) -> bool:
        return reduce_only or qty * price >= self.min_notional

    # ------------------------------------------------------------ sizing
    def qty_for_notional(self, target_notional: Decimal | float, price: Decimal | float,
                         market: bool = True) -> Decimal:
        """Smallest valid quantity whose notional at `price` is at least `target_notional`
        (and at least the venue's minimum notional). Raises NoValidOrderError if none exists."""
        px = to_decimal(price)
        if px <= 0:
            raise NoValidOrderError(f"{self.symbol}: price must be positive to size an order")
        target = max(to_decimal(target_notional), self.min_notional)
        step, min_qty, max_qty = self.lot(market)
        qty = self.round_qty(target / px, market=market, mode="up")
        if qty < min_qty:
            qty = min_qty
        while qty * px < target and step > 0:   # rounding of target/px can leave us one step short
            qty += step
        if max_qty > 0 and qty > max_qty:
            raise NoValidOrderError(
                f"{self.symbol}: notional {fmt(target)} at {fmt(px)} needs {fmt(qty)}, above max quantity "
                f"{fmt(max_qty)}")
        return qty

    def qty_within_notional(self, max_notional: Decimal | float, price: Decimal | float,
                            market: bool = True) -> Decimal:
        """Largest valid quantity whose notional does not exceed `max_notional`.
        Raises NoValidOrderError when even the minimum order is larger than allowed."""
        px = to_decimal(price)
        if px <= 0:
            raise NoValidOrderError(f"{self.symbol}: price must be positive to size an order")
        step, min_qty, max_qty = self.lot(market)
        qty = self.round_qty(to_decimal(max_notional) / px, market=market, mode="down")
        if max_qty > 0:
            qty = min(qty, self.round_qty(max_qty, market=market, mode="down"))
        if qty < min_qty or qty <= 0 or qty * px < self.min_notional:
            raise NoValidOrderError(
                f"{self.symbol}: no valid quantity within notional {fmt(to_decimal(max_notional))} at {fmt(px)} "
                f"(min qty {fmt(min_qty)}, min notional {fmt(self.min_notional)})")
        return qty
