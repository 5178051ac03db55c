"""Minute feature table for the sweep, from recorder CSVs, the store, or plain kline files.

Every source is reduced to the same per-symbol frames (bars, quotes, funding) and then to one table
with the columns of `FEATURE_COLUMNS` plus `rs_vol_{W}m_bps` / `avg_vol_{W}m` per window. The per-bar
quantities come from `mraster.signals.momentum`, the same code the signal uses.

Sources:
- recorder CSVs (`kline_YYYYMMDD.csv`, `bookTicker_YYYYMMDD.csv`, `markPrice_YYYYMMDD.csv`, seed 002
  column names): the last kline snapshot of each bar (by `k1_start_ms`, `k1_closed` not required);
  quotes forward-filled on a one-second grid and averaged over the minute (`tw_bid_px`, `tw_ask_px`),
  the last quote of the minute for spread and opening loss; the last funding rate seen.
- the store (DuckDB file or Parquet directory with tables `kline`, `book_ticker`, `mark_price`):
  read with duckdb into the same frames.
- kline files without quotes (`--klines`, e.g. the real data shipped in mraster/data/replay/): bid/ask
  one-minute bars where a `*-bidask*` file exists (time-weighted quote = the bar's OHLC mean, last
  quote = its close; a minute without a bar keeps the previous close), otherwise a stated spread
  model: mid = the trade bar, time-weighted mid = (O+H+L+C)/4, a constant spread of `spread_bps`
  around it. Funding: the last settlement at or before the bar's close from a `*funding*` file,
  0 when none is known (column `funding_source` says which).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from mraster.data import REPLAY_DIR as REPLAY_ROOT
from mraster.signals import momentum as mom

MINUTE_MS = 60_000
FEATURE_COLUMNS = ["symbol", "open_time_ms", "time_utc", "open", "high", "low", "close", "vol1m", "ret_bps",
                   "bid_px", "ask_px", "spread_bps", "funding_bps", "open_loss_long_bps", "open_loss_short_bps",
                   "tw_bid_px", "tw_ask_px", "tw_mid", "rs_var_1m", "quote_source", "funding_source"]


class FeatureError(ValueError):
    pass


@dataclass
class SymbolData:
    """One symbol's raw inputs on its minute grid (index = bar open ms)."""
    bars: pd.DataFrame          # open, high, low, close, volume
    quotes: pd.DataFrame        # bid_px, ask_px (last of minute), tw_bid_px, tw_ask_px
    funding: pd.Series          # rate (fraction) per bar, NaN where unknown
    quote_source: str
    funding_source: str


# ---------------------------------------------------------------------------------------- per-bar features
def features_for(symbol: str, d: SymbolData, windows: Sequence[int]) -> pd.DataFrame:
    bars = d.bars
    if bars.empty:
        raise FeatureError(f"{symbol}: no bars in the selected range")
    grid = np.arange(bars.index.min(), bars.index.max() + MINUTE_MS, MINUTE_MS, dtype=np.int64)
    bars = bars.reindex(grid)                                     # missing minutes stay NaN (no signal)
    q = d.quotes.reindex(grid)
    fund = d.funding.reindex(grid)
    o, h, lo, c, v = (bars[x].to_numpy(float) for x in ("open", "high", "low", "close", "volume"))
    out = pd.DataFrame({"symbol": symbol, "open_time_ms": grid})
    out["time_utc"] = pd.to_datetime(grid, unit="ms", utc=True).strftime("%Y-%m-%d %H:%M")
    out["open"], out["high"], out["low"], out["close"], out["vol1m"] = o, h, lo, c, v
    out["ret_bps"] = mom.ret_bps(o, c)
    bid, ask = q["bid_px"].to_numpy(float), q["ask_px"].to_numpy(float)
    out["bid_px"], out["ask_px"] = bid, ask
    out["spread_bps"] = mom.spread_bps(bid, ask)
    out["funding_bps"] = fund.to_numpy(float) * 1e4
    ol_long, ol_short = mom.opening_loss_bps(bid, ask)
    out["open_loss_long_bps"], out["open_loss_short_bps"] = ol_long, ol_short
    out["tw_bid_px"], out["tw_ask_px"] = q["tw_bid_px"].to_numpy(float), q["tw_ask_px"].to_numpy(float)
    out["tw_mid"] = (out["tw_bid_px"] + out["tw_ask_px"]) / 2.0
    rsv = mom.rs_var(o, h, lo, c)
    out["rs_var_1m"] = rsv
    out["quote_source"], out["funding_source"] = d.quote_source, d.funding_source
    for w in windows:
        out[f"rs_vol_{w}m_bps"] = mom.rs_vol_bps(rsv, w)
        out[f"avg_vol_{w}m"] = mom.rolling_mean(v, w)
    return out


def build_features(data: dict[str, SymbolData], windows: Sequence[int]) -> pd.DataFrame:
    frames = [features_for(sym, data[sym], windows) for sym in sorted(data)]
    if not frames:
        raise FeatureError("no symbol has data in the selected range")
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------ recorder-shaped rows
def bars_from_kline_rows(k: pd.DataFrame) -> pd.DataFrame:
    """Last snapshot of each bar (by bar open `k1_start_ms`), seed 002 kline columns."""
    k = k.sort_values(["k1_start_ms", "ts_unix_ms"], kind="stable").drop_duplicates("k1_start_ms", keep="last")
    return pd.DataFrame({"open": k["k1_open"].to_numpy(float), "high": k["k1_high"].to_numpy(float),
                         "low": k["k1_low"].to_numpy(float), "close": k["k1_close"].to_numpy(float),
                         "volume": k["k1_base_vol"].to_numpy(float)},
                        index=k["k1_start_ms"].to_numpy(np.int64))


def quotes_from_book_rows(b: pd.DataFrame, grid_start: int, grid_end: int) -> pd.DataFrame:
    """Quotes forward-filled on a one-second grid, averaged per minute; last quote of each minute."""
    cols = ["tw_bid_px", "tw_ask_px", "bid_px", "ask_px"]
    if b.empty:
        return pd.DataFrame(columns=cols, dtype=float)
    b = b.sort_values("ts_unix_ms", kind="stable")
    sec = b["ts_unix_ms"].to_numpy(np.int64) // 1000
    per_sec = pd.DataFrame({"bid": b["bid_px"].to_numpy(float), "ask": b["ask_px"].to_numpy(float)},
                           index=sec).groupby(level=0).last()
    first = min(int(per_sec.index[0]), grid_start // 1000)
    seconds = np.arange(first, grid_end // 1000 + 60, dtype=np.int64)
    filled = per_sec.reindex(seconds).ffill()
    minute = (seconds // 60) * MINUTE_MS
    g = filled.groupby(minute)
    out = pd.DataFrame({"tw_bid_px": g["bid"].mean(), "tw_ask_px": g["ask"].mean(),
                        "bid_px": g["bid"].last(), "ask_px": g["ask"].last()})
    return out


def funding_from_mark_rows(m: pd.DataFrame) -> pd.Series:
    if m.empty:
        return pd.Series(dtype=float)
    m = m.sort_values("ts_unix_ms", kind="stable")
    minute = (m["ts_unix_ms"].to_numpy(np.int64) // MINUTE_MS) * MINUTE_MS
    return pd.Series(m["funding_rate"].to_numpy(float), index=minute).groupby(level=0).last()


def symbol_data_from_rows(k: pd.DataFrame, b: pd.DataFrame, m: pd.DataFrame) -> SymbolData:
    bars = bars_from_kline_rows(k)
    start, end = int(bars.index.min()), int(bars.index.max())
    quotes = quotes_from_book_rows(b, start, end)
    fund = funding_from_mark_rows(m)
    grid = np.arange(start, end + MINUTE_MS, MINUTE_MS, dtype=np.int64)
    fund = fund.reindex(np.union1d(grid, fund.index.to_numpy())).ffill().reindex(grid)
    return SymbolData(bars, quotes, fund, "recorded" if not b.empty else "none",
                      "recorded" if not m.empty else "none")


_DAY_RE = re.compile(r"_(\d{8})\.csv$")


def _day_files(log_dir: Path, family: str, start: str | None, end: str | None) -> list[Path]:
    out = []
    lo = start.replace("-", "") if start else None
    hi = end.replace("-", "") if end else None
    for p in sorted(log_dir.glob(f"{family}_*.csv")):
        m = _DAY_RE.search(p.name)
        if not m or (lo and m.group(1) < lo) or (hi and m.group(1) > hi):
            continue
        out.append(p)
    plain = log_dir / f"{family}.csv"                      # seed 000's undated file
    if plain.exists():
        out.append(plain)
    return out


def _read_family(log_dir: Path, family: str, start: str | None, end: str | None, usecols: list[str]
                 ) -> pd.DataFrame:
    files = _day_files(log_dir, family, start, end)
    if not files:
        return pd.DataFrame(columns=usecols)
    parts = []
    for p in files:
        try:
            parts.append(pd.read_csv(p, usecols=usecols))
        except ValueError as exc:
            raise FeatureError(f"{p}: {exc} (expected seed 002 columns {usecols})") from exc
    return pd.concat(parts, ignore_index=True)


KLINE_COLS = ["ts_unix_ms", "symbol", "k1_start_ms", "k1_open", "k1_high", "k1_low", "k1_close", "k1_base_vol"]
BOOK_COLS = ["ts_unix_ms", "symbol", "bid_px", "ask_px"]
MARK_COLS = ["ts_unix_ms", "symbol", "funding_rate"]


def _date_bounds_ms(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    lo = int(pd.Timestamp(start, tz="UTC").value // 1_000_000) if start else None
    hi = int((pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).value // 1_000_000) if end else None
    return lo, hi


def _split_by_symbol(k: pd.DataFrame, b: pd.DataFrame, m: pd.DataFrame, symbols: Iterable[str] | None,
                     start: str | None, end: str | None) -> dict[str, SymbolData]:
    lo, hi = _date_bounds_ms(start, end)
    if lo is not None:
        k = k[k["k1_start_ms"] >= lo]
    if hi is not None:
        k = k[k["k1_start_ms"] < hi]
    wanted = set(symbols) if symbols else set(k["symbol"].unique())
    out = {}
    for sym in sorted(wanted):
        ks = k[k["symbol"] == sym]
        if ks.empty:
            raise FeatureError(f"{sym}: no kline rows in the selected range")
        out[sym] = symbol_data_from_rows(ks, b[b["symbol"] == sym], m[m["symbol"] == sym])
    return out


def load_log_dir(log_dir: str | Path, symbols: Sequence[str] | None = None, start: str | None = None,
                 end: str | None = None) -> dict[str, SymbolData]:
    d = Path(log_dir)
    if not d.is_dir():
        raise FeatureError(f"log directory {d} does not exist")
    k = _read_family(d, "kline", start, end, KLINE_COLS)
    if k.empty:
        raise FeatureError(f"{d}: no kline_YYYYMMDD.csv files in the selected range")
    b = _read_family(d, "bookTicker", start, end, BOOK_COLS)
    m = _read_family(d, "markPrice", start, end, MARK_COLS)
    return _split_by_symbol(k, b, m, symbols, start, end)


def load_store(path: str | Path, symbols: Sequence[str] | None = None, start: str | None = None,
               end: str | None = None) -> dict[str, SymbolData]:
    """A DuckDB database file with tables or views kline/book_ticker/mark_price, or a directory of Parquet
    files (the recorder store's `parquet/<table>/date=.../symbol=.../*.parquet`, or `<table>/**/*.parquet`,
    or `<table>*.parquet`), seed 002 column names. Symbols and dates are filtered in the query."""
    try:
        import duckdb
    except ModuleNotFoundError as exc:  # pragma: no cover - duckdb is in the backtest extra
        raise FeatureError("--store needs duckdb (pip install 'mraster[backtest]')") from exc
    p = Path(path)
    if not p.exists():
        raise FeatureError(f"store {p} does not exist")
    con = duckdb.connect(str(p), read_only=True) if p.is_file() else duckdb.connect()
    lo, hi = _date_bounds_ms(start, end)

    def source(table: str) -> str | None:
        if p.is_file():
            names = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
            return table if table in names else None
        for pattern in (p / "parquet" / table / "**" / "*.parquet", p / table / "**" / "*.parquet",
                        p / f"{table}*.parquet"):
            if list(p.glob(str(pattern.relative_to(p)))):
                return f"read_parquet('{pattern}', union_by_name=true, hive_partitioning=false)"
        return None

    def read(table: str, cols: list[str], time_col: str, slack_ms: int) -> pd.DataFrame:
        src = source(table)
        if src is None:
            return pd.DataFrame(columns=cols)
        where, params = [], []
        if symbols:
            where.append(f"symbol in ({', '.join('?' for _ in symbols)})")
            params += list(symbols)
        if lo is not None:
            where.append(f"{time_col} >= ?")
            params.append(lo - slack_ms)
        if hi is not None:
            where.append(f"{time_col} < ?")
            params.append(hi)
        sql = f"select {', '.join(cols)} from {src}" + (f" where {' and '.join(where)}" if where else "")
        return con.execute(sql, params).df()

    try:
        k = read("kline", KLINE_COLS, "k1_start_ms", 0)
        if k.empty:
            raise FeatureError(f"store {p}: no kline rows for the selection")
        # quotes and funding from an hour before the first bar, so the first minutes are forward-filled
        b = read("book_ticker", BOOK_COLS, "ts_unix_ms", 3_600_000)
        m = read("mark_price", MARK_COLS, "ts_unix_ms", 3_600_000)
    finally:
        con.close()
    return _split_by_symbol(k, b, m, symbols, start, end)


# ------------------------------------------------------------------------------------------ kline files
_SYM_RE = re.compile(r"_([A-Z0-9]{3,})(?:-perp)?_1m(-bidask)?_")


def resolve_klines_dir(spec: str | Path) -> Path:
    p = Path(spec)
    if p.is_dir():
        return p
    if (REPLAY_ROOT / str(spec)).is_dir():
        return REPLAY_ROOT / str(spec)
    raise FeatureError(f"kline source {spec}: not a directory nor a name under {REPLAY_ROOT}")


def _kline_files(d: Path) -> tuple[dict[str, Path], dict[str, Path], list[Path]]:
    trades, quotes, funding = {}, {}, []
    for p in sorted(d.iterdir()):
        if "funding" in p.name:
            funding.append(p)
            continue
        m = _SYM_RE.search(p.name)
        if m:
            (quotes if m.group(2) else trades)[m.group(1)] = p
    return trades, quotes, funding


def load_klines(spec: str | Path, symbols: Sequence[str] | None = None, start: str | None = None,
                end: str | None = None, spread_bps: float = 1.0) -> dict[str, SymbolData]:
    d = resolve_klines_dir(spec)
    trades, quotes, funding_files = _kline_files(d)
    wanted = list(symbols) if symbols else sorted(trades)
    missing = [s for s in wanted if s not in trades]
    if missing:
        raise FeatureError(f"{d}: no 1m kline file for {', '.join(missing)} (have {', '.join(sorted(trades))})")
    fund_rows = pd.concat([pd.read_csv(f) for f in funding_files], ignore_index=True) if funding_files else None
    lo, hi = _date_bounds_ms(start, end)
    out = {}
    for sym in wanted:
        k = pd.read_csv(trades[sym])
        if lo is not None:
            k = k[k["open_time_ms"] >= lo]
        if hi is not None:
            k = k[k["open_time_ms"] < hi]
        if k.empty:
            raise FeatureError(f"{sym}: no bars in the selected range")
        idx = k["open_time_ms"].to_numpy(np.int64)
        bars = pd.DataFrame({c: k[c].to_numpy(float) for c in ("open", "high", "low", "close", "volume")},
                            index=idx)
        grid = np.arange(idx.min(), idx.max() + MINUTE_MS, MINUTE_MS, dtype=np.int64)
        if sym in quotes:
            qb = pd.read_csv(quotes[sym]).set_index("open_time_ms").sort_index()
            qb = qb.reindex(np.union1d(grid, qb.index.to_numpy()))
            last_bid, last_ask = qb["bid_close"].ffill(), qb["ask_close"].ffill()
            prev_bid, prev_ask = last_bid.shift(1), last_ask.shift(1)
            tw_bid = qb[["bid_open", "bid_high", "bid_low", "bid_close"]].mean(axis=1, skipna=False)
            tw_ask = qb[["ask_open", "ask_high", "ask_low", "ask_close"]].mean(axis=1, skipna=False)
            q = pd.DataFrame({"bid_px": last_bid, "ask_px": last_ask,
                              "tw_bid_px": tw_bid.fillna(prev_bid), "tw_ask_px": tw_ask.fillna(prev_ask)}).reindex(grid)
            qsrc = "bidask_bars"
        else:
            b = bars.reindex(grid)
            tw_mid = (b["open"] + b["high"] + b["low"] + b["close"]) / 4.0
            half = spread_bps / 2e4
            q = pd.DataFrame({"bid_px": b["close"] * (1 - half), "ask_px": b["close"] * (1 + half),
                              "tw_bid_px": tw_mid * (1 - half), "tw_ask_px": tw_mid * (1 + half)}, index=grid)
            qsrc = f"model_{spread_bps:g}bps"
        fund, fsrc = _funding_for(fund_rows, sym, grid)
        out[sym] = SymbolData(bars, q, fund, qsrc, fsrc)
    return out


def _funding_for(rows: pd.DataFrame | None, sym: str, grid: np.ndarray) -> tuple[pd.Series, str]:
    """Last settled rate at or before each bar's close (no look-ahead); 0 where none is known."""
    if rows is None:
        return pd.Series(0.0, index=grid), "none_assumed_0"
    sym_col = "symbol" if "symbol" in rows.columns else "venue_symbol"
    r = rows[rows[sym_col].astype(str).str.replace("_PERP", "") == sym].sort_values("funding_time_ms")
    if r.empty:
        return pd.Series(0.0, index=grid), "none_assumed_0"
    t = r["funding_time_ms"].to_numpy(np.int64)
    pos = np.searchsorted(t, grid + MINUTE_MS, side="right") - 1
    rate = np.where(pos >= 0, r["funding_rate"].to_numpy(float)[np.maximum(pos, 0)], 0.0)
    return pd.Series(rate, index=grid), "settlements"
