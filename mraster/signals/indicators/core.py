"""RSI and ATR with Wilder smoothing, defined exactly as TA-Lib computes them.

- Wilder smoothing of a series x with period n: the first value is the simple mean of
  the first n inputs; afterwards y[t] = (y[t-1] * (n - 1) + x[t]) / n.
- RSI(n): average gain and loss of close-to-close changes, Wilder-smoothed;
  RSI = 100 * gain / (gain + loss), and 0 when both are 0 (TA-Lib's convention).
  The first value is at index n.
- ATR(n): true range TR[t] = max(high[t], close[t-1]) - min(low[t], close[t-1]) for t >= 1,
  Wilder-smoothed; the first value (index n) is the mean of TR[1..n].
Indices before the first value are NaN. The recursion runs through scipy's lfilter,
so a 360-bar series costs microseconds; 2-D inputs are computed row by row along the last axis.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def wilder_smooth(x: np.ndarray, period: int) -> np.ndarray:
    """Wilder's moving average of `x` (no NaNs inside) along its last axis; NaN until `period` values
    are seen. A 2-D input smooths every row at once (the live scan does all symbols in one call)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    n = x.shape[-1] if x.ndim else 0
    if period < 1 or n < period:
        return out
    seed = x[..., :period].mean(axis=-1)
    out[..., period - 1] = seed
    if n > period:
        k = (period - 1) / period
        rest, _ = lfilter([1.0 / period], [1.0, -k], x[..., period:], axis=-1, zi=(k * seed)[..., None])
        out[..., period:] = rest
    return out


def rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    close = np.asarray(close, dtype=np.float64)
    out = np.full(close.shape, np.nan)
    if close.shape[-1] <= period:
        return out
    diff = np.diff(close, axis=-1)
    gain = wilder_smooth(np.where(diff > 0, diff, 0.0), period)
    loss = wilder_smooth(np.where(diff < 0, -diff, 0.0), period)
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(total > 0, 100.0 * gain / np.where(total > 0, total, 1.0), 0.0)
    values[np.isnan(gain)] = np.nan
    out[..., 1:] = values
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """TR for t >= 1 (index 0 is NaN: it has no previous close)."""
    high, low, close = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    tr = np.full(close.shape, np.nan)
    if close.shape[-1] > 1:
        prev = close[..., :-1]
        tr[..., 1:] = np.maximum(high[..., 1:], prev) - np.minimum(low[..., 1:], prev)
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    tr = true_range(high, low, close)
    out = np.full(tr.shape, np.nan)
    if tr.shape[-1] <= period:
        return out
    out[..., 1:] = wilder_smooth(tr[..., 1:], period)
    return out
