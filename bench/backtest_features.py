"""Benchmark: feature build throughput, in minutes of market data per second.

1. Recorder CSVs (the seed's per-second snapshots): a synthetic day per symbol with a kline snapshot and a
   bookTicker quote every second and a markPrice row every second (86,400 rows per family per symbol;
   writing the files is not timed), read and turned into minute features (last kline snapshot per bar,
   quotes forward-filled per second and averaged per minute, funding, RS windows 10/30/60).
2. Plain kline files (the fallback the real history uses): 10 symbol-months of real 1m perpetual klines.

    python3 bench/backtest_features.py [--days 1] [--symbols 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _backtest_common import ten_symbol_months  # noqa: I001

from backtest.features import build_features, load_klines, load_log_dir

T0 = 1769904000000


def write_recorder_day(d: Path, day: int, symbols: list[str], rng) -> None:
    ks, bs, ms = [], [], []
    start = T0 + day * 86_400_000
    ts = start + np.arange(86_400) * 1000 + rng.integers(0, 900, 86_400)
    for si, sym in enumerate(symbols):
        px = (10.0 + si) * np.exp(np.cumsum(rng.normal(0, 2e-4, 86_400)))
        bar = (ts - start) // 60_000
        k1_start = start + bar * 60_000
        g = pd.Series(px).groupby(bar)
        ks.append(pd.DataFrame({"ts_unix_ms": ts, "ts_dt_utc": "", "symbol": sym, "k1_start_ms": k1_start,
                                "k1_close_ms": k1_start + 59_999, "k1_open": g.transform("first"),
                                "k1_high": g.cummax(), "k1_low": g.cummin(), "k1_close": px,
                                "k1_base_vol": np.tile(np.arange(1, 61), 1440) * 3.0, "k1_quote_vol": 0.0,
                                "k1_trades": 5, "k1_closed": False}))
        half = px * 1e-4
        bs.append(pd.DataFrame({"ts_unix_ms": ts + 5, "ts_dt_utc": "", "symbol": sym, "bid_px": px - half,
                                "bid_qty": 1.0, "ask_px": px + half, "ask_qty": 1.0, "spread": 2 * half, "mid": px,
                                "imbalance": 0.0, "weighted_mid": px}))
        ms.append(pd.DataFrame({"ts_unix_ms": ts + 7, "ts_dt_utc": "", "symbol": sym, "mark_px": px,
                                "index_px": px, "funding_rate": 1e-4, "next_funding_time_ms": start,
                                "mark_index_bps": 0.0}))
    stamp = pd.Timestamp(start, unit="ms").strftime("%Y%m%d")
    for fam, parts in (("kline", ks), ("bookTicker", bs), ("markPrice", ms)):
        pd.concat(parts).to_csv(d / f"{fam}_{stamp}.csv", index=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--symbols", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    symbols = [f"S{i}USDT" for i in range(args.symbols)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for day in range(args.days):
            write_recorder_day(d, day, symbols, rng)
        size = sum(p.stat().st_size for p in d.iterdir()) / 1e6
        t0 = time.perf_counter()
        feat = build_features(load_log_dir(d), [10, 30, 60])
        dt = time.perf_counter() - t0
    print(f"recorder CSVs: {len(symbols)} symbols x {args.days} day(s), {3 * 86_400 * args.days * len(symbols)} "
          f"snapshot rows ({size:.0f} MB): {len(feat)} minutes in {dt:.2f} s = {len(feat) / dt:,.0f} minutes/s")
    src = ten_symbol_months()
    t0 = time.perf_counter()
    feat = build_features(load_klines(src), [10, 30, 60])
    dt = time.perf_counter() - t0
    print(f"kline files: {feat['symbol'].nunique()} symbol-months: {len(feat)} minutes in {dt:.2f} s = "
          f"{len(feat) / dt:,.0f} minutes/s")


if __name__ == "__main__":
    main()
