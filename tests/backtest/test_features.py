"""Feature building against plain pandas computations: recorder CSVs (seed 002 columns), the same rows
from a DuckDB store and from Parquet, and the kline fallbacks (bid/ask bars, spread model)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.features import FeatureError, build_features, load_klines, load_log_dir, load_store

T0 = 1769904000000          # 2026-02-01 00:00 UTC
SYMS = ["AAAUSDT", "BBBUSDT"]


def recorder_rows(seed=3, minutes=40):
    rng = np.random.default_rng(seed)
    k, b, m = [], [], []
    for si, sym in enumerate(SYMS):
        px = 10.0 * (si + 1)
        for minute in range(minutes):
            start = T0 + minute * 60_000
            o = px
            hi = lo = o
            vol = 0.0
            for sec in sorted(rng.choice(60, size=rng.integers(3, 20), replace=False)):
                px *= np.exp(rng.normal(0, 4e-4))
                hi, lo = max(hi, px), min(lo, px)
                vol += rng.uniform(1, 5)
                ts = start + int(sec) * 1000 + int(rng.integers(0, 999))
                k.append(dict(ts_unix_ms=ts, symbol=sym, k1_start_ms=start, k1_close_ms=start + 59_999, k1_open=o,
                              k1_high=hi, k1_low=lo, k1_close=px, k1_base_vol=vol, k1_quote_vol=vol * px,
                              k1_trades=3, k1_closed=False))
                if rng.random() < 0.7:
                    half = px * rng.uniform(0.5e-4, 3e-4)
                    b.append(dict(ts_unix_ms=ts + 3, symbol=sym, bid_px=px - half, bid_qty=1.0, ask_px=px + half,
                                  ask_qty=1.0, spread=2 * half, mid=px, imbalance=0.0, weighted_mid=px))
            if minute % 7 == 0:
                m.append(dict(ts_unix_ms=start + 500, symbol=sym, mark_px=px, index_px=px,
                              funding_rate=rng.normal(0, 2e-4), next_funding_time_ms=T0 + 8 * 3_600_000,
                              mark_index_bps=0.0))
    return pd.DataFrame(k), pd.DataFrame(b), pd.DataFrame(m)


def write_logs(d: Path, k, b, m):
    d.mkdir(parents=True, exist_ok=True)
    for fam, df in (("kline", k), ("bookTicker", b), ("markPrice", m)):
        df.to_csv(d / f"{fam}_20260201.csv", index=False)


def plain_pandas(k, b, m, sym, windows):
    """The same quantities written the obvious way."""
    kk = k[k.symbol == sym].sort_values("ts_unix_ms").groupby("k1_start_ms").last()
    idx = pd.to_datetime(kk.index, unit="ms")
    bb = b[b.symbol == sym].copy()
    bb.index = pd.to_datetime(bb.ts_unix_ms, unit="ms")
    per_sec = bb[["bid_px", "ask_px"]].resample("1s").last()
    full = pd.date_range(min(per_sec.index[0], idx[0]), idx[-1] + pd.Timedelta(seconds=59), freq="1s")
    filled = per_sec.reindex(per_sec.index.union(full)).ffill().reindex(full)
    tw = filled.resample("1min").mean().reindex(idx)
    last = filled.resample("1min").last().reindex(idx)
    mm = m[m.symbol == sym].copy()
    mm.index = pd.to_datetime(mm.ts_unix_ms, unit="ms").dt.floor("1min")
    fund = mm.funding_rate.groupby(level=0).last().reindex(idx.union(mm.index.unique())).ffill().reindex(idx)
    o, h, lo, c, v = kk.k1_open, kk.k1_high, kk.k1_low, kk.k1_close, kk.k1_base_vol
    out = pd.DataFrame({"open": o.values, "close": c.values, "vol1m": v.values,
                        "ret_bps": ((c / o - 1) * 1e4).values,
                        "tw_bid_px": tw.bid_px.values, "tw_ask_px": tw.ask_px.values,
                        "spread_bps": ((last.ask_px - last.bid_px) / ((last.ask_px + last.bid_px) / 2) * 1e4).values,
                        "open_loss_long_bps": ((last.ask_px - (last.ask_px + last.bid_px) / 2)
                                               / ((last.ask_px + last.bid_px) / 2) * 1e4).values,
                        "funding_bps": (fund * 1e4).values})
    rsv = np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)
    out["rs_var_1m"] = rsv.values
    for w in windows:
        out[f"rs_vol_{w}m_bps"] = (np.sqrt(rsv.rolling(w).mean()) * 1e4).values
        out[f"avg_vol_{w}m"] = v.rolling(w).mean().values
    return out


def check_against_pandas(feat, k, b, m):
    for sym in SYMS:
        got = feat[feat.symbol == sym].reset_index(drop=True)
        want = plain_pandas(k, b, m, sym, [5, 10])
        assert len(got) == len(want) == 40
        for col in want.columns:
            np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float), rtol=1e-9,
                                       equal_nan=True, err_msg=col)
        assert got["tw_mid"].notna().all()


def test_recorder_csvs_against_pandas(tmp_path):
    k, b, m = recorder_rows()
    write_logs(tmp_path / "logs", k, b, m)
    feat = build_features(load_log_dir(tmp_path / "logs"), [5, 10])
    check_against_pandas(feat, k, b, m)
    one = build_features(load_log_dir(tmp_path / "logs", ["BBBUSDT"], "2026-02-01", "2026-02-01"), [5])
    assert set(one.symbol) == {"BBBUSDT"}
    with pytest.raises(FeatureError, match="no kline_YYYYMMDD.csv"):
        load_log_dir(tmp_path / "logs", start="2026-03-01")


def test_store_duckdb_and_parquet_give_the_same_features(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    k, b, m = recorder_rows()
    db = tmp_path / "market.duckdb"
    con = duckdb.connect(str(db))
    for name, df in (("kline", k), ("book_ticker", b), ("mark_price", m)):
        con.register("df", df)
        con.execute(f"create table {name} as select * from df")
        con.unregister("df")
    con.close()
    check_against_pandas(build_features(load_store(db), [5, 10]), k, b, m)
    # the recorder store's layout: <store>/parquet/<table>/date=YYYY-MM-DD/symbol=<SYMBOL>/data.parquet
    store = tmp_path / "store"
    for name, df in (("kline", k), ("book_ticker", b), ("mark_price", m)):
        for sym, part in df.groupby("symbol"):
            d = store / "parquet" / name / "date=2026-02-01" / f"symbol={sym}"
            d.mkdir(parents=True)
            part.to_parquet(d / "data.parquet")
    check_against_pandas(build_features(load_store(store), [5, 10]), k, b, m)
    one = build_features(load_store(store, ["AAAUSDT"], "2026-02-01", "2026-02-01"), [5])
    assert set(one.symbol) == {"AAAUSDT"} and len(one) == 40
    with pytest.raises(FeatureError, match="no kline rows"):
        load_store(store, ["AAAUSDT"], "2026-03-01", "2026-03-02")


def test_kline_fallback_with_bid_ask_bars():
    feat = build_features(load_klines("lean-adausdt-2022-12-13"), [10])
    q = pd.read_csv(next(Path(__file__).resolve().parents[2].glob(
        "mraster/data/replay/lean-adausdt-2022-12-13/*bidask*.csv")))
    row = q.iloc[500]
    got = feat[feat.open_time_ms == row.open_time_ms].iloc[0]
    assert got.tw_bid_px == pytest.approx((row.bid_open + row.bid_high + row.bid_low + row.bid_close) / 4)
    assert got.bid_px == row.bid_close and got.ask_px == row.ask_close
    assert (feat.quote_source == "bidask_bars").all()
    # a minute without a quote bar keeps the previous close for both the last and the time-weighted quote
    missing = sorted(set(feat.open_time_ms) - set(q.open_time_ms))
    t = missing[len(missing) // 2]
    prev = q[q.open_time_ms < t].iloc[-1]
    got = feat[feat.open_time_ms == t].iloc[0]
    assert got.tw_bid_px == prev.bid_close and got.bid_px == prev.bid_close


def test_kline_fallback_spread_model_and_funding(real_inputs):
    d = real_inputs[real_inputs.symbol == "LINKUSDT"].reset_index(drop=True)
    assert len(d) == 2880 and (d.quote_source == "model_1bps").all()
    np.testing.assert_allclose(d.spread_bps, 1.0, rtol=1e-9)
    np.testing.assert_allclose(d.tw_mid, (d.open + d.high + d.low + d.close) / 4, rtol=1e-12)
    # funding: the last settlement at or before each bar's close (settlements at 00:00, 08:00, 16:00 + jitter)
    f = pd.read_csv(next(Path(__file__).resolve().parents[1].glob("data/backtest/*funding*.csv")))
    f = f[f.symbol == "LINKUSDT"].sort_values("funding_time_ms").reset_index(drop=True)
    assert d.funding_bps.iloc[0] == pytest.approx(f.funding_rate[0] * 1e4)
    second = f.funding_time_ms[1]
    before = d[d.open_time_ms + 60_000 < second]
    after = d[(d.open_time_ms + 60_000 >= second) & (d.open_time_ms + 60_000 < f.funding_time_ms[2])]
    assert len(before) == 480 and len(after) == 479      # 08:00:00.000 close precedes the 08:00:00.004 settlement
    assert (before.funding_bps == f.funding_rate[0] * 1e4).all()
    assert (after.funding_bps == f.funding_rate[1] * 1e4).all()


def test_log_dir_reader_header_only_torn_only_and_missing_columns(tmp_path):
    """The kernel reader under the backtester: a header-only family file and one whose only data line is
    torn give no rows (no quotes), a file without a needed column is a clear error."""
    k, b, m = recorder_rows(minutes=10)
    d = tmp_path / "logs"
    write_logs(d, k, b.iloc[:0], m)
    with open(d / "bookTicker_20260201.csv", "a") as f:
        f.write(f"{T0 + 5},AAAUSDT,10.0,1.0,10.")              # torn: no newline
    data = load_log_dir(d)
    assert sorted(data) == SYMS and all(s.quote_source == "none" for s in data.values())
    k.drop(columns=["k1_base_vol"]).to_csv(d / "kline_20260201.csv", index=False)
    with pytest.raises(FeatureError, match=r"k1_base_vol"):
        load_log_dir(d)
