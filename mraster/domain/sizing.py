"""Position sizing and open-position limits. Pure: Decimal money, no I/O.

    base notional = equity * ASTER_RISK_PER_TRADE / |entry - stop| * entry     (risk sizing)
                  = ASTER_DEFAULT_NOTIONAL when that cannot be computed (no equity, stop distance
                    zero or not a number)
    notional      = base * ASTER_SIZE_MULT * ASTER_SIZE_MULT_<bucket>
                    (bucket BASE, the plain sizing layer used when the bandit is off: no bucket multiplier)
                    clamped to [ASTER_MIN_NOTIONAL_USDT, ASTER_MAX_NOTIONAL_USDT]
                    and to the margin room: (equity * ASTER_EQUITY_FRACTION - margin in use) * leverage
    quantity      = the largest valid quantity (symbol filters) whose notional does not exceed that;
                    if rounding down leaves it below the minimum, the smallest valid quantity at or
                    above the minimum, as long as it still fits under the ceiling.
    caps          = the ceiling (max notional, margin room) is checked at the WORST price the entry order
                    may fill at (`worst_price`: the IOC limit, or the book plus the slippage allowance),
                    so the cap still holds after the fill; the target is sized at the book price.
Otherwise `SizingRejected` (a NoValidOrderError) with a reason code the bot logs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, TypeGuard

from mraster.domain.rules import NoValidOrderError, SymbolRules, to_decimal
from mraster.domain.types import Position

BUCKETS = ("S", "M", "L")
PLAIN = "BASE"          # plain sizing layer: base size x ASTER_SIZE_MULT, no bucket multiplier
ZERO = Decimal(0)


class SizingRejected(NoValidOrderError):
    """No order size satisfies the settings and the symbol's filters; `reason` is a short code."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SizingParams:
    risk_per_trade: float = 0.007
    size_mult: float = 1.0
    bucket_mults: dict[str, float] = field(default_factory=lambda: {"S": 1.0, "M": 1.4, "L": 1.9})
    min_notional: float = 5.0
    max_notional: float = 300.0
    default_notional: float = 120.0
    leverage: int = 3
    equity_fraction: float = 0.25

    @classmethod
    def from_settings(cls, s: Any) -> "SizingParams":
        return cls(risk_per_trade=s.risk_per_trade, size_mult=s.size_mult,
                   bucket_mults={"S": s.size_mult_s, "M": s.size_mult_m, "L": s.size_mult_l},
                   min_notional=s.min_notional_usdt, max_notional=s.max_notional_usdt,
                   default_notional=s.default_notional, leverage=s.leverage, equity_fraction=s.equity_fraction)


@dataclass(frozen=True, slots=True)
class SizeDecision:
    qty: Decimal
    notional: Decimal           # qty * price
    margin: Decimal             # notional / leverage
    method: str                 # "risk" or "default"
    target_notional: Decimal    # after multipliers, clamps and the margin cap, before the symbol filters
    notes: tuple[str, ...] = ()
    mult: float = 1.0           # ASTER_SIZE_MULT x the bucket's multiplier (1 for BASE)
    worst_notional: Decimal | None = None   # qty * worst price: what the cap was checked against


def _finite_positive(x: Decimal | None) -> TypeGuard[Decimal]:
    return x is not None and x.is_finite() and x > 0


def size_position(*, equity: Decimal | float | None, price: Decimal | float, stop_distance: Decimal | float | None,
                  bucket: str, rules: SymbolRules, params: SizingParams, margin_in_use: Decimal | float = ZERO,
                  market: bool = True, worst_price: Decimal | float | None = None) -> SizeDecision:
    if bucket not in BUCKETS and bucket != PLAIN:
        raise ValueError(f"unknown size bucket {bucket!r} (expected one of {', '.join(BUCKETS)} or {PLAIN})")
    px = to_decimal(price)
    if not _finite_positive(px):
        raise SizingRejected("size", f"{rules.symbol}: no usable price to size an order (got {price})")
    worst = max(px, to_decimal(worst_price)) if worst_price is not None else px
    eq = None if equity is None or (isinstance(equity, float) and math.isnan(equity)) else to_decimal(equity)
    dist = None if stop_distance is None or (isinstance(stop_distance, float) and math.isnan(stop_distance)) \
        else to_decimal(stop_distance)
    notes: list[str] = []
    if _finite_positive(eq) and _finite_positive(dist) and params.risk_per_trade > 0:
        base = eq * to_decimal(params.risk_per_trade) / dist * px
        method = "risk"
    else:
        base = to_decimal(params.default_notional)
        method = "default"
        notes.append("risk sizing undecidable (no equity or no stop distance): default notional")
    mult = to_decimal(params.size_mult) * (to_decimal(params.bucket_mults[bucket]) if bucket != PLAIN else 1)
    target = base * mult
    lo, hi = to_decimal(params.min_notional), to_decimal(params.max_notional)
    if target < lo:
        target = lo
        notes.append("raised to min notional")
    if target > hi:
        target = hi
        notes.append("cut to max notional")
    ceiling = hi
    if _finite_positive(eq):
        room = eq * to_decimal(params.equity_fraction) - to_decimal(margin_in_use)
        cap = max(room, ZERO) * params.leverage
        if cap < target:
            if cap < lo or cap <= 0:
                raise SizingRejected(
                    "equity_fraction",
                    f"{rules.symbol}: margin in use {to_decimal(margin_in_use):.2f} leaves room for only "
                    f"{cap:.2f} notional at {params.leverage}x (ASTER_EQUITY_FRACTION={params.equity_fraction})")
            target = cap
            notes.append("cut to the equity-fraction margin cap")
        ceiling = min(ceiling, cap)
    if mult <= 0:
        raise SizingRejected("size", f"{rules.symbol}: size multiplier is zero (ASTER_SIZE_MULT x bucket {bucket})")
    qty = _fit_qty(rules, target, px, lo, ceiling, market, worst)
    if worst > px and qty * px < target and target * worst / px > ceiling:
        notes.append(f"cut so the cap holds at the worst fill price {worst}")
    notional = qty * px
    return SizeDecision(qty=qty, notional=notional, margin=qty * worst / params.leverage, method=method,
                        target_notional=target, notes=tuple(notes), mult=float(mult), worst_notional=qty * worst)


def _fit_qty(rules: SymbolRules, target: Decimal, px: Decimal, floor: Decimal, ceiling: Decimal,
             market: bool, worst: Decimal) -> Decimal:
    """Largest valid quantity near `target` at `px` whose notional at the worst price `worst` stays within
    `ceiling` (the smallest valid one at or above `floor` when rounding leaves it short)."""
    try:
        cap_qty = rules.qty_within_notional(ceiling, worst, market=market)
    except NoValidOrderError as exc:
        raise SizingRejected("size", f"{rules.symbol}: no valid order fits the allowed notional {ceiling:.4f} at "
                                     f"the worst fill price {worst} ({exc})") from None
    try:
        qty = min(rules.qty_within_notional(target, px, market=market), cap_qty)
        if qty * px >= floor:
            return qty
    except NoValidOrderError:
        pass
    try:
        qty = rules.qty_for_notional(max(target, floor), px, market=market)
    except NoValidOrderError as exc:
        raise SizingRejected("size", str(exc)) from None
    if qty * worst > ceiling:
        raise SizingRejected(
            "size", f"{rules.symbol}: the smallest valid order ({qty} at worst {worst} = {qty * worst:.4f}) is "
                    f"above the allowed notional {ceiling:.4f}")
    return qty


def margin_in_use(positions: Iterable[Position]) -> Decimal:
    """Initial margin of open positions: |notional| / leverage (notional from mark, else entry price)."""
    total = ZERO
    for p in positions:
        notional = abs(p.notional) if p.notional else p.qty * (p.mark_price or p.entry_price)
        total += notional / max(p.leverage, 1)
    return total


def open_slots(open_symbols: Iterable[str], symbol: str, max_global: int, max_per_symbol: int) -> str | None:
    """Reason code when a new entry on `symbol` would break a position limit, else None."""
    symbols = list(open_symbols)
    if symbol in symbols:
        return "position_open"      # never a second entry on a symbol with a position
    if max_per_symbol <= 0:
        return "max_open_symbol"
    if len(symbols) >= max_global:
        return "max_open_global"
    return None
