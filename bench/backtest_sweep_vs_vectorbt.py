"""Benchmark: the compiled sweep engine against vectorbt `Portfolio.from_signals`, same grid, same data,
same run, trades identical.

Data: LINKUSDT perpetual, 2026-02 (40,320 real 1m bars, packaged), spread model 1 bps. Grid: momentum
configurations with the trailing callback (vectorbt: `adjust_sl_func_nb` + `sl_trail`, a `signal_func_nb`
for the cooldown; backtest/vbt_reference.py). Both get the same signal matrix; timed is the simulation
(config-bars per second), after a warm-up call of each on a short slice so compile time is excluded.
Every trade of every configuration is compared (1e-9 relative). Target: >= 2x vectorbt.

    python3 bench/backtest_sweep_vs_vectorbt.py [--configs 256]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from _backtest_common import PACKAGE, momentum_configs  # noqa: I001

from backtest.engine import EXIT_STOP_MARKET, R_OPEN, run_chunk
from backtest.features import build_features, load_klines
from backtest.prep import prepare
from backtest.sweep import split_inputs
from backtest.vbt_reference import run_vbt, vbt_trades


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=256)
    args = ap.parse_args()
    inputs = build_features(load_klines(PACKAGE, ["LINKUSDT"]), [30])
    a = split_inputs(inputs, ["LINKUSDT"], 0.5)["LINKUSDT"]
    cfg = momentum_configs(args.configs, ["LINKUSDT"]).assign(cooldown_min=5)
    t0 = time.perf_counter()
    bars, sig, params, kind = prepare("momentum", a, cfg, 5)
    t_sig = time.perf_counter() - t0
    n, m = sig.shape
    common = (5.0, 1000.0, EXIT_STOP_MARKET)
    short = {k: (v[:500] if isinstance(v, np.ndarray) else v) for k, v in bars.items()}
    run_chunk(short, sig[:500], params, kind, *common, record=True)           # compile
    run_vbt(short, sig[:500], params, kind, *common)                           # compile
    t0 = time.perf_counter()
    metrics, _, _ = run_chunk(bars, sig, params, kind, *common)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ours, _ = run_chunk(bars, sig, params, kind, *common, record=True)
    t_ours_rec = time.perf_counter() - t0
    t0 = time.perf_counter()
    pf = run_vbt(bars, sig, params, kind, *common)
    t_vbt = time.perf_counter() - t0
    ref = vbt_trades(pf, m)
    n_trades = mismatched = 0
    for x, y in zip(ours, ref):
        x = x.copy()
        x[x[:, 9] != R_OPEN, 9] = -1.0
        n_trades += len(x)
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-9, atol=1e-12):
            mismatched += 1
    cb = n * m
    print(f"grid: {m} configurations x {n} bars = {cb / 1e6:.1f} M config-bars; {n_trades} trades")
    print(f"signals (shared momentum function, all configs): {t_sig:.2f} s")
    print(f"engine, metrics only:        {t_ours:7.3f} s  {cb / t_ours / 1e6:8.1f} M config-bars/s")
    print(f"engine, with trade records:  {t_ours_rec:7.3f} s  {cb / t_ours_rec / 1e6:8.1f} M config-bars/s")
    print(f"vectorbt from_signals:       {t_vbt:7.3f} s  {cb / t_vbt / 1e6:8.1f} M config-bars/s")
    print(f"speed-up: {t_vbt / t_ours:.1f}x (metrics), {t_vbt / t_ours_rec:.1f}x (with trades); "
          f"configurations whose trades differ: {mismatched}")


if __name__ == "__main__":
    main()
