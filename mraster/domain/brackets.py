"""Bracket (stop-loss / take-profit) prices from entry, side and ATR. Pure.

Used by the bot when it enters and by the guard when the bot's intended levels
are missing, so both compute the same levels from the same inputs.
Long:  stop = entry - ASTER_SL_ATR_MULT * ATR, take-profit = entry + ASTER_TP_ATR_MULT * ATR.
Short: mirrored. The stop is rounded away from the entry (never tighter than asked),
the take-profit toward it (never further), and each stays at least one tick from the entry.
Every level is on the symbol's tick grid, also when the entry (an average fill price) is not;
a level the venue would refuse (outside min/max price) raises NoValidOrderError instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mraster.domain.rules import NoValidOrderError, SymbolRules, to_decimal
from mraster.domain.types import Side


@dataclass(frozen=True, slots=True)
class Brackets:
    stop: Decimal
    take_profit: Decimal

    def risk_per_unit(self, entry: Decimal) -> Decimal:
        return abs(entry - self.stop)


def bracket_prices(entry: Decimal, side: Side, atr: float, sl_mult: float, tp_mult: float,
                   rules: SymbolRules) -> Brackets:
    """Stop and take-profit for a position entered at `entry` on `side` (BUY = long)."""
    if not atr or atr <= 0 or atr != atr:
        raise NoValidOrderError(f"{rules.symbol}: ATR must be positive to place brackets (got {atr})")
    entry = to_decimal(entry)
    tick = rules.tick_size if rules.tick_size > 0 else Decimal(0)
    sl_dist = to_decimal(atr) * to_decimal(sl_mult)
    tp_dist = to_decimal(atr) * to_decimal(tp_mult)
    # The one-tick minimums are snapped too: an average fill price is usually off the grid, and
    # `entry - tick` of an off-grid entry is itself off the grid.
    if side is Side.BUY:
        stop = min(rules.round_price(entry - sl_dist, "down"), rules.round_price(entry - tick, "down"))
        take = max(rules.round_price(entry + tp_dist, "down"), rules.round_price(entry + tick, "up"))
        wrong_side = stop >= entry or take <= entry
    else:
        stop = max(rules.round_price(entry + sl_dist, "up"), rules.round_price(entry + tick, "up"))
        take = min(rules.round_price(entry - tp_dist, "up"), rules.round_price(entry - tick, "down"))
        wrong_side = stop <= entry or take >= entry
    if stop <= 0 or take <= 0 or wrong_side:
        raise NoValidOrderError(f"{rules.symbol}: no valid bracket levels around {entry} "
                                f"(stop {stop}, take-profit {take})")
    for name, level in (("stop", stop), ("take-profit", take)):
        problem = rules.price_problem(level)
        if problem:
            raise NoValidOrderError(f"{rules.symbol}: {name} {level} not placeable: {problem}")
    return Brackets(stop=stop, take_profit=take)


def stop_crossed(side: Side, stop: Decimal, price: Decimal | float) -> bool:
    """True when `price` is already at or through the stop of a position entered on `side`:
    placing that stop would trigger at once."""
    p = to_decimal(price)
    return p <= stop if side is Side.BUY else p >= stop


def take_profit_crossed(side: Side, take_profit: Decimal, price: Decimal | float) -> bool:
    p = to_decimal(price)
    return p >= take_profit if side is Side.BUY else p <= take_profit
