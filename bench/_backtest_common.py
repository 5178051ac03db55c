"""Shared setup of the backtest benchmarks: real 1m perpetual months and a momentum grid."""
from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = Path("/work/shared/data/binance-um")
PACKAGE = ROOT / "mraster" / "data" / "replay" / "binance-um-2026-02"
KEYS = ["k", "T", "n", "V", "tp_bps", "sl_bps", "activation_bps", "activation_buffer_bps", "callback_bps",
        "min_tp_gap_bps", "spread_max", "funding_max"]


def ten_symbol_months() -> Path:
    """A directory of 10 symbol-months of real 1m klines (28 days each): the 7 perps of 2026-02 and 3 of
    2025-02 (renamed *25USDT) from the shared data set; the 3 packaged symbols when it is absent."""
    if not SHARED.is_dir():
        return PACKAGE
    d = Path(tempfile.mkdtemp(prefix="bt_bench_"))
    for s in ("ALGO", "AVAX", "DOT", "FIL", "LINK", "LTC", "NEAR"):
        (d / f"binance-um_{s}USDT-perp_1m_2026-02.csv.gz").symlink_to(SHARED / f"binance-um_{s}USDT-perp_1m_2026-02.csv.gz")
    for s in ("ALGO", "AVAX", "FIL"):
        (d / f"binance-um_{s}25USDT-perp_1m_2025-02.csv.gz").symlink_to(SHARED / f"binance-um_{s}USDT-perp_1m_2025-02.csv.gz")
    return d


def momentum_configs(n_per_symbol: int, symbols: list[str]) -> pd.DataFrame:
    """`n_per_symbol` configurations per symbol, a slice of a large cartesian grid (trailing on)."""
    values = itertools.product([0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0, 5.0], [10, 20, 30, 60, 90], [1.0, 1.5, 2.0, 3.0],
                               [30, 60, 120], [20, 40, 60, 90], [15, 30, 50], [8, 15, 25], [2], [4, 8, 15],
                               [5], [5], [5])
    base = [dict(zip(KEYS, v)) for v in itertools.islice(values, 0, None, 7)][:n_per_symbol]
    if len(base) < n_per_symbol:
        raise SystemExit(f"grid too small for {n_per_symbol} configurations")
    rows = [{"symbol": s, **b} for s in symbols for b in base]
    df = pd.DataFrame(rows)
    df.insert(0, "config_id", range(len(df)))
    return df
