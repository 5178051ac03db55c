"""Blockers and the edge estimate: pure, and vectorised where the inputs are arrays.

A blocker says why a signal must not be traded now (spread, wickiness, funding,
edge). `screen` applies them in a fixed order and returns the first reason, so
every skipped symbol has exactly one documented reason (docs/bot.md).

Heuristic edge, in R (used while the policy's alpha model is not confident):
    rr        = ASTER_TP_ATR_MULT / ASTER_SL_ATR_MULT
    p_neutral = 1 / (1 + rr)            chance of TP before SL for a driftless walk
    strength  = |RSI - 50| / 50
    p         = min(p_neutral + strength, 0.9)
    costs_R   = (2 * taker_fee * price + (ask - bid)) / stop_distance
    edge      = p * rr - (1 - p) - costs_R
So edge = strength * (1 + rr) - costs_R until the cap: zero at RSI 50, linear in RSI strength.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

P_CAP = 0.9


@dataclass(frozen=True, slots=True)
class FilterParams:
    spread_max: float = 0.009
    wickiness_max: float = 0.985
    funding_enabled: bool = True
    funding_max_long: float = 0.001
    funding_max_short: float = 0.001
    min_edge_r: float = 0.08
    sl_mult: float = 1.3
    tp_mult: float = 2.0

    @classmethod
    def from_settings(cls, s: Any) -> "FilterParams":
        return cls(spread_max=s.spread_bps_max, wickiness_max=s.wickiness_max,
                   funding_enabled=s.funding_filter_enabled, funding_max_long=s.funding_max_long,
                   funding_max_short=s.funding_max_short, min_edge_r=s.min_edge_r,
                   sl_mult=s.sl_atr_mult, tp_mult=s.tp_atr_mult)

    @property
    def reward_risk(self) -> float:
        return self.tp_mult / self.sl_mult


@dataclass(frozen=True, slots=True)
class EdgeEstimateValue:
    """An edge in R and where it came from ("alpha" model or "heuristic")."""
    edge_r: float
    source: str
    win_prob: float = float("nan")
    detail: str = ""


def spread_blocked(spread_frac: Any, max_frac: float) -> Any:
    """(ask - bid) / mid above the limit; an unknown (NaN) spread blocks too."""
    s = np.asarray(spread_frac, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = ~(s <= max_frac)
    return bool(out) if out.ndim == 0 else out


def wickiness_blocked(wick: Any, max_wick: float) -> Any:
    """Mostly-wick candles above the limit; undefined wickiness (no bar with a range) blocks too."""
    w = np.asarray(wick, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = ~(w <= max_wick)
    return bool(out) if out.ndim == 0 else out


def funding_blocked(side: Any, rate: Any, max_long: float, max_short: float, enabled: bool = True) -> Any:
    """Long blocked when rate > max_long (longs pay); short blocked when rate < -max_short (shorts pay)."""
    sd = np.asarray(side)
    r = np.asarray(rate, dtype=np.float64)
    if not enabled:
        out = np.zeros(np.broadcast(sd, r).shape, dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            out = np.where(sd > 0, r > max_long, np.where(sd < 0, r < -max_short, False))
    return bool(out) if np.ndim(out) == 0 else out


def heuristic_win_prob(rsi: Any, reward_risk: float) -> Any:
    strength = np.abs(np.asarray(rsi, dtype=np.float64) - 50.0) / 50.0
    p = np.minimum(1.0 / (1.0 + reward_risk) + strength, P_CAP)
    return float(p) if np.ndim(p) == 0 else p


def costs_in_r(price: Any, spread_abs: Any, taker_fee: float, stop_distance: Any) -> Any:
    """Round-trip taker fees plus one spread, in units of the stop distance (inf when it is not positive)."""
    price, spread_abs, stop = (np.asarray(a, dtype=np.float64) for a in (price, spread_abs, stop_distance))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(stop > 0, (2.0 * taker_fee * price + spread_abs) / np.where(stop > 0, stop, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


def heuristic_edge(rsi: Any, reward_risk: float, cost_r: Any) -> Any:
    p = np.asarray(heuristic_win_prob(rsi, reward_risk))
    edge = p * reward_risk - (1.0 - p) - np.asarray(cost_r, dtype=np.float64)
    return float(edge) if edge.ndim == 0 else edge


def screen(side: int, aligned: bool, raw_side: int, spread_frac: float, wick: float, funding_rate: float,
           params: FilterParams) -> str | None:
    """First blocker that applies to a warmed-up signal, or None when it may go on to the edge check."""
    if raw_side == 0:
        return "no_signal"
    if not aligned or side == 0:
        return "htf_disagree"
    if spread_blocked(spread_frac, params.spread_max):
        return "spread"
    if wickiness_blocked(wick, params.wickiness_max):
        return "wickiness"
    if funding_blocked(side, funding_rate, params.funding_max_long, params.funding_max_short,
                       params.funding_enabled):
        return "funding"
    return None
