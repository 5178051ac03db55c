"""Context features: from a `SignalContext` to the standardised vector the models see.

Every feature is one column; `FEATURES` documents what it measures and why it
may predict a trade's outcome (docs/policy.md has the same table). Signed
quantities are turned into the trade's direction (multiplied by `side`), so
one linear model serves longs and shorts alike.

Standardisation uses running mean and variance stored with the model. Each
column starts from a documented prior (a pseudo-sample of PRIOR_WEIGHT
observations with a typical centre and scale), so the first decisions do not
divide by a variance of zero; standardised values are clipped to +-CLIP so one
bad input cannot dominate the ridge statistics. Column 0 is a constant 1 (the
intercept of LinUCB's linear model) and is not standardised.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_policy.context import SignalContext

PRIOR_WEIGHT = 20.0   # pseudo-observations behind each column's prior centre and scale
CLIP = 5.0            # standardised values are clipped to [-CLIP, CLIP]
SCALE_FLOOR = 0.1     # a column's scale never drops below SCALE_FLOOR x its prior scale
DAY_MS = 86_400_000
BIAS = "bias"


class ContextError(ValueError):
    """A SignalContext the policy must not learn from (non-finite or out-of-range values)."""


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    doc: str
    prior_mean: float
    prior_scale: float


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("rsi", "side x (RSI - 50) / 50: momentum of the signal timeframe in the trade's direction.",
                0.1, 0.2),
    FeatureSpec("htf_rsi", "side x (HTF RSI - 50) / 50: the higher timeframe's momentum in the trade's direction.",
                0.05, 0.2),
    FeatureSpec("trend_agree", "rsi x htf_rsi: positive when both timeframes push the same way (an interaction "
                "a linear model cannot form by itself).", 0.01, 0.05),
    FeatureSpec("atr", "ln(ATR / price): how volatile the symbol is relative to its price.", -5.5, 0.7),
    FeatureSpec("recent_vol", "ln(std of 1-bar log returns over 20 bars): close-to-close volatility.", -6.2, 0.7),
    FeatureSpec("spread", "bid/ask spread in basis points of the mid: the immediate cost of entering.", 2.0, 3.0),
    FeatureSpec("spread_atr", "spread / ATR: the entry cost in ATR units, i.e. relative to the stop distance "
                "(ASTER_SL_ATR_MULT ATRs), a cost in R terms.", 0.05, 0.05),
    FeatureSpec("funding", "side x funding rate in basis points per settlement: what the position pays "
                "(positive) or receives (negative).", 0.0, 1.0),
    FeatureSpec("wickiness", "mean (range - abs(body)) / range of the recent candles, 0..1: choppy markets stop "
                "trades out more often.", 0.5, 0.15),
    FeatureSpec("side", "+1 long, -1 short: a directional bias of the market or the strategy.", 0.0, 1.0),
    FeatureSpec("tod_sin", "sin(2 pi x UTC time of day): time of day, cyclic (with tod_cos).", 0.0, 0.707),
    FeatureSpec("tod_cos", "cos(2 pi x UTC time of day): time of day, cyclic (with tod_sin).", 0.0, 0.707),
    FeatureSpec("weekend", "1 on Saturday and Sunday (UTC), else 0: thinner weekend markets.", 2 / 7, 0.45),
    FeatureSpec("liquidity_rank", "0 = most liquid symbol of the universe by 24h quote volume, 1 = least.",
                0.5, 0.29),
    FeatureSpec("reward_risk", "take-profit distance / stop distance of the bracket.", 1.5, 0.5),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
_PRIOR_MEAN = np.array([f.prior_mean for f in FEATURES])
_PRIOR_SCALE = np.array([f.prior_scale for f in FEATURES])


def parse_feature_list(text: str) -> tuple[str, ...]:
    """'all' or a comma list of feature names -> names in canonical order. Unknown names -> ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"feature list must be text, got {type(text).__name__}")
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names or names == ["all"]:
        return FEATURE_NAMES
    unknown = [n for n in names if n not in _INDEX]
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(unknown)}; use 'all' or a comma list of: "
                         + ", ".join(FEATURE_NAMES))
    return tuple(n for n in FEATURE_NAMES if n in set(names))


# The numeric context fields and the closed range each must lie in (NaN and infinities never do).
_RANGES: tuple[tuple[str, float, float], ...] = (
    ("rsi", 0.0, 100.0), ("htf_rsi", 0.0, 100.0), ("atr_frac", 1e-12, 10.0), ("spread_frac", 0.0, 1.0),
    ("funding_rate", -1.0, 1.0), ("wickiness", 0.0, 1.0), ("recent_vol", 0.0, 10.0),
    ("liquidity_rank", 0.0, 1.0), ("reward_risk", 0.0, 1000.0),
)
_NUMBER_TYPES = (float, int)


def _checked_values(ctx: SignalContext) -> list[float]:
    """The numeric fields in _RANGES order; ContextError naming the first bad one."""
    if not isinstance(ctx, SignalContext):
        raise ContextError(f"expected a SignalContext, got {type(ctx).__name__}")
    if not isinstance(ctx.symbol, str) or not ctx.symbol:
        raise ContextError(f"symbol must be non-empty text, got {ctx.symbol!r}")
    if ctx.side not in (1, -1) or type(ctx.side) is bool:
        raise ContextError(f"{ctx.symbol}: side must be +1 or -1, got {ctx.side!r}")
    if not isinstance(ctx.time_ms, (int, np.integer)) or isinstance(ctx.time_ms, bool) or ctx.time_ms <= 0:
        raise ContextError(f"{ctx.symbol}: time_ms must be a positive integer (venue ms), got {ctx.time_ms!r}")
    values = [getattr(ctx, name) for name, _, _ in _RANGES]
    # fast path: NaN fails every comparison, so the chained comparison also rejects it
    if all(type(v) in _NUMBER_TYPES and low <= v <= high for v, (_, low, high) in zip(values, _RANGES)):
        return values
    checked = []  # slow path: numpy scalars are fine, anything else is named
    for value, (name, low, high) in zip(values, _RANGES):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ContextError(f"{ctx.symbol}: {name} must be a number, got {value!r}")
        if not low <= value <= high:
            raise ContextError(f"{ctx.symbol}: {name}={value!r} is outside [{low:g}, {high:g}]")
        checked.append(float(value))
    return checked


def raw_features(ctx: SignalContext) -> np.ndarray:
    """Every feature of FEATURE_NAMES, unstandardised, in order. Raises ContextError on bad input."""
    rsi, htf, atr, spread, funding, wick, vol, liq, rr = _checked_values(ctx)
    side = float(ctx.side)
    rsi = side * (rsi - 50.0) / 50.0
    htf = side * (htf - 50.0) / 50.0
    time_ms = int(ctx.time_ms)
    day_angle = 2.0 * math.pi * (time_ms % DAY_MS) / DAY_MS
    weekday = (time_ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return np.array([
        rsi, htf, rsi * htf,
        math.log(atr), math.log(max(vol, 1e-6)),
        spread * 1e4, spread / atr,
        side * funding * 1e4,
        wick,
        side, math.sin(day_angle), math.cos(day_angle), 1.0 if weekday >= 5 else 0.0,
        liq, rr,
    ], dtype=float)


class FeatureMap:
    """The selected columns and their running standardisation (Welford, started from the priors)."""

    def __init__(self, names: tuple[str, ...]):
        self.names = tuple(names)
        self._idx = np.array([_INDEX[n] for n in self.names], dtype=np.intp)
        self._all = self.names == FEATURE_NAMES  # no column selection needed (the common case)
        self.count = np.full(len(self.names), PRIOR_WEIGHT)
        self.mean = _PRIOR_MEAN[self._idx].copy()
        self.m2 = PRIOR_WEIGHT * _PRIOR_SCALE[self._idx] ** 2
        self._floor = SCALE_FLOOR * _PRIOR_SCALE[self._idx]
        self._scale = self._compute_scale()

    @property
    def dim(self) -> int:
        """Length of the model vector: the bias plus one column per feature."""
        return len(self.names) + 1

    @property
    def column_names(self) -> tuple[str, ...]:
        return (BIAS, *self.names)

    def select(self, ctx: SignalContext) -> np.ndarray:
        raw = raw_features(ctx)
        return raw if self._all else raw[self._idx]

    def observe(self, raw: np.ndarray) -> None:
        """Welford update of the running mean and variance with one context."""
        self.count += 1.0
        delta = raw - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (raw - self.mean)
        self._scale = self._compute_scale()

    def _compute_scale(self) -> np.ndarray:
        return np.maximum(np.sqrt(self.m2 / self.count), self._floor)

    def scale(self) -> np.ndarray:
        return self._scale.copy()

    def restore(self, count: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        """Put back statistics taken earlier (the offline replay undoes a rejected observation)."""
        self.count, self.mean, self.m2 = count, mean, m2
        self._scale = self._compute_scale()

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Standardised, clipped, with the bias column first."""
        x = np.empty(len(raw) + 1)
        x[0] = 1.0
        z = x[1:]
        np.subtract(raw, self.mean, out=z)
        np.divide(z, self._scale, out=z)
        np.maximum(z, -CLIP, out=z)
        np.minimum(z, CLIP, out=z)
        return x

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "count": self.count.tolist(), "mean": self.mean.tolist(),
                "m2": self.m2.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FeatureMap":
        fm = cls(tuple(data["names"]))
        k = len(fm.names)
        for key in ("count", "mean", "m2"):
            arr = np.asarray(data[key], dtype=float)
            if arr.shape != (k,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"scaler {key} must be {k} finite numbers")
            setattr(fm, key, arr)
        if np.any(fm.count <= 0) or np.any(fm.m2 < 0):
            raise ValueError("scaler counts must be > 0 and sums of squares >= 0")
        fm.restore(fm.count, fm.mean, fm.m2)
        return fm
