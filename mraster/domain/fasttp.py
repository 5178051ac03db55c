"""FastTP: trim a winning trade when it starts to turn. Pure.

Two actions (FASTTP_MODE):
- "partial" (default, as the original README describes it: "trims risk during adverse moves ... before
  FastTP considers partial exits"): close FASTTP_PARTIAL_FRACTION of the position reduce-only at market,
  once per trade; the stop and take-profit (close-position orders) keep protecting the rest. A position
  too small to split into two valid quantities gets the pull-in instead.
- "pull_in": move the take-profit to just beyond the price.

Fires when all hold:
- FAST_TP_ENABLED, and no FastTP action on the symbol in the last FASTTP_COOLDOWN_S (venue time);
- unrealised R = (price - entry) * sign / risk_per_unit >= FASTTP_MIN_R;
- the last closed 1-bar return <= FAST_TP_RET1 or the 3-bar return <= FAST_TP_RET3, both signed in
  the trade's favour (for a short a rising close is a negative return);
- partial: the trade was not trimmed yet;
- pull-in: the new take-profit, price + sign * FASTTP_SNAP_ATR * ATR (rounded toward the price, at
  least one tick beyond it, on the tick grid), is nearer to the price than the current take-profit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from mraster.domain.rules import SymbolRules, to_decimal
from mraster.domain.types import Side


@dataclass(frozen=True, slots=True)
class FastTPParams:
    enabled: bool = True
    min_r: float = 0.25
    ret1: float = -0.001
    ret3: float = -0.002
    snap_atr: float = 0.25
    cooldown_s: float = 45.0
    mode: str = "partial"             # "partial" or "pull_in"
    partial_fraction: float = 0.5

    @classmethod
    def from_settings(cls, s: Any) -> "FastTPParams":
        return cls(enabled=s.fast_tp_enabled, min_r=s.fasttp_min_r, ret1=s.fast_tp_ret1, ret3=s.fast_tp_ret3,
                   snap_atr=s.fasttp_snap_atr, cooldown_s=s.fasttp_cooldown_s, mode=s.fasttp_mode,
                   partial_fraction=s.fasttp_partial_fraction)


@dataclass(frozen=True, slots=True)
class FastTPDecision:
    fire: bool
    reason: str                       # "fire" or why not
    r_now: float = float("nan")
    ret1: float = float("nan")
    ret3: float = float("nan")
    new_take_profit: Decimal | None = None   # pull-in: the new level
    exit_qty: Decimal | None = None          # partial: how much to close (on the market lot grid)

    @property
    def action(self) -> str:
        return "partial" if self.exit_qty is not None else "pull_in"


def favourable_returns(closes: Sequence[float], side: Side) -> tuple[float, float]:
    """(1-bar, 3-bar) returns of the last closed bars, signed so that positive = in the trade's favour."""
    c = [float(x) for x in closes]
    sign = side.sign
    r1 = (c[-1] / c[-2] - 1.0) * sign if len(c) >= 2 and c[-2] > 0 else float("nan")
    r3 = (c[-1] / c[-4] - 1.0) * sign if len(c) >= 4 and c[-4] > 0 else float("nan")
    return r1, r3


def in_cooldown(last_action_ms: int | None, now_ms: int, cooldown_s: float) -> bool:
    if not last_action_ms:      # never acted (None) or no timestamp (0)
        return False
    return now_ms - int(last_action_ms) < cooldown_s * 1000.0


def partial_exit_qty(qty: Decimal, fraction: float, rules: SymbolRules) -> Decimal | None:
    """Quantity to close so that about `fraction` of `qty` goes, on the market lot grid; None when the
    position cannot be split into two valid quantities (what would go or what would stay is below the
    market minimum)."""
    step, min_qty, max_qty = rules.lot(market=True)
    qty = to_decimal(qty)
    if qty <= 0 or not 0 < fraction < 1:
        return None
    part = rules.round_qty(qty * to_decimal(fraction), market=True, mode="down")
    if part < min_qty:
        part = rules.round_qty(min_qty, market=True, mode="up")
    if max_qty > 0 and part > max_qty:
        part = rules.round_qty(max_qty, market=True, mode="down")
    if part <= 0 or part >= qty or qty - part < min_qty or rules.qty_problem(part, market=True):
        return None
    return part


def fasttp_decide(*, side: Side, entry: Decimal, risk_per_unit: Decimal | None, price: Decimal | float,
                  closes: Sequence[float], atr: float, take_profit: Decimal | None, last_action_ms: int | None,
                  now_ms: int, params: FastTPParams, rules: SymbolRules, qty: Decimal | None = None,
                  trimmed: bool = False) -> FastTPDecision:
    """`qty` is the open quantity and `trimmed` whether this trade had its partial exit already
    (both matter only in partial mode)."""
    if not params.enabled:
        return FastTPDecision(False, "disabled")
    if in_cooldown(last_action_ms, now_ms, params.cooldown_s):
        return FastTPDecision(False, "cooldown")
    px = to_decimal(price)
    if risk_per_unit is None or risk_per_unit <= 0 or px <= 0:
        return FastTPDecision(False, "no_risk_unit")
    r_now = float((px - entry) * side.sign / risk_per_unit)
    r1, r3 = favourable_returns(closes, side)
    if r_now < params.min_r:
        return FastTPDecision(False, "below_min_r", r_now, r1, r3)
    turned = (not math.isnan(r1) and r1 <= params.ret1) or (not math.isnan(r3) and r3 <= params.ret3)
    if not turned:
        return FastTPDecision(False, "no_reversal", r_now, r1, r3)
    if params.mode == "partial":
        if trimmed:
            return FastTPDecision(False, "already_trimmed", r_now, r1, r3)
        part = partial_exit_qty(qty, params.partial_fraction, rules) if qty is not None else None
        if part is not None:
            return FastTPDecision(True, "fire", r_now, r1, r3, exit_qty=part)
        # too small to split: protect the gain by pulling the take-profit in instead
    if not atr or not math.isfinite(atr) or atr <= 0:
        return FastTPDecision(False, "no_atr", r_now, r1, r3)
    tick = rules.tick_size if rules.tick_size > 0 else Decimal(0)
    snap = to_decimal(atr) * to_decimal(params.snap_atr)
    # the one-tick minimum is snapped as well: the mark price is usually off the tick grid
    if side is Side.BUY:
        new_tp = max(rules.round_price(px + snap, "down"), rules.round_price(px + tick, "up"))
        nearer = take_profit is None or new_tp < take_profit
    else:
        new_tp = min(rules.round_price(px - snap, "up"), rules.round_price(px - tick, "down"))
        nearer = take_profit is None or new_tp > take_profit
    if new_tp <= 0 or rules.price_problem(new_tp) or (new_tp <= px if side is Side.BUY else new_tp >= px):
        return FastTPDecision(False, "no_valid_level", r_now, r1, r3)
    if not nearer:
        return FastTPDecision(False, "tp_already_nearer", r_now, r1, r3)
    return FastTPDecision(True, "fire", r_now, r1, r3, new_tp)
