"""RSI/ATR momentum signals over whole candle histories (numpy, no I/O, no clock).

`signal_frame` computes every per-bar quantity the strategy uses for a complete
history at once, so a backtester gets all bars in one call; `latest_signal`
is the live scan's view of the same frame: its last (closed) bar.

Definitions (docs/bot.md has the same text):
- RSI(14), ATR(14): Wilder smoothing, equal to TA-Lib (mraster.signals.indicators).
- side: +1 when RSI >= rsi_buy_min, -1 when RSI <= rsi_sell_max, 0 otherwise
  (and 0 when both hold, which only happens when the two thresholds are equal).
- trend alignment: a long needs htf_rsi >= 50 - pad, a short htf_rsi <= 50 + pad.
- wickiness: mean over the last `wick_window` bars of (high - low - |close - open|) / (high - low);
  bars with zero range are left out of the mean; NaN when none is left.
- recent_vol: population standard deviation of the last `vol_window` 1-bar log returns.
- ret1, ret3: close[t] / close[t-1] - 1 and close[t] / close[t-3] - 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mraster.signals.indicators import atr as _atr
from mraster.signals.indicators import rsi as _rsi

NO_SIDE, LONG, SHORT = 0, 1, -1
_KLINE_FIELDS = attrgetter("open_time", "open", "high", "low", "close", "close_time")


@dataclass(frozen=True, slots=True)
class Candles:
    """Closed candles of one symbol and interval as parallel float/int arrays, oldest first."""
    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    close_time: np.ndarray

    @classmethod
    def from_klines(cls, klines: Sequence[Any]) -> "Candles":
        """From `mraster.domain.types.Kline` objects (the caller has already dropped the forming bar)."""
        rows = np.array(list(map(_KLINE_FIELDS, klines)), dtype=np.float64).reshape(len(klines), 6)
        cols = rows.T.copy()        # one contiguous array per field; ms times are exact in float64
        return cls(cols[0].astype(np.int64), cols[1], cols[2], cols[3], cols[4], cols[5].astype(np.int64))

    def __len__(self) -> int:
        return int(self.close.size)


@dataclass(frozen=True, slots=True)
class SignalParams:
    rsi_buy_min: float = 51.0
    rsi_sell_max: float = 49.0
    trend_align: bool = True
    align_pad: float = 1.5
    period: int = 14
    wick_window: int = 20
    vol_window: int = 20

    @classmethod
    def from_settings(cls, s: Any) -> "SignalParams":
        return cls(rsi_buy_min=s.rsi_buy_min, rsi_sell_max=s.rsi_sell_max, trend_align=s.allow_trend_align,
                   align_pad=s.align_rsi_pad)


@dataclass(frozen=True, slots=True)
class SignalFrame:
    """Per-bar arrays, all the length of the primary candles."""
    rsi: np.ndarray
    htf_rsi: np.ndarray
    atr: np.ndarray
    wickiness: np.ndarray
    recent_vol: np.ndarray
    ret1: np.ndarray
    ret3: np.ndarray
    raw_side: np.ndarray     # from the RSI thresholds alone
    aligned: np.ndarray      # True where the higher timeframe agrees with raw_side (or alignment is off)
    side: np.ndarray         # raw_side where aligned, else 0

    def row(self, i: int = -1) -> "SignalRow":
        return SignalRow(rsi=float(self.rsi[i]), htf_rsi=float(self.htf_rsi[i]), atr=float(self.atr[i]),
                         wickiness=float(self.wickiness[i]), recent_vol=float(self.recent_vol[i]),
                         ret1=float(self.ret1[i]), ret3=float(self.ret3[i]), raw_side=int(self.raw_side[i]),
                         aligned=bool(self.aligned[i]), side=int(self.side[i]))


@dataclass(frozen=True, slots=True)
class SignalRow:
    rsi: float
    htf_rsi: float
    atr: float
    wickiness: float
    recent_vol: float
    ret1: float
    ret3: float
    raw_side: int
    aligned: bool
    side: int
    close: float = float("nan")
    time_ms: int = 0          # close time of the signal bar (venue ms)

    @property
    def warmed_up(self) -> bool:
        """Every indicator the decision and the policy use is defined."""
        return bool(np.isfinite(self.rsi) and np.isfinite(self.atr) and self.atr > 0
                    and np.isfinite(self.recent_vol) and np.isfinite(self.close))


def wickiness(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
              window: int = 20) -> np.ndarray:
    """Rolling mean share of each bar's range that is wick, zero-range bars skipped (along the last axis)."""
    o, h, lo, c = (np.asarray(x, dtype=np.float64) for x in (open_, high, low, close))
    rng = h - lo
    has_range = rng > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        per_bar = np.where(has_range, (rng - np.abs(c - o)) / np.where(has_range, rng, 1.0), 0.0)
    out = np.full(c.shape, np.nan)
    if window < 1 or c.shape[-1] < window:
        return out
    zero = np.zeros(c.shape[:-1] + (1,))
    total: np.ndarray = np.concatenate((zero, np.cumsum(per_bar, axis=-1)), axis=-1)
    count: np.ndarray = np.concatenate((zero, np.cumsum(has_range, axis=-1)), axis=-1)
    sums = total[..., window:] - total[..., :-window]
    counts = count[..., window:] - count[..., :-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[..., window - 1:] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


def _recent_vol(close: np.ndarray, window: int) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    if close.shape[-1] <= window:
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        logret = np.diff(np.log(close), axis=-1)
    out[..., window:] = sliding_window_view(logret, window, axis=-1).std(axis=-1)
    return out


def _lag_return(close: np.ndarray, lag: int) -> np.ndarray:
    out = np.full(close.shape, np.nan)
    if close.shape[-1] > lag:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., lag:] = close[..., lag:] / close[..., :-lag] - 1.0
    return out


def align_htf(primary_close_time: np.ndarray, htf_close_time: np.ndarray, htf_values: np.ndarray) -> np.ndarray:
    """For each primary bar, the higher-timeframe value of the last HTF bar closed by then (NaN if none):
    no look-ahead, so a backtest sees exactly what the live scan saw."""
    idx = np.searchsorted(np.asarray(htf_close_time), np.asarray(primary_close_time), side="right") - 1
    values = np.asarray(htf_values, dtype=np.float64)
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def signal_side(rsi: np.ndarray, htf_rsi: np.ndarray, params: SignalParams
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw side from the RSI thresholds, aligned with the higher timeframe, side) per bar."""
    with np.errstate(invalid="ignore"):
        long_ = rsi >= params.rsi_buy_min
        short = rsi <= params.rsi_sell_max
    raw = np.where(long_ & ~short, LONG, np.where(short & ~long_, SHORT, NO_SIDE)).astype(np.int8)
    if params.trend_align:
        with np.errstate(invalid="ignore"):
            agree_long = htf_rsi >= 50.0 - params.align_pad
            agree_short = htf_rsi <= 50.0 + params.align_pad
        aligned = np.where(raw == LONG, agree_long, np.where(raw == SHORT, agree_short, False))
    else:
        aligned = raw != NO_SIDE
    side = np.where(aligned, raw, NO_SIDE).astype(np.int8)
    return raw, aligned.astype(bool), side


def signal_frame(candles: Candles, htf_rsi: np.ndarray, params: SignalParams) -> SignalFrame:
    """Every signal quantity for each primary bar. `htf_rsi` must already be aligned (see `align_htf`)."""
    r = _rsi(candles.close, params.period)
    a = _atr(candles.high, candles.low, candles.close, params.period)
    htf = np.asarray(htf_rsi, dtype=np.float64)
    if htf.shape != r.shape:
        raise ValueError(f"htf_rsi has {htf.size} values for {r.size} primary bars; align it first")
    raw, aligned, side = signal_side(r, htf, params)
    return SignalFrame(rsi=r, htf_rsi=htf, atr=a,
                       wickiness=wickiness(candles.open, candles.high, candles.low, candles.close,
                                           params.wick_window),
                       recent_vol=_recent_vol(candles.close, params.vol_window),
                       ret1=_lag_return(candles.close, 1), ret3=_lag_return(candles.close, 3),
                       raw_side=raw, aligned=aligned, side=side)


def latest_signal(primary: Candles, htf: Candles, params: SignalParams) -> SignalRow | None:
    """The live scan's signal for one symbol (see `latest_signals`)."""
    return latest_signals([(primary, htf)], params)[0]


def latest_signals(pairs: Sequence[tuple[Candles, Candles]], params: SignalParams) -> list[SignalRow | None]:
    """The live scan's signals: for each (primary, HTF) pair, its last closed primary bar with the RSI of
    the last HTF bar closed by then. The same definitions as `signal_frame`, evaluated for that bar
    only, and for all symbols with equally long histories in one vectorised pass. None for a symbol
    without any primary candle."""
    out: list[SignalRow | None] = [None] * len(pairs)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (p, h) in enumerate(pairs):
        if len(p):
            cut = int(np.searchsorted(h.close_time, p.close_time[-1], side="right")) if len(h) else 0
            groups.setdefault((len(p), cut), []).append(i)
    w, vw, period = params.wick_window, params.vol_window, params.period
    for (n, cut), idx in groups.items():
        o, hi, lo, c = (np.stack([getattr(pairs[i][0], f) for i in idx]) for f in ("open", "high", "low", "close"))
        r = _rsi(c, period)[:, -1]
        a = _atr(hi, lo, c, period)[:, -1]
        htf = (_rsi(np.stack([pairs[i][1].close[:cut] for i in idx]), period)[:, -1] if cut
               else np.full(len(idx), np.nan))
        wick = wickiness(o[:, -w:], hi[:, -w:], lo[:, -w:], c[:, -w:], w)[:, -1]
        vol = _recent_vol(c[:, -vw - 1:], vw)[:, -1]
        ret1 = _lag_return(c[:, -2:], 1)[:, -1]
        ret3 = _lag_return(c[:, -4:], 3)[:, -1]
        raw, aligned, side = signal_side(r, htf, params)
        for j, i in enumerate(idx):
            out[i] = SignalRow(rsi=float(r[j]), htf_rsi=float(htf[j]), atr=float(a[j]), wickiness=float(wick[j]),
                               recent_vol=float(vol[j]), ret1=float(ret1[j]), ret3=float(ret3[j]),
                               raw_side=int(raw[j]), aligned=bool(aligned[j]), side=int(side[j]),
                               close=float(c[j, -1]), time_ms=int(pairs[i][0].close_time[-1]))
    return out
