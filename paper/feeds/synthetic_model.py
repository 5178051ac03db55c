"""The synthetic market's maths: a seeded, multi-scale price process. Pure numpy, no I/O, no clock.

The market at time t is a function of (seed, symbol, t) alone, so the same seed always gives the same
market and any window of history can be produced on demand, consistent across intervals:

1. Days: log price follows a weakly mean-reverting walk (towards the symbol's reference level) with
   GARCH(1,1) variance and Student-t shocks: volatility clustering across days, fat tails.
2. Minutes of a day: a bridge from the day's open to its close. Minute volatility = intraday
   seasonality x exp(two AR(1) log-volatility components) (clustering within the day), Student-t
   shocks; the day's total variance equals the day's GARCH variance.
3. High/low of a minute: drawn from the exact distribution of a Brownian bridge's maximum/minimum.
4. Seconds of a minute: a path through the minute's open, high, low and close at random times, so
   what a live client sees tick by tick adds up exactly to the minute bar it later downloads.

Every parameter below is calibrated on real Binance USD-M data (see calibration.py and
docs/paper-exchange.md, "Synthetic market").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# ----------------------------------------------------------------------------- calibrated parameters
DAY_MS = 86_400_000
MIN_MS = 60_000
EPOCH_DAY = 17_897                  # 2019-01-01: the daily walk starts here, at the reference price
GARCH_ALPHA, GARCH_BETA = 0.10, 0.86
DAILY_T_DF = 4.0
MEAN_REVERSION = 0.012              # per day, towards log(reference price)
FAST_PHI, FAST_SD = 0.99, 0.45     # per-minute log-vol AR(1): persistence, stationary sd
SLOW_PHI, SLOW_SD = 0.9997, 0.45
MINUTE_T_DF = 6.0
WICK_SCALE = 0.90                   # Brownian range x this = bar range (ticks and microstructure)
VOL_STATE_BETA = 1.3                # log volume loads on the log-vol state ...
VOL_SHOCK_BETA = 0.55               # ... and on the size of the minute's shock
VOL_NOISE_PHI, VOL_NOISE_SD = 0.85, 0.70
# mean |1m return| by UTC hour relative to the day's mean (7 Binance USD-M alts, Feb 2026)
HOURLY_SEASONALITY = (1.08, 1.09, 0.88, 0.88, 0.85, 0.86, 0.90, 0.88, 0.87, 0.84, 0.81, 0.84,
                      0.90, 0.99, 1.31, 1.48, 1.33, 1.17, 1.14, 1.00, 1.05, 0.94, 0.97, 0.94)
# funding per 8h settlement: share at the 0.01 % floor, below it, above it; size of the excursion
FUNDING_BASE = 0.0001
FUNDING_AT_BASE, FUNDING_BELOW = 0.41, 0.55
FUNDING_EXCURSION = 0.00012
FUNDING_CAP = 0.003


def _season_minutes() -> np.ndarray:
    hours = np.asarray(HOURLY_SEASONALITY, dtype=float)
    x = np.arange(1440) / 60.0
    s = np.interp(x, np.arange(24) + 0.5, hours, period=24)
    return s / np.sqrt(np.mean(s ** 2))


SEASON = _season_minutes()


def _std_t(rng: np.random.Generator, df: float, size) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size) * math.sqrt((df - 2.0) / df)


def _ar1_rows(x0: np.ndarray, eps: np.ndarray, phi: float) -> np.ndarray:
    """AR(1) paths x_t = phi x_{t-1} + eps_t for every row of `eps` (chunked closed form, vectorised)."""
    rows, n = eps.shape
    out = np.empty((rows, n))
    chunk = 256
    powers = phi ** np.arange(1, chunk + 1)
    inv = phi ** -np.arange(1, chunk + 1)
    prev = x0.copy()
    for start in range(0, n, chunk):
        e = eps[:, start:start + chunk]
        k = e.shape[1]
        out[:, start:start + k] = np.cumsum(e * inv[:k], axis=1) * powers[:k] + prev[:, None] * powers[:k]
        prev = out[:, start + k - 1]
    return out


def _day_draws(seed: int, key: int, day: int) -> np.ndarray:
    """Every random number one day of minutes needs, in a fixed order (rows of 1440, column 0 of the
    first rows holding the AR starting values), so a day is the same whether built alone or in a batch."""
    rng = np.random.default_rng([seed, key, day])
    out = np.empty((10, 1440))
    out[0] = rng.standard_normal(1440)        # fast log-vol shocks (out[0, 0] -> start value)
    out[1] = rng.standard_normal(1440)        # slow log-vol shocks
    out[2] = _std_t(rng, MINUTE_T_DF, 1440)   # return shocks
    out[3] = rng.random(1440)                 # high draw
    out[4] = rng.random(1440)                 # low draw
    out[5] = rng.standard_normal(1440)        # volume noise shocks
    out[6] = rng.standard_normal(1440)        # trade-count noise
    out[7] = rng.standard_normal(1440)        # taker-share noise
    out[8, :3] = rng.standard_normal(3)       # AR start values: fast, slow, volume noise
    return out


@dataclass(frozen=True)
class Profile:
    """What makes one symbol's market its own."""
    ref_price: float
    daily_vol: float            # sd of daily log returns
    quote_volume: float         # typical 24h quote volume, USDT
    tick: float
    step: float


class DailyWalk:
    """Daily closes, variances and volume factors from EPOCH_DAY on, extended on demand."""

    def __init__(self, seed: int, key: int, profile: Profile):
        self.profile = profile
        self._rng = np.random.default_rng([seed, key, 0xDA11])
        self._log_ref = math.log(profile.ref_price)
        var0 = profile.daily_vol ** 2
        self._omega = var0 * (1.0 - GARCH_ALPHA - GARCH_BETA)
        self._h, self._eps, self._lp = var0, 0.0, self._log_ref
        self.closes: list[float] = []
        self.variances: list[float] = []
        self.volume_factors: list[float] = []

    def ensure(self, day: int) -> None:
        need = day - EPOCH_DAY + 2
        while len(self.closes) < need:
            n = max(64, need - len(self.closes))
            z = _std_t(self._rng, DAILY_T_DF, n)
            vz = self._rng.standard_normal(n)
            for i in range(n):
                h = self._omega + GARCH_ALPHA * self._eps ** 2 + GARCH_BETA * self._h
                h = min(max(h, 0.04 * self.profile.daily_vol ** 2), 25 * self.profile.daily_vol ** 2)
                eps = math.sqrt(h) * z[i]
                self._lp += eps - MEAN_REVERSION * (self._lp - self._log_ref)
                self._h, self._eps = h, eps
                self.closes.append(math.exp(self._lp))
                self.variances.append(h)
                self.volume_factors.append(math.exp(0.3 * vz[i]) * (h / self.profile.daily_vol ** 2) ** 0.4)

    def open_close_var(self, day: int) -> tuple[float, float, float, float]:
        self.ensure(day)
        i = day - EPOCH_DAY
        close = self.closes[i]
        open_ = self.closes[i - 1] if i > 0 else self.profile.ref_price
        return open_, close, self.variances[i], self.volume_factors[i]


@dataclass(frozen=True)
class MinuteBars:
    """One day of 1-minute bars; prices in ticks (int64), volumes in base units."""
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trades: np.ndarray
    taker_buy: np.ndarray
    sigma: np.ndarray           # per-minute log-return sd (for spreads)


def minute_bars(seed: int, key: int, day: int, walk: DailyWalk) -> MinuteBars:
    return minute_bars_batch(seed, key, [day], walk)[0]


def minute_bars_batch(seed: int, key: int, days: list[int], walk: DailyWalk) -> list[MinuteBars]:
    """Minute bars of several days at once (numpy over a days x 1440 array; same result as one by one)."""
    p = walk.profile
    draws = np.stack([_day_draws(seed, key, d) for d in days])            # (days, 10, 1440)
    occ = np.array([walk.open_close_var(d) for d in days])                 # open, close, var, volume factor
    open_, close, var, vfac = occ[:, 0:1], occ[:, 1:2], occ[:, 2:3], occ[:, 3:4]
    x0 = draws[:, 8, :3]

    def ar(shocks: np.ndarray, start: np.ndarray, phi: float, sd: float) -> np.ndarray:
        return _ar1_rows(start * sd, shocks * (sd * math.sqrt(1.0 - phi * phi)), phi)

    state = ar(draws[:, 0], x0[:, 0], FAST_PHI, FAST_SD) + ar(draws[:, 1], x0[:, 1], SLOW_PHI, SLOW_SD)
    raw = SEASON * np.exp(state)
    # scaled by the expected (not the realised) variance, so slow volatility regimes persist within a day
    sigma = raw * np.sqrt(var / (1440.0 * math.exp(2.0 * (FAST_SD ** 2 + SLOW_SD ** 2))))
    z = draws[:, 2]
    r = sigma * z
    target = np.log(close / open_)
    s2 = sigma ** 2
    r = r + s2 / np.sum(s2, axis=1, keepdims=True) * (target - np.sum(r, axis=1, keepdims=True))
    log_c = np.log(open_) + np.cumsum(r, axis=1)
    log_o = np.concatenate([np.log(open_), log_c[:, :-1]], axis=1)
    b = log_c - log_o
    sw = sigma * WICK_SCALE
    up = 0.5 * (b + np.sqrt(b * b - 2.0 * sw * sw * np.log(draws[:, 3])))
    down = 0.5 * (b - np.sqrt(b * b - 2.0 * sw * sw * np.log(draws[:, 4])))
    tick = p.tick
    c_t = np.rint(np.exp(log_c) / tick).astype(np.int64)
    o_t = np.empty_like(c_t)
    o_t[:, 0] = np.rint(open_[:, 0] / tick).astype(np.int64)
    o_t[:, 1:] = c_t[:, :-1]
    h_t = np.maximum(np.rint(np.exp(log_o + up) / tick).astype(np.int64), np.maximum(o_t, c_t))
    l_t = np.maximum(np.minimum(np.rint(np.exp(log_o + down) / tick).astype(np.int64), np.minimum(o_t, c_t)), 1)
    noise = ar(draws[:, 5], x0[:, 2], VOL_NOISE_PHI, VOL_NOISE_SD)
    logv = VOL_STATE_BETA * (state - state.mean(axis=1, keepdims=True)) + VOL_SHOCK_BETA * np.minimum(np.abs(z), 4.0) + noise \
        + np.log(SEASON)
    w = np.exp(logv)
    mid = (o_t + c_t) * (0.5 * tick)
    base_units = w / np.sum(w * mid, axis=1, keepdims=True) * (p.quote_volume * vfac)
    step = p.step if p.step > 0 else 1e-8
    volume = np.maximum(np.round(base_units / step) * step, step)
    avg_trade = np.maximum(step, np.median(volume, axis=1, keepdims=True) / 150.0)
    trades = np.maximum(1, np.rint(volume / avg_trade * np.exp(0.2 * draws[:, 6]))).astype(np.int64)
    share = np.clip(0.5 + 0.35 * np.tanh(r / np.maximum(sigma, 1e-12)) + 0.08 * draws[:, 7], 0.03, 0.97)
    taker_buy = np.round(volume * share / step) * step
    return [MinuteBars(o_t[i], h_t[i], l_t[i], c_t[i], volume[i], trades[i], taker_buy[i], sigma[i])
            for i in range(len(days))]


def second_path(seed: int, key: int, minute_abs: int, o: int, h: int, l: int, c: int) -> np.ndarray:
    """60 prices (ticks) for the seconds of one minute: starts at open, ends at close, touches high and
    low at random seconds, stays within [low, high]."""
    rng = np.random.default_rng([seed, key, minute_abs, 0x5EC])
    t1, t2 = sorted(rng.choice(np.arange(1, 59), 2, replace=False))
    first_high = rng.random() < 0.5 if c >= o else rng.random() < 0.65
    if c >= o:
        first_high = not first_high          # up bars tend to dip first, then make the high
    x1, x2 = (h, l) if first_high else (l, h)
    times = np.array([0, t1, t2, 59])
    levels = np.array([o, x1, x2, c], dtype=float)
    path = np.interp(np.arange(60), times, levels)
    width = max(1.0, (h - l) * 0.15)
    jitter = rng.standard_normal(60) * width
    for a, b_ in ((0, t1), (t1, t2), (t2, 59)):       # bridge noise, zero at the anchors
        n = b_ - a
        if n > 1:
            ramp = np.sin(np.linspace(0.0, math.pi, n + 1))[1:-1]
            path[a + 1:b_] += jitter[a + 1:b_] * ramp
    out = np.clip(np.rint(path), l, h).astype(np.int64)
    out[0], out[t1], out[t2], out[59] = o, x1, x2, c
    return out


def funding_rate(seed: int, key: int, settlement_index: int, trailing_return: float) -> float:
    """Rate of one 8h settlement: mostly the 0.01 % floor, otherwise an excursion whose sign leans
    with the trailing return (longs pay more in rallies)."""
    rng = np.random.default_rng([seed, key, settlement_index, 0xF0])
    u = rng.random()
    lean = math.tanh(trailing_return / 0.02) * 0.25
    below = FUNDING_BELOW * (1.0 - lean)
    size = float(rng.exponential(FUNDING_EXCURSION)) * (1.0 + min(3.0, abs(trailing_return) / 0.03))
    if u < FUNDING_AT_BASE:
        rate = FUNDING_BASE
    elif u < FUNDING_AT_BASE + below:
        rate = FUNDING_BASE - size
    else:
        rate = FUNDING_BASE + size
    return float(np.clip(round(rate, 6), -FUNDING_CAP, FUNDING_CAP))
