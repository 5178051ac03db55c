"""The backtester's CSV day reader (`mraster.marketdata.csvread.read_csv_day`) against the plain
`pd.read_csv` it replaced, on a synthetic seed-002 bookTicker day file: a clean file, and one with a torn
last line (the reader then goes through the bounded Python reader). Prints seconds and ratios.

    python3 bench/marketdata_csv_read.py [--rows 500000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from mraster.marketdata.csvread import read_csv_day
from mraster.marketdata.schema import BOOK_TICKER

COLS = ["ts_unix_ms", "symbol", "bid_px", "ask_px"]


def make_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(7)
    ts = 1772323200000 + np.arange(rows, dtype=np.int64) * 100
    mid = 100 + np.cumsum(rng.normal(0, 0.01, rows))
    half = rng.uniform(0.001, 0.01, rows)
    df = pd.DataFrame({"ts_unix_ms": ts, "ts_dt_utc": "2026-03-01 00:00:00.000",
                       "symbol": np.array([f"S{i:02d}USDT" for i in range(20)])[np.arange(rows) % 20],
                       "bid_px": mid - half, "bid_qty": 1.5, "ask_px": mid + half, "ask_qty": 2.5,
                       "spread": 2 * half, "mid": mid, "imbalance": 0.1, "weighted_mid": mid,
                       "date": "2026-03-01", "hour": 0, "minute": 0, "second": 0})
    assert list(df.columns) == BOOK_TICKER.names
    df.to_csv(path, index=False, float_format="%.6f")


def best(fn, repeat: int = 3) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "bookTicker_20260301.csv"
        make_file(clean, args.rows)
        torn = Path(tmp) / "torn" / clean.name
        torn.parent.mkdir()
        torn.write_bytes(clean.read_bytes() + b"1772400000000,2026-03-01 21:20:00.000,S00USDT,100.1")
        mb = clean.stat().st_size / 1e6
        base = best(lambda: pd.read_csv(clean, usecols=COLS))
        new = best(lambda: read_csv_day(clean, BOOK_TICKER, COLS)[0].to_pandas())
        new_torn = best(lambda: read_csv_day(torn, BOOK_TICKER, COLS)[0].to_pandas())
        assert len(read_csv_day(torn, BOOK_TICKER, COLS)[0]) == args.rows
        print(f"{args.rows:,} rows, {mb:.0f} MB, 4 of 16 columns, best of 3")
        print(f"pd.read_csv (old, reads a torn line as a row): {base:.3f} s")
        print(f"read_csv_day, clean file:                      {new:.3f} s  ({new / base:.2f}x the old)")
        print(f"read_csv_day, torn last line:                  {new_torn:.3f} s  ({new_torn / base:.2f}x the old)")


if __name__ == "__main__":
    main()
