"""Figure: the analytic store. One UTC day x 10 symbols of recorder CSV files (86,400 rows per symbol in each
of the five families, written in the recorder's format) is loaded with `Store.load_day` (CSV -> Parquet
partitioned by date and symbol, verified by row counts, registered in DuckDB); then a coverage query and a
per-minute aggregation (OHLC of mid, mean spread, traded volume, per symbol and minute) run in DuckDB.
Baseline in the same run: pandas.read_csv of the same five files, and the same per-minute aggregation in
pandas on the loaded frames.
Run: python3 bench/store_load_query.py [--symbols 10]"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mraster.marketdata.schema import TABLES  # noqa: E402
from recorder.store import Store  # noqa: E402

DAY = "20260301"
T0 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)


def write_day(log_dir: Path, symbols: list[str]) -> None:
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(86_400, dtype=np.int64) * 1000
    dt = pd.to_datetime(ts, unit="ms", utc=True)
    common = {"ts_unix_ms": ts, "ts_dt_utc": dt.strftime("%Y-%m-%d %H:%M:%S.000"), "symbol": None}
    parts = {"date": dt.strftime("%Y-%m-%d"), "hour": dt.hour, "minute": dt.minute, "second": dt.second}
    frames: dict[str, list[pd.DataFrame]] = {t.name: [] for t in TABLES}
    for i, sym in enumerate(symbols):
        mid = 100.0 * (i + 1) * np.exp(np.cumsum(rng.normal(0, 1e-4, ts.size)))
        spread = 0.01 * (i + 1) * rng.integers(1, 4, ts.size)
        bid, ask = mid - spread / 2, mid + spread / 2
        bq, aq = rng.uniform(0.1, 5, ts.size), rng.uniform(0.1, 5, ts.size)
        base = dict(common, symbol=sym)
        k_open = ts // 60_000 * 60_000
        frames["kline"].append(pd.DataFrame({**base, "k1_start_ms": k_open, "k1_close_ms": k_open + 59_999,
            "k1_open": mid, "k1_high": mid * 1.0005, "k1_low": mid * 0.9995, "k1_close": mid,
            "k1_base_vol": rng.uniform(0, 100, ts.size), "k1_quote_vol": rng.uniform(0, 1e6, ts.size),
            "k1_trades": rng.integers(0, 500, ts.size), "k1_closed": np.where(ts % 60_000 == 59_000, "true", "false"),
            **parts}))
        frames["book_ticker"].append(pd.DataFrame({**base, "bid_px": bid, "bid_qty": bq, "ask_px": ask, "ask_qty": aq,
            "spread": spread, "mid": mid, "imbalance": (bq - aq) / (bq + aq),
            "weighted_mid": (bid * aq + ask * bq) / (bq + aq), **parts}))
        frames["mark_price"].append(pd.DataFrame({**base, "mark_px": mid, "index_px": mid * 0.9999,
            "funding_rate": 0.0001, "next_funding_time_ms": (ts // 28_800_000 + 1) * 28_800_000,
            "mark_index_bps": 1.0, **parts}))
        n = rng.poisson(3, ts.size)
        q = rng.uniform(0, 2, ts.size) * (n > 0)
        frames["agg_trade_1s"].append(pd.DataFrame({**base, "n_trades_1s": n, "sum_qty_1s": q,
            "vwap_1s": np.where(n > 0, mid, np.nan), "buy_qty_1s": q / 2, "sell_qty_1s": q / 2,
            "buy_notional_1s": q / 2 * mid, "sell_notional_1s": q / 2 * mid, **parts}))
        depth = {**base}
        for side, sign in (("bid", -1), ("ask", 1)):
            for lvl in range(1, 6):
                depth[f"{side}{lvl}_px"] = mid + sign * spread * lvl
        for side in ("bid", "ask"):
            for lvl in range(1, 6):
                depth[f"{side}{lvl}_qty"] = rng.uniform(0.1, 5, ts.size)
        depth["obi5"] = rng.uniform(-1, 1, ts.size)
        frames["depth5"].append(pd.DataFrame({**depth, **parts}))
    for t in TABLES:
        df = pd.concat(frames[t.name]).sort_values(["ts_unix_ms", "symbol"], kind="stable")[t.names]
        df.to_csv(log_dir / t.csv_name(DAY), index=False, float_format="%.12g")


MINUTE_SQL = """
SELECT b.symbol, b.date, b.hour, b.minute,
       arg_min(b.mid, b.ts_unix_ms) AS open_mid, max(b.mid) AS high_mid, min(b.mid) AS low_mid,
       arg_max(b.mid, b.ts_unix_ms) AS close_mid, avg(b.spread) AS avg_spread, sum(a.sum_qty_1s) AS volume
FROM book_ticker b JOIN agg_trade_1s a USING (symbol, ts_unix_ms)
WHERE b.date = DATE '2026-03-01'
GROUP BY ALL ORDER BY ALL
"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--reuse", metavar="DIR", help="a work dir of an earlier run: skip writing the CSV day")
    args = ap.parse_args()
    symbols = [f"SYM{i:02d}USDT" for i in range(args.symbols)]
    work = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="bench_store_"))
    logs = work / "logs"
    t = time.perf_counter()
    if not args.reuse:
        logs.mkdir()
        write_day(logs, symbols)
    shutil.rmtree(work / "store", ignore_errors=True)
    size = sum(p.stat().st_size for p in logs.iterdir())
    print(f"day of {len(symbols)} symbols: 5 files, {size / 2**20:.0f} MiB of CSV, "
          f"{86_400 * len(symbols)} rows each (written in {time.perf_counter() - t:.1f}s) in {work}")

    store = Store(work / "store")
    # the load runs in a fresh child process, so its peak memory is its own
    code = ("import sys, time, json; from recorder.store import Store; t = time.perf_counter(); "
            f"r = Store({str(store.root)!r}).load_day({str(logs)!r}, {DAY!r}); "
            "print(json.dumps([time.perf_counter() - t, all(x.verified for x in r)]))")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load, verified = json.loads(out.stdout.strip().splitlines()[-1])
    assert verified
    load_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak = after.ru_maxrss / 1024
    # the baseline after the load: a child forked from a process holding the frames would count them
    t, c = time.perf_counter(), _cpu()
    frames = {tb.name: pd.read_csv(logs / tb.csv_name(DAY)) for tb in TABLES}
    base_load, base_cpu = time.perf_counter() - t, _cpu() - c
    parquet = sum(p.stat().st_size for p in store.parquet.rglob("*.parquet"))
    print(f"data load (CSV -> Parquet + DuckDB, verified): {load:.2f}s (target < 10 s); "
          f"pandas.read_csv of the same files: {base_load:.2f}s (ratio {load / base_load:.2f}); "
          f"Parquet {parquet / 2**20:.0f} MiB; CPU time {load_cpu:.1f}s (incl. imports) vs {base_cpu:.1f}s; "
          f"peak memory of the load {peak:.0f} MiB")

    t = time.perf_counter()
    cov = store.coverage()
    cov_s = time.perf_counter() - t
    print(f"coverage ({len(cov)} symbol-days): {cov_s * 1000:.0f} ms (target < 1 s)")
    con = store.connect()
    con.execute(MINUTE_SQL).fetchall()                 # warm (first open of the files)
    t = time.perf_counter()
    rows = con.execute(MINUTE_SQL).fetchall()
    q = time.perf_counter() - t
    con.close()
    t = time.perf_counter()
    b, a = frames["book_ticker"], frames["agg_trade_1s"]
    m = b.merge(a[["symbol", "ts_unix_ms", "sum_qty_1s"]], on=["symbol", "ts_unix_ms"])
    g = m.sort_values("ts_unix_ms").groupby(["symbol", "date", "hour", "minute"]).agg(
        open_mid=("mid", "first"), high_mid=("mid", "max"), low_mid=("mid", "min"), close_mid=("mid", "last"),
        avg_spread=("spread", "mean"), volume=("sum_qty_1s", "sum"))
    base_q = time.perf_counter() - t
    assert len(g) == len(rows) == 1440 * len(symbols)
    print(f"per-minute aggregation ({len(rows)} rows): DuckDB {q * 1000:.0f} ms (target < 1 s); "
          f"pandas on frames already in memory {base_q * 1000:.0f} ms (ratio {q / base_q:.2f})")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
