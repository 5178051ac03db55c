"""The shared momentum-volatility signal against a plainly written pandas computation, on real 1m
perpetual data (three symbols, many parameter sets, warm-up included)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mraster.signals import momentum as mom

from tests.backtest.conftest import DATA, SYMBOLS


def _bars(sym):
    return pd.read_csv(next(DATA.glob(f"*_{sym}-perp_1m_*.csv.gz")))


def _pandas_signal(df, spread, funding, ol_long, ol_short, k, T, n, V, spread_max, funding_max):
    o, h, lo, c, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    ret = (c / o - 1) * 10000
    rsv = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    vol = np.sqrt(rsv.rolling(T).mean().shift(1)) * 10000
    avg = v.rolling(V).mean().shift(1)
    cap = np.minimum(10, np.maximum(5, 2 * spread))
    ok = (v > n * avg) & (vol > 0) & (spread <= spread_max) & (funding.abs() <= funding_max)
    side = pd.Series(0, index=df.index)
    side[ok & (ret > k * vol) & (ol_long <= cap)] = 1
    side[ok & (ret < -k * vol) & (ol_short <= cap)] = -1
    near = ((ret.abs() - k * vol).abs() < 1e-6) | ((v - n * avg).abs() < 1e-9 * v.abs().clip(lower=1))
    return side.to_numpy(), near.to_numpy(), vol.to_numpy(), avg.to_numpy()


@pytest.mark.parametrize("sym", SYMBOLS)
def test_signal_matches_pandas(sym):
    df = _bars(sym)
    rng = np.random.default_rng(7)
    spread = pd.Series(np.exp(rng.normal(np.log(2.0), 0.8, len(df))))       # varied, so blockers bite
    funding = pd.Series(rng.normal(0, 3, len(df)))
    ol_long = spread / 2 + rng.exponential(1.0, len(df))
    ol_short = spread / 2 + rng.exponential(1.0, len(df))
    total = checked_signals = 0
    for k, T, n, V, smax, fmax in itertools.product([0.5, 1.5, 3.0], [5, 30, 90], [0.8, 2.0], [10, 60],
                                                    [3.0, 50.0], [2.0, 10.0]):
        want, near, vol, avg = _pandas_signal(df, spread, funding, ol_long, ol_short, k, T, n, V, smax, fmax)
        got = mom.momentum_signal(df["open"], df["high"], df["low"], df["close"], df["volume"], spread, funding,
                                  ol_long, ol_short, mom.MomentumParams(k, T, n, V, smax, fmax))
        assert near.sum() <= 2, "too many borderline bars to compare"
        assert np.array_equal(got[~near], want[~near]), (k, T, n, V, smax, fmax)
        assert not got[: max(T, V)].any(), "signal during warm-up"
        vol_ours = mom.previous(mom.rs_vol_bps(mom.rs_var(df["open"], df["high"], df["low"], df["close"]), T))
        np.testing.assert_allclose(vol_ours, vol, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(mom.previous(mom.rolling_mean(df["volume"], V)), avg, rtol=1e-9, equal_nan=True)
        total += 1
        checked_signals += int((got != 0).sum())
    assert total == 144 and checked_signals > 1000


def test_warm_up_and_missing_values():
    o = np.full(20, 100.0)
    c = o * 1.01
    h, lo = c * 1.001, o * 0.999
    v = np.r_[np.ones(19), 10.0]
    z = np.zeros(20)
    p = mom.MomentumParams(k=0.1, T=5, n=2.0, V=10, spread_max=5, funding_max=5)
    sig = mom.momentum_signal(o, h, lo, c, v, z + 1, z, z, z, p)
    assert sig.tolist() == [0] * 19 + [1]
    v2 = v.copy()
    v2[12] = np.nan                                  # a missing bar inside the V window: no signal
    assert mom.momentum_signal(o, h, lo, c, v2, z + 1, z, z, z, p)[-1] == 0


def test_opening_loss_and_floors_worked_numbers():
    ol_long, ol_short = mom.opening_loss_bps(np.array([99.99]), np.array([100.01]))
    assert ol_long[0] == pytest.approx(1.0) and ol_short[0] == pytest.approx(1.0)   # half of a 2 bps spread
    assert mom.spread_bps(99.99, 100.01) == pytest.approx(2.0)
    assert mom.opening_loss_cap_bps(np.array([1.0, 4.0, 8.0])).tolist() == [5.0, 8.0, 10.0]
    # fee 4 bps, opening loss 1, funding 8 bps: be = 8 + 1 + 1 = 10; activation max(8, 10 + 2) = 12;
    # take-profit max(15, 12 + 5) = 17
    assert mom.exit_levels_bps(4.0, 1.0, -8.0, 8.0, 2.0, 15.0, 5.0) == (10.0, 12.0, 17.0)
    assert mom.exit_levels_bps(4.0, 1.0, 0.0, 30.0, 2.0, 50.0, 5.0) == (9.0, 30.0, 50.0)


def test_sweep_signals_are_the_live_function_per_configuration(real_arrays):
    """The sweep's batched signals (distinct signal sets computed once, broadcast) equal the live
    engine's `momentum_signal` called configuration by configuration."""
    from backtest.prep import momentum_signals
    a = real_arrays["DOTUSDT"]
    rows = [dict(k=k, T=T, n=n, V=V, spread_max=3.0, funding_max=fm, tp_bps=tp)
            for k, T, n, V, fm, tp in itertools.product([0.5, 2.0], [10, 30], [1.0, 2.0], [20, 60], [0.5, 5.0],
                                                        [20, 40])]
    cfg = pd.DataFrame(rows)
    sig = momentum_signals(a, cfg)
    for j, r in cfg.iterrows():
        want = mom.momentum_signal(a["o"], a["h"], a["l"], a["c"], a["vol"], a["spread"], a["funding"],
                                   a["ol_long"], a["ol_short"],
                                   mom.MomentumParams(r["k"], int(r["T"]), r["n"], int(r["V"]), r["spread_max"],
                                                     r["funding_max"]))
        assert np.array_equal(sig[:, j], want), j
    assert (sig != 0).sum() > 500
