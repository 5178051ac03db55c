"""FastTP: pull the take-profit in when a winning trade starts to turn. Pure.

Fires when all hold:
- FAST_TP_ENABLED, and no FastTP action on the symbol in the last FASTTP_COOLDOWN_S (venue time);
- unrealised R = (price - entry) * sign / risk_per_unit >= FASTTP_MIN_R;
- the last closed 1-bar return <= FAST_TP_RET1 or the 3-bar return <= FAST_TP_RET3, both signed in
  the trade's favour (for a short a rising close is a negative return);
- the new take-profit, price + sign * FASTTP_SNAP_ATR * ATR (rounded toward the price, at least one
  tick beyond it), is nearer to the price than the current take-profit: FastTP only pulls in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence

from .rules import SymbolRules, to_decimal
from .types import Side


@dataclass(frozen=True, slots=True)
class FastTPParams:
    enabled: bool = True
    min_r: float = 0.25
    ret1: float = -0.001
    ret3: float = -0.002
    snap_atr: float = 0.25
    cooldown_s: float = 45.0

    @classmethod
    def from_settings(cls, s: Any) -> "FastTPParams":
        return cls(enabled=s.fast_tp_enabled, min_r=s.fasttp_min_r, ret1=s.fast_tp_ret1, ret3=s.fast_tp_ret3,
                   snap_atr=s.fasttp_snap_atr, cooldown_s=s.fasttp_cooldown_s)


@dataclass(frozen=True, slots=True)
class FastTPDecision:
    fire: bool
    reason: str                       # "fire" or why not
    r_now: float = float("nan")
    ret1: float = float("nan")
    ret3: float = float("nan")
    new_take_profit: Decimal | None = None


def favourable_returns(closes: Sequence[float], side: Side) -> tuple[float, float]:
    """(1-bar, 3-bar) returns of the last closed bars, signed so that positive = in the trade's favour."""
    c = [float(x) for x in closes]
    sign = side.sign
    r1 = (c[-1] / c[-2] - 1.0) * sign if len(c) >= 2 and c[-2] > 0 else float("nan")
    r3 = (c[-1] / c[-4] - 1.0) * sign if len(c) >= 4 and c[-4] > 0 else float("nan")
    return r1, r3


def in_cooldown(last_action_ms: int | None, now_ms: int, cooldown_s: float) -> bool:
    return bool(last_action_ms) and now_ms - int(last_action_ms) < cooldown_s * 1000.0


def fasttp_decide(*, side: Side, entry: Decimal, risk_per_unit: Decimal | None, price: Decimal | float,
                  closes: Sequence[float], atr: float, take_profit: Decimal | None, last_action_ms: int | None,
                  now_ms: int, params: FastTPParams, rules: SymbolRules) -> FastTPDecision:
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
    if not atr or not math.isfinite(atr) or atr <= 0:
        return FastTPDecision(False, "no_atr", r_now, r1, r3)
    tick = rules.tick_size if rules.tick_size > 0 else Decimal(0)
    snap = to_decimal(atr) * to_decimal(params.snap_atr)
    if side is Side.BUY:
        new_tp = max(rules.round_price(px + snap, "down"), px + tick)
        nearer = take_profit is None or new_tp < take_profit
    else:
        new_tp = min(rules.round_price(px - snap, "up"), px - tick)
        nearer = take_profit is None or new_tp > take_profit
    if new_tp <= 0:
        return FastTPDecision(False, "no_valid_level", r_now, r1, r3)
    if not nearer:
        return FastTPDecision(False, "tp_already_nearer", r_now, r1, r3)
    return FastTPDecision(True, "fire", r_now, r1, r3, new_tp)
