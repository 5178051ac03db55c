"""Reading recorded market data for the replay feed. Formats are recognised by their columns:

- plain kline CSV: `open_time_ms` (or `open_time`/`timestamp`), open, high, low, close, [volume,
  quote_volume, trades, taker_buy_volume, taker_buy_quote_volume] - the data.binance.vision layout and
  the files in ../shared/data;
- the recorder's `kline*.csv`: ts_unix_ms, symbol, k1_start_ms, k1_open .. k1_close, k1_base_vol,
  k1_quote_vol, k1_trades, k1_closed (the last snapshot of each bar is used);
- book tickers: the recorder's `bookTicker*.csv` (ts_unix_ms, symbol, bid_px, bid_qty, ask_px, ask_qty),
  raw stream dumps (txn_time_ms or event_time_ms, bid_price, bid_qty, ask_price, ask_qty) and 1-minute
  bid/ask bars (open_time_ms, bid_open .. bid_close, ask_open .. ask_close);
- the recorder's `markPrice*.csv` (ts_unix_ms, symbol, mark_px, index_px, funding_rate, ...);
- funding rates: funding_time_ms, symbol, funding_rate.
A file without a `symbol` column takes the symbol from its name (e.g. `binance-um_LINKUSDT-perp_1m.csv.gz`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SYMBOL_IN_NAME = re.compile(r"([A-Z0-9]{2,20}(?:USDT|USDC|BUSD|USD))")


@dataclass
class SymbolData:
    """Everything recorded for one symbol, as float arrays sorted by time."""
    bars: dict[str, np.ndarray] | None = None          # open_time, open, high, low, close, volume, ...
    quotes: dict[str, np.ndarray] | None = None        # time, bid, bid_qty, ask, ask_qty
    marks: dict[str, np.ndarray] | None = None         # time, mark, index
    funding: dict[str, np.ndarray] | None = None       # time, rate
    sources: list[str] = field(default_factory=list)


def data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"{path} does not exist")
    files = sorted(p for p in path.rglob("*") if p.is_file() and (p.name.endswith(".csv") or p.name.endswith(".csv.gz")))
    if not files:
        raise ValueError(f"{path} holds no .csv or .csv.gz file")
    return files


def symbol_from_name(path: Path) -> str | None:
    m = SYMBOL_IN_NAME.search(path.name.upper())
    return m.group(1) if m else None


def _col(df: pd.DataFrame, *names: str) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def _by_symbol(df: pd.DataFrame, path: Path) -> dict[str, pd.DataFrame]:
    if "symbol" in df.columns:
        return {str(s).upper(): g for s, g in df.groupby("symbol")}
    symbol = symbol_from_name(path)
    if symbol is None:
        raise ValueError(f"{path.name}: no 'symbol' column and no symbol in the file name")
    return {symbol: df}


def _merge(target: dict[str, np.ndarray] | None, part: dict[str, np.ndarray], key: str,
           unique_key: bool = True) -> dict[str, np.ndarray]:
    """Concatenate and sort by `key`. Bars: one row per key (overlapping files do not duplicate bars).
    Quotes: several updates may share a millisecond; only rows repeated in every column are dropped."""
    if target is None:
        out = part
    else:
        out = {k: np.concatenate([target[k], part[k]]) for k in target}
    order = np.argsort(out[key], kind="stable")
    out = {k: v[order] for k, v in out.items()}
    cols = [out[key]] if unique_key else list(out.values())
    same = np.ones(len(out[key]) - 1, dtype=bool) if len(out[key]) else np.zeros(0, dtype=bool)
    for c in cols:
        same &= c[1:] == c[:-1]
    keep = np.r_[True, ~same] if len(out[key]) else np.zeros(0, dtype=bool)
    return {k: v[keep] for k, v in out.items()}


def read_all(path: Path) -> dict[str, SymbolData]:
    """Every recognised file under `path`, per symbol."""
    out: dict[str, SymbolData] = {}
    for file in data_files(path):
        try:
            df = pd.read_csv(file)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"{file}: cannot read ({exc})") from None
        if _recorder_only(df):
            continue                    # the recorder's trade aggregates, depth and gaps: nothing to replay
        kind = None
        for symbol, g in _by_symbol(df, file).items():
            sd = out.setdefault(symbol, SymbolData())
            kind = _read_into(sd, g, file)
            sd.sources.append(f"{file.name} ({kind})")
        if kind is None:
            raise ValueError(f"{file}: empty")
    return out


def _recorder_only(df: pd.DataFrame) -> bool:
    """Files of `mraster record` the replay has no use for (aggTrade_1s, depth5, gaps), so a replay can be
    pointed at the recorder's directory as it is."""
    cols = set(df.columns)
    return "n_trades_1s" in cols or "obi5" in cols or {"kind", "start_ms", "end_ms"} <= cols


def _read_into(sd: SymbolData, df: pd.DataFrame, file: Path) -> str:
    if "k1_start_ms" in df.columns:                              # recorder kline snapshots
        last = df.sort_values("ts_unix_ms").groupby("k1_start_ms").tail(1).sort_values("k1_start_ms")
        bars = {"open_time": last["k1_start_ms"].to_numpy(np.int64)}
        for dst, src in (("open", "k1_open"), ("high", "k1_high"), ("low", "k1_low"), ("close", "k1_close"),
                         ("volume", "k1_base_vol"), ("quote_volume", "k1_quote_vol"), ("trades", "k1_trades")):
            bars[dst] = last[src].to_numpy(float) if src in last.columns else np.zeros(len(last))
        sd.bars = _merge(sd.bars, _complete_bars(bars), "open_time")
        return "recorder klines"
    if "funding_rate" in df.columns and "funding_time_ms" in df.columns:
        part = {"time": df["funding_time_ms"].to_numpy(np.int64), "rate": df["funding_rate"].to_numpy(float)}
        sd.funding = _merge(sd.funding, part, "time")
        return "funding rates"
    if "mark_px" in df.columns:
        t = df[_col(df, "ts_unix_ms", "time")].to_numpy(np.int64)
        part = {"time": t, "mark": df["mark_px"].to_numpy(float),
                "index": df[_col(df, "index_px", "mark_px")].to_numpy(float)}
        sd.marks = _merge(sd.marks, part, "time")
        if "funding_rate" in df.columns and "next_funding_time_ms" in df.columns:
            f = df.groupby("next_funding_time_ms").tail(1)
            sd.funding = _merge(sd.funding, {"time": f["next_funding_time_ms"].to_numpy(np.int64),
                                             "rate": f["funding_rate"].to_numpy(float)}, "time")
        return "recorder mark prices"
    bid, ask = _col(df, "bid_px", "bid_price", "bid_close"), _col(df, "ask_px", "ask_price", "ask_close")
    if bid and ask:
        tcol = _col(df, "ts_unix_ms", "txn_time_ms", "event_time_ms", "open_time_ms", "time")
        bar_quotes = bid == "bid_close"
        t = df[tcol].to_numpy(np.int64) + (59_999 if bar_quotes else 0)
        part = {"time": t, "bid": df[bid].to_numpy(float), "ask": df[ask].to_numpy(float),
                "bid_qty": df[_col(df, "bid_qty", "last_bid_size")].to_numpy(float) if _col(df, "bid_qty", "last_bid_size") else np.ones(len(df)),
                "ask_qty": df[_col(df, "ask_qty", "last_ask_size")].to_numpy(float) if _col(df, "ask_qty", "last_ask_size") else np.ones(len(df))}
        sd.quotes = _merge(sd.quotes, part, "time", unique_key=False)
        return "book tickers"
    tcol = _col(df, "open_time_ms", "open_time", "timestamp", "time")
    if tcol and all(c in df.columns for c in ("open", "high", "low", "close")):
        t = df[tcol].to_numpy()
        if t.dtype.kind not in "iu":
            t = pd.to_datetime(df[tcol], utc=True).astype("int64").to_numpy() // 1_000_000
        elif len(t) and t.max() > 10 ** 14:                      # microseconds
            t = t // 1000
        bars = {"open_time": t.astype(np.int64)}
        for k in ("open", "high", "low", "close"):
            bars[k] = df[k].to_numpy(float)
        for dst, names in (("volume", ("volume",)), ("quote_volume", ("quote_volume",)), ("trades", ("trades",)),
                           ("taker_buy", ("taker_buy_volume", "taker_buy")),
                           ("taker_buy_quote", ("taker_buy_quote_volume", "taker_buy_quote"))):
            c = _col(df, *names)
            bars[dst] = df[c].to_numpy(float) if c else np.full(len(df), np.nan)
        sd.bars = _merge(sd.bars, _complete_bars(bars), "open_time")
        return "klines"
    raise ValueError(f"{file.name}: columns {list(df.columns)[:8]} are not a format the replay knows "
                     "(see paper/feeds/replay_files.py)")


def _complete_bars(b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Fill what a source did not record: quote volume from volume x typical price, taker half."""
    n = len(b["open_time"])
    typical = (b["open"] + b["high"] + b["low"] + b["close"]) / 4.0
    for k in ("volume", "quote_volume", "trades", "taker_buy", "taker_buy_quote"):
        b.setdefault(k, np.full(n, np.nan))
    b["volume"] = np.nan_to_num(b["volume"], nan=0.0)
    qv = b["quote_volume"]
    b["quote_volume"] = np.where(np.isnan(qv), b["volume"] * typical, qv)
    b["trades"] = np.nan_to_num(b["trades"], nan=0.0)
    tb = b["taker_buy"]
    b["taker_buy"] = np.where(np.isnan(tb), b["volume"] / 2.0, tb)
    tbq = b["taker_buy_quote"]
    b["taker_buy_quote"] = np.where(np.isnan(tbq), b["taker_buy"] * typical, tbq)
    return b


def bars_from_quotes(q: dict[str, np.ndarray], base_ms: int = 60_000) -> dict[str, np.ndarray]:
    """Mid-price bars from a book-ticker series (for history when only quotes were recorded)."""
    mid = (q["bid"] + q["ask"]) / 2.0
    keys = q["time"] // base_ms
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    ends = np.r_[starts[1:], len(keys)]
    bars = {"open_time": keys[starts] * base_ms, "open": mid[starts], "close": mid[ends - 1],
            "high": np.maximum.reduceat(mid, starts), "low": np.minimum.reduceat(mid, starts),
            "volume": np.zeros(len(starts)), "quote_volume": np.zeros(len(starts)), "trades": np.zeros(len(starts)),
            "taker_buy": np.zeros(len(starts)), "taker_buy_quote": np.zeros(len(starts))}
    return bars
