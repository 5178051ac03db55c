"""Momentum against Rogers-Satchell volatility: the seeds' mid-frequency signal, pure numpy, no I/O.

One definition for every engine: the backtester (`backtest/`) calls these functions on whole
histories, vectorised over configurations by broadcasting; the live momentum engine calls
`momentum_signal` on its closed-bar history and reads the last row. Nothing here imports the
application, so the module can move into the kernel's `signals/` package unchanged.

Definitions (docs/backtest.md has the same text):
- bars are closed 1-minute bars; `ret_bps = (close / open - 1) * 1e4`, the bar's own return.
- `rs_var` of a bar (Rogers-Satchell): ln(H/C)ln(H/O) + ln(L/C)ln(L/O); `RS_vol(T)` in bps is
  sqrt(mean of rs_var over T bars) * 1e4, a per-minute volatility comparable with `ret_bps`.
- the windows a signal on bar i uses are the T (resp. V) bars *before* bar i (i-T .. i-1): the bar's
  move is judged against the volatility and volume that preceded it, so a surge does not dilute its
  own threshold. `rolling_mean(x, W)[i]` covers i-W+1 .. i (the feature columns), and the signal
  reads it at i-1. No signal until both windows are full (i >= max(T, V)) or while any value in
  them is missing.
- long when ret_bps > k * RS_vol(T) and RS_vol(T) > 0; short when ret_bps < -k * RS_vol(T).
- volume regime: bar volume > n * mean volume of the V previous bars.
- blockers: spread_bps <= spread_max; |funding_bps| <= funding_max; the side's opening loss <=
  min(10, max(5, 2 * spread_bps)).
- opening loss (bps) is the cost of entering at the touch against the mid of the same quote:
  long (ask - mid) / mid * 1e4, short (mid - bid) / mid * 1e4, mid = (bid + ask) / 2, from the last
  quote of the bar. It excludes the taker fee (the break-even floor adds twice the fee already).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NO_SIDE, LONG, SHORT = 0, 1, -1
OPENING_LOSS_CAP_MAX_BPS = 10.0
OPENING_LOSS_CAP_MIN_BPS = 5.0


def ret_bps(open_: Any, close: Any) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.asarray(close, dtype=np.float64) / np.asarray(open_, dtype=np.float64) - 1.0) * 1e4


def rs_var(open_: Any, high: Any, low: Any, close: Any) -> np.ndarray:
    """Rogers-Satchell variance of each bar (drift-independent, uses the whole bar range)."""
    o, h, lo, c = (np.asarray(x, dtype=np.float64) for x in (open_, high, low, close))
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    return out


def rolling_mean(x: Any, window: int) -> np.ndarray:
    """Mean of the `window` values ending at each index (inclusive); NaN until full or if any is NaN.
    Each window is summed on its own (no running sum), so long histories do not drift."""
    a = np.asarray(x, dtype=np.float64)
    out = np.full(a.shape, np.nan)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if a.shape[-1] >= window:
        out[..., window - 1:] = sliding_window_view(a, window, axis=-1).mean(axis=-1)
    return out


def rs_vol_bps(rs_variance: Any, window: int) -> np.ndarray:
    """RS volatility in bps over the `window` bars ending at each index (inclusive)."""
    with np.errstate(invalid="ignore"):
        out: np.ndarray = np.sqrt(rolling_mean(rs_variance, window)) * 1e4
    return out


def previous(x: Any) -> np.ndarray:
    """x shifted one bar later along the last axis (value of bar i-1 at i; NaN at 0)."""
    a = np.asarray(x, dtype=np.float64)
    out = np.full(a.shape, np.nan)
    out[..., 1:] = a[..., :-1]
    return out


def opening_loss_bps(bid: Any, ask: Any) -> tuple[np.ndarray, np.ndarray]:
    """(long, short) cost in bps of taking the touch against the mid of the same quote."""
    b, a = np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64)
    mid = (b + a) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - mid) / mid * 1e4, (mid - b) / mid * 1e4


def spread_bps(bid: Any, ask: Any) -> np.ndarray:
    b, a = np.asarray(bid, dtype=np.float64), np.asarray(ask, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - b) / ((a + b) / 2.0) * 1e4


def opening_loss_cap_bps(spread: Any) -> np.ndarray:
    return np.minimum(OPENING_LOSS_CAP_MAX_BPS, np.maximum(OPENING_LOSS_CAP_MIN_BPS, 2.0 * np.asarray(spread)))


def momentum_side(ret: Any, vol_prev: Any, volume: Any, avg_vol_prev: Any, spread: Any, funding: Any,
                  ol_long: Any, ol_short: Any, k: Any, n: Any, spread_max: Any, funding_max: Any) -> np.ndarray:
    """The decision from per-bar inputs; every argument broadcasts (bars x configurations in a sweep).
    `vol_prev`/`avg_vol_prev` are RS_vol(T) and the mean volume over the windows before the bar."""
    with np.errstate(invalid="ignore"):
        thr = np.asarray(k) * vol_prev
        regime = np.asarray(volume) > np.asarray(n) * avg_vol_prev
        ok = (regime & (np.asarray(vol_prev) > 0) & (np.asarray(spread) <= spread_max)
              & (np.abs(funding) <= funding_max))
        cap = opening_loss_cap_bps(spread)
        long_ = ok & (np.asarray(ret) > thr) & (np.asarray(ol_long) <= cap)
        short = ok & (np.asarray(ret) < -thr) & (np.asarray(ol_short) <= cap)
    return np.where(long_, LONG, np.where(short, SHORT, NO_SIDE)).astype(np.int8)


@dataclass(frozen=True, slots=True)
class MomentumParams:
    k: float
    T: int
    n: float
    V: int
    spread_max: float
    funding_max: float


def momentum_signal(open_: Any, high: Any, low: Any, close: Any, volume: Any, spread: Any, funding: Any,
                    ol_long: Any, ol_short: Any, p: MomentumParams) -> np.ndarray:
    """Side (+1/-1/0) of every closed bar of one history; the live engine reads the last value."""
    r = ret_bps(open_, close)
    vol_prev = previous(rs_vol_bps(rs_var(open_, high, low, close), int(p.T)))
    avg_prev = previous(rolling_mean(volume, int(p.V)))
    return momentum_side(r, vol_prev, volume, avg_prev, spread, funding, ol_long, ol_short,
                         p.k, p.n, p.spread_max, p.funding_max)


def exit_levels_bps(taker_fee_bps: float, opening_loss: float, funding: float, activation_bps: float,
                    activation_buffer_bps: float, take_profit_bps: float, min_take_profit_gap_bps: float
                    ) -> tuple[float, float, float]:
    """(break-even floor, activation, take-profit) in bps from the entry, with the seed's floors:
    be = 2*fee + opening_loss + |funding|/8; activation = max(activation, be + buffer);
    take_profit = max(take_profit, activation + gap). Scalar arithmetic only, so it also compiles
    with numba for the sweep engine."""
    be = 2.0 * taker_fee_bps + opening_loss + abs(funding) / 8.0
    act = max(activation_bps, be + activation_buffer_bps)
    tp = max(take_profit_bps, act + min_take_profit_gap_bps)
    return be, act, tp
