"""Sweep orchestration: walk-forward columns, identical results on a Dask cluster, Ctrl+C keeps the
finished chunks, and the look-ahead check (it passes on the real signals and catches a planted one)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.grid import expand, settings_of
from backtest.lookahead import LookaheadError, check_signal_fn, check_sweep, default_cuts
from backtest.sweep import ranked_table, run_sweep

GRID = {"k": [1.0, 2.0], "T": [10, 30], "n": [1.0, 1.5], "V": [30], "tp_bps": [30, 60], "sl_bps": [20, 40],
        "activation_bps": 15, "activation_buffer_bps": 2, "callback_bps": [5], "min_tp_gap_bps": 5,
        "spread_max": 5, "funding_max": 5}


def setup(chunk=8, train=0.7):
    cfg = {"settings": {"chunk_size": chunk, "train_frac": train},
           "symbols": {"LINKUSDT": GRID, "DOTUSDT": GRID}}
    strategy, configs = expand(cfg)
    return strategy, configs, settings_of(cfg)


def test_walk_forward_ranking(real_inputs):
    strategy, configs, settings = setup()
    res = run_sweep(real_inputs, strategy, configs, settings)
    assert res.complete and len(res.metrics) == len(configs) == 64
    ranked = ranked_table(res)
    assert ranked["rank"].tolist() == list(range(1, 65))
    assert ranked["is_total_pnl"].is_monotonic_decreasing
    assert set(ranked["oos_rank"]) == set(range(1, 65))
    assert (ranked["n_configs_tried"] == 64).all() and (ranked["n_configs_symbol"] == 32).all()
    assert (ranked["split_time_utc"] == "2026-02-02 09:36").all()       # 70 % of 2 880 bars
    assert (ranked["is_trades"] > 0).all() and (ranked["oos_trades"] > 0).all()
    # the in-sample range is the first 70 %: a run on exactly those rows gives the same in-sample PnL
    cut = real_inputs.groupby("symbol").head(2016)
    res_cut = run_sweep(cut, strategy, configs, {**settings, "train_frac": 1.0})
    np.testing.assert_allclose(res_cut.metrics["is_total_pnl"], res.metrics["is_total_pnl"], rtol=1e-12)
    assert "oos_total_pnl" not in res_cut.metrics


def test_dask_local_cluster_gives_identical_results(real_inputs):
    distributed = pytest.importorskip("distributed")
    strategy, configs, settings = setup(chunk=5)
    single = run_sweep(real_inputs, strategy, configs, settings)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as cluster:
        spread = run_sweep(real_inputs, strategy, configs, settings, scheduler=cluster.scheduler_address)
    assert spread.complete and spread.n_tasks == single.n_tasks > 4
    pd.testing.assert_frame_equal(single.metrics, spread.metrics, check_exact=True)


def test_interrupt_keeps_finished_chunks(real_inputs):
    strategy, configs, settings = setup(chunk=8)

    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    res = run_sweep(real_inputs, strategy, configs, settings, on_progress=stop_after_two)
    assert not res.complete and res.n_done == 2 and len(res.metrics) == 16
    ranked = ranked_table(res)
    assert len(ranked) == 16 and not ranked["complete"].any()

    def stop_at_once(done, total):
        raise KeyboardInterrupt

    res = run_sweep(real_inputs, strategy, configs, settings, on_progress=stop_at_once)
    assert res.n_done == 1 and len(ranked_table(res)) == 8
    from backtest.sweep import SweepResult
    none = ranked_table(SweepResult(strategy, configs, pd.DataFrame(columns=["config_id"]), settings, 8, 0))
    assert len(none) == 0 and "complete" in none


def test_lookahead_check_passes_on_real_signals(real_arrays):
    for strategy, grid in (("momentum", GRID), ("scanner", {
            "interval": ["5m", "15m"], "htf_interval": "1h", "rsi_buy_min": 55, "rsi_sell_max": 45,
            "trend_align": True, "align_pad": 1.5, "sl_atr_mult": 1.0, "tp_atr_mult": 2.0})):
        _, configs = expand({"strategy": strategy, "symbols": {"LINKUSDT": grid}})
        assert check_sweep(strategy, real_arrays, configs, 5) > 0


def test_lookahead_check_catches_a_planted_look_ahead(real_arrays):
    a = real_arrays["LINKUSDT"]
    cuts = default_cuts(len(a["c"]))

    def honest(arr):
        return np.sign(arr["c"] - arr["o"])

    def peeks(arr):                      # decides on bar i with the close of bar i+1
        nxt = np.r_[arr["c"][1:], np.nan]
        return np.sign(nxt - arr["c"])

    check_signal_fn(honest, a, cuts)
    with pytest.raises(LookaheadError, match="look-ahead"):
        check_signal_fn(peeks, a, cuts)

    def centred_window(arr):             # a centred rolling mean: a subtler leak
        return pd.Series(arr["c"]).rolling(5, center=True).mean().to_numpy()

    with pytest.raises(LookaheadError):
        check_signal_fn(centred_window, a, cuts)
