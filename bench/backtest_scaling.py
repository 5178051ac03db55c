"""Benchmark: sweep scaling with the number of configurations (10 to 10,000) and with Dask workers.

Data: 10 symbol-months of real 1m perpetual klines (28 days = 40,320 bars each; bench/_backtest_common.py),
features built once (not timed). Timed: `run_sweep` end to end (shared signal function per configuration
group, compiled engine, in-sample and held-out metrics), after a warm-up that compiles the engine. The
10,000-configuration point is the issue's load: 1,000 configurations x 10 symbols x 28-30 days. Peak RSS
is reported. Then the 1,000-configuration point again on a local Dask cluster of 1 and 2 worker processes
(127.0.0.1; compile time in the workers excluded by a warm-up run).

    python3 bench/backtest_scaling.py [--max-configs 10000] [--no-dask]
"""
from __future__ import annotations

import argparse
import resource
import time

from _backtest_common import momentum_configs, ten_symbol_months  # noqa: I001

from backtest.features import build_features, load_klines
from backtest.grid import settings_of
from backtest.sweep import run_sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-configs", type=int, default=10_000)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    inputs = build_features(load_klines(ten_symbol_months()), [30])
    symbols = sorted(inputs["symbol"].unique())
    n_bars = len(inputs) // len(symbols)
    print(f"data: {len(symbols)} symbols x {n_bars} bars, features in {time.perf_counter() - t0:.1f} s")
    settings = settings_of({"settings": {"chunk_size": 256}})
    run_sweep(inputs, "momentum", momentum_configs(2, symbols), settings)        # compile
    print("| configurations (total) | per symbol | config-bars | wall s | M config-bars/s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    total = 10
    while total <= args.max_configs:
        per = max(1, total // len(symbols))
        cfg = momentum_configs(per, symbols)
        t0 = time.perf_counter()
        res = run_sweep(inputs, "momentum", cfg, settings)
        dt = time.perf_counter() - t0
        assert res.complete
        cb = len(cfg) * n_bars
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {len(cfg)} | {per} | {cb / 1e6:.1f} M | {dt:.2f} | {cb / dt / 1e6:.1f} | {rss:.0f} |", flush=True)
        total *= 10
    if args.no_dask:
        return
    from distributed import Client, LocalCluster
    cfg = momentum_configs(100, symbols)
    t0 = time.perf_counter()
    base = run_sweep(inputs, "momentum", cfg, settings)
    t_single = time.perf_counter() - t0
    print(f"\n1,000 configurations: single process {t_single:.2f} s")
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                          processes=True) as cluster, Client(cluster) as client:
            addr = cluster.scheduler_address
            run_sweep(inputs, "momentum", momentum_configs(2, symbols), settings, scheduler=addr)   # compile
            t0 = time.perf_counter()
            res = run_sweep(inputs, "momentum", cfg, settings, scheduler=addr)
            dt = time.perf_counter() - t0
            same = res.metrics.equals(base.metrics)
            client.close()
        print(f"Dask, {workers} worker process(es): {dt:.2f} s ({t_single / dt:.2f}x single process); "
              f"results identical: {same}")


if __name__ == "__main__":
    main()
