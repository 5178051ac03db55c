"""The live engine's per-bar judgement (closed bars fed one at a time, the quote of the moment) against the
kernel's `momentum_signal` on the whole history (the backtester's function) and against an independent,
plainly written pandas computation, on real 1m perpetual data: three symbols, many parameter sets,
warm-up included."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mraster.domain.types import Kline
from mraster.signals import momentum as mom
from mraster.signals.momentum_params import SymbolParams

from momentum.bars import MINUTE_MS, Bars
from momentum.signal import Quote, judge
from tests.backtest.conftest import DATA, SYMBOLS

N_BARS = 700


def _frame(sym: str) -> pd.DataFrame:
    df = pd.read_csv(next(DATA.glob(f"*_{sym}-perp_1m_*.csv.gz"))).iloc[:N_BARS].reset_index(drop=True)
    rng = np.random.default_rng(11)
    half = np.exp(rng.normal(np.log(1.0), 0.7, len(df))) / 2e4          # varied spreads, so blockers bite
    skew = rng.normal(0, 0.2, len(df)) / 1e4
    df["bid"] = df["close"] * (1 - half + skew)
    df["ask"] = df["close"] * (1 + half + skew)
    df["funding"] = rng.normal(0, 3e-4, len(df))                       # fraction; bps = * 1e4
    return df


def _pandas(df: pd.DataFrame, p: SymbolParams) -> np.ndarray:
    """Written from the issue's text, not from the kernel's code."""
    o, h, lo, c, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    ret = (c - o) / o * 1e4
    rs = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    vol = np.sqrt(rs.rolling(p.T).mean().shift(1)) * 1e4                  # the T bars before the bar
    avg = v.rolling(p.V).mean().shift(1)
    mid = (df["bid"] + df["ask"]) / 2
    spread = (df["ask"] - df["bid"]) / mid * 1e4
    ol_long, ol_short = (df["ask"] - mid) / mid * 1e4, (mid - df["bid"]) / mid * 1e4
    cap = np.minimum(10, np.maximum(5, 2 * spread))
    ok = (v > p.n * avg) & (vol > 0) & (spread <= p.spread_max) & ((df["funding"] * 1e4).abs() <= p.funding_max)
    out = np.zeros(len(df), dtype=int)
    out[(ok & (ret > p.k * vol) & (ol_long <= cap)).to_numpy()] = 1
    out[(ok & (ret < -p.k * vol) & (ol_short <= cap)).to_numpy()] = -1
    return out


def _live(df: pd.DataFrame, p: SymbolParams) -> np.ndarray:
    bars = Bars(64)
    out = np.zeros(len(df), dtype=int)
    for i, r in enumerate(df.itertuples()):
        bars.add(Kline(int(r.open_time_ms), r.open, r.high, r.low, r.close, r.volume, int(r.open_time_ms) + MINUTE_MS - 1))
        out[i] = judge(bars, p, Quote(r.bid, r.ask, r.funding)).side
    return out


def _params(k, T, n, V, smax, fmax) -> SymbolParams:
    return SymbolParams(k, T, n, V, 60, 40, 15, 2, 10, 5, smax, fmax)


@pytest.mark.parametrize("sym", SYMBOLS)
def test_live_judgement_equals_shared_function_and_pandas(sym):
    df = _frame(sym)
    signals = 0
    for k, T, n, V, smax, fmax in itertools.product([0.5, 2.0], [5, 30], [0.8, 2.0], [10, 45], [2.0, 50.0], [2.0]):
        p = _params(k, T, n, V, smax, fmax)
        live = _live(df, p)
        mid = (df["bid"] + df["ask"]) / 2
        ol_long, ol_short = mom.opening_loss_bps(df["bid"], df["ask"])
        shared = mom.momentum_signal(df["open"], df["high"], df["low"], df["close"], df["volume"],
                                     mom.spread_bps(df["bid"], df["ask"]), df["funding"] * 1e4, ol_long, ol_short,
                                     mom.MomentumParams(k, T, n, V, smax, fmax))
        assert np.array_equal(live, shared), (sym, k, T, n, V, smax)
        want = _pandas(df, p)
        assert (live != want).sum() <= 1, (sym, k, T, n, V, smax)      # a float tie at the threshold at most
        assert not live[: max(T, V)].any(), "a signal inside the warm-up"
        assert mid.notna().all()
        signals += int((live != 0).sum())
    assert signals > 200                                              # the comparison saw real signals


def test_warm_up_progress_and_a_missing_minute():
    p = _params(0.1, 5, 2.0, 10, 5.0, 5.0)
    bars = Bars(32)
    q = Quote(99.99, 100.01, 0.0)
    for i in range(10):
        bars.add(Kline(i * MINUTE_MS, 100, 100.2, 99.9, 100.1, 1.0, 0))
        s = judge(bars, p, q)
        assert not s.warm and s.side == 0 and s.warmup_bars == 11 and s.bars == i + 1
    bars.add(Kline(10 * MINUTE_MS, 100, 101.2, 99.9, 101.0, 10.0, 0))        # a surge on the 11th bar
    s = judge(bars, p, q)
    assert s.warm and s.side == 1 and s.momentum == 1 and s.regime_ok
    assert s.volume_ratio == pytest.approx(10.0) and s.threshold_bps == pytest.approx(0.1 * s.rs_vol_bps)
    assert s.blockers is not None and s.blockers.spread_ok and s.blockers.opening_loss_ok
    # a skipped minute becomes a NaN bar: no signal while a window holds it
    bars.add(Kline(12 * MINUTE_MS, 100, 101.2, 99.9, 101.0, 10.0, 0))
    assert len(bars) == 13 and judge(bars, p, q).side == 0


def test_blockers_each_block():
    p = _params(0.1, 5, 2.0, 10, 3.0, 2.0)
    bars = Bars(32)
    for i in range(10):
        bars.add(Kline(i * MINUTE_MS, 100, 100.2, 99.9, 100.1, 1.0, 0))
    bars.add(Kline(10 * MINUTE_MS, 100, 101.2, 99.9, 101.0, 10.0, 0))
    assert judge(bars, p, Quote(99.99, 100.01, 0.0)).side == 1
    wide = judge(bars, p, Quote(99.9, 100.1, 0.0))                      # 20 bps spread > 3
    assert wide.side == 0 and not wide.blockers.spread_ok
    fund = judge(bars, p, Quote(99.99, 100.01, 3e-4))                    # 3 bps funding > 2
    assert fund.side == 0 and not fund.blockers.funding_ok and fund.blockers.spread_ok
    assert judge(bars, p, None).side == 0                                # no quote, no entry
