"""Trade-for-trade parity with vectorbt's `Portfolio.from_signals` (the reference traders know), on real
1m perpetual data and grids of >= 100 configurations: every trade's entry/exit bar, side, size, prices,
fees and PnL agree to 1e-9 relative, in both stop-fill modes and for both strategies."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("vectorbt")

from backtest.engine import EXIT_PRICE, EXIT_STOP_MARKET, R_OPEN, run_chunk  # noqa: E402
from backtest.prep import prepare  # noqa: E402
from backtest.vbt_reference import run_vbt, vbt_trades  # noqa: E402

MOMENTUM_KEYS = ["k", "T", "n", "V", "tp_bps", "sl_bps", "activation_bps", "activation_buffer_bps", "callback_bps",
                 "min_tp_gap_bps", "spread_max", "funding_max", "cooldown_min"]


def momentum_grid():
    vals = itertools.product([1.0, 2.5], [10, 30], [1.0, 2.0], [30], [20, 60], [15, 40], [8], [2], [4, 12], [5],
                             [5], [5], [0, 5])
    return pd.DataFrame([dict(zip(MOMENTUM_KEYS, v)) for v in vals])


def scanner_grid():
    rows = [dict(interval=iv, htf_interval=h, rsi_buy_min=b, rsi_sell_max=s, trend_align=al, align_pad=1.5,
                 sl_atr_mult=sl, tp_atr_mult=tp, cooldown_min=0)
            for iv, h, b, s, al, sl, tp in itertools.product(["5m"], ["30m"], [51, 55, 60], [49, 45, 40],
                                                            [True, False], [0.5, 1.0, 1.5], [1.0, 2.0, 3.0])]
    return pd.DataFrame(rows)


def compare(ours, ref):
    n_trades = 0
    for j, (x, y) in enumerate(zip(ours, ref)):
        x = x.copy()
        x[x[:, 9] != R_OPEN, 9] = -1.0            # vectorbt knows open/closed, not the exit reason
        assert x.shape == y.shape, f"config {j}: {len(x)} trades, vectorbt {len(y)}"
        np.testing.assert_array_equal(x[:, :3], y[:, :3], err_msg=f"config {j}: bars/side")
        np.testing.assert_allclose(x[:, 3:], y[:, 3:], rtol=1e-9, atol=1e-12, err_msg=f"config {j}")
        n_trades += len(x)
    return n_trades


@pytest.mark.parametrize("mode", [EXIT_STOP_MARKET, EXIT_PRICE], ids=["stop_market", "price"])
def test_momentum_parity(real_arrays, mode):
    cfg = momentum_grid()
    assert len(cfg) >= 100
    bars, sig, params, kind = prepare("momentum", real_arrays["LINKUSDT"], cfg, 5)
    _, ours, _ = run_chunk(bars, sig, params, kind, 5.0, 1000.0, mode, record=True)
    pf = run_vbt(bars, sig, params, kind, 5.0, 1000.0, mode)
    n = compare(ours, vbt_trades(pf, len(cfg)))
    assert n > 5000
    if mode == EXIT_STOP_MARKET:       # the exit paths the parity covers, all of them present
        reasons = np.concatenate([t[:, 9] for t in ours])
        assert {0, 1, 2, 3} <= set(reasons.astype(int).tolist())


def test_momentum_parity_with_daily_schedule(real_inputs):
    """The live engine's schedule (no entries after the halt, force-exit at market) matches too."""
    from backtest.sweep import split_inputs
    a = split_inputs(real_inputs, ["LINKUSDT"], 0.5, "20:00", "20:30")["LINKUSDT"]
    cfg = momentum_grid().assign(tp_bps=400.0, sl_bps=300.0)          # wide exits: positions reach 20:30
    bars, sig, params, kind = prepare("momentum", a, cfg, 5)
    _, ours, _ = run_chunk(bars, sig, params, kind, 5.0, 1000.0, EXIT_STOP_MARKET, record=True)
    pf = run_vbt(bars, sig, params, kind, 5.0, 1000.0, EXIT_STOP_MARKET)
    assert compare(ours, vbt_trades(pf, len(cfg))) > 1000
    forced = sum(int((t[:, 9] == 4).sum()) for t in ours)
    assert forced >= 50


def test_scanner_parity(real_arrays):
    cfg = scanner_grid()
    assert len(cfg) >= 100
    bars, sig, params, kind = prepare("scanner", real_arrays["DOTUSDT"], cfg, 5)
    _, ours, _ = run_chunk(bars, sig, params, kind, 5.0, 1000.0, EXIT_STOP_MARKET, record=True)
    pf = run_vbt(bars, sig, params, kind, 5.0, 1000.0, EXIT_STOP_MARKET)
    assert compare(ours, vbt_trades(pf, len(cfg))) > 1000
