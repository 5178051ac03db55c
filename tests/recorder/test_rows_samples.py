"""Real recorded Binance USD-M streams (tests/data/recorder, see its README) go through the same stream
parser (mraster.exchange.wire_stream.market_events) and cache as live messages; the recorder's rows are checked
against an independent pandas computation of the same seconds."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from mraster.domain.types import BookTickerEvent, DepthEvent
from mraster.exchange.market_cache import MarketCache
from mraster.exchange.wire_stream import market_events
from mraster.marketdata.schema import BY_NAME, TABLES
from recorder.rows import book_values, depth_values, snapshot_lines, time_columns

DATA = Path(__file__).resolve().parent.parent / "data" / "recorder"


class NoNetwork:
    """The cache is fed by hand here; its client is never asked for anything but the clock."""

    def now_ms(self) -> int:
        return 0


def cache_for(symbols, clock=lambda: 0.0) -> MarketCache:
    return MarketCache(NoNetwork(), symbols, clock=clock)


def combined_messages():
    with open(DATA / "binance-um_ws_combined-stream_2021-07-22_head600.jsonl") as f:
        return [json.loads(line)["msg"] for line in f]


def test_combined_stream_sample_parses_and_fills_the_cache():
    msgs = combined_messages()
    symbols = sorted({m["data"]["s"] for m in msgs})
    cache = cache_for(symbols)
    kinds = {}
    for m in msgs:
        for ev in market_events(m["data"]):
            kinds[type(ev).__name__] = kinds.get(type(ev).__name__, 0) + 1
            cache.apply(ev, 0.0)
    assert kinds["BookTickerEvent"] > 100 and kinds["DepthEvent"] > 100 and kinds["AggTradeEvent"] > 0
    assert kinds["KlineEvent"] > 0
    for sym in symbols:
        books = [m["data"] for m in msgs if m["stream"] == f"{sym.lower()}@bookTicker"]
        snap = cache.snapshot(sym)
        if books:
            last = books[-1]
            assert snap.latest_bbo.bid_price == float(last["b"]) and snap.latest_bbo.ask_qty == float(last["A"])
            bid, bq, ask, aq = float(last["b"]), float(last["B"]), float(last["a"]), float(last["A"])
            values = book_values(snap)
            assert values[4] == pytest.approx(ask - bid)
            assert values[5] == pytest.approx((bid + ask) / 2)
            assert values[6] == pytest.approx((bq - aq) / (bq + aq))
            assert values[7] == pytest.approx((bid * aq + ask * bq) / (bq + aq))
        klines = [m["data"]["k"] for m in msgs if m["stream"] == f"{sym.lower()}@kline_1m"]
        if klines:
            assert snap.latest_kline_1m.close == float(klines[-1]["c"])
            assert snap.latest_kline_1m.open_time == max(k["t"] for k in klines)
    # the per-second trade buckets equal a direct aggregation of the aggTrade messages
    trades = pd.DataFrame([m["data"] for m in msgs if m["stream"].endswith("@aggTrade")])
    trades["p"], trades["q"] = trades["p"].astype(float), trades["q"].astype(float)
    trades["sec"] = trades["T"] // 1000 * 1000
    for (sym, sec), g in trades.groupby(["s", "sec"]):
        got = cache.trade_second(sym, int(sec))
        assert got.n == len(g)
        assert got.qty == pytest.approx(g["q"].sum())
        assert got.vwap == pytest.approx((g["p"] * g["q"]).sum() / g["q"].sum())
        assert got.buy_qty == pytest.approx(g.loc[~g["m"], "q"].sum())
        assert got.sell_qty == pytest.approx(g.loc[g["m"], "q"].sum())


def test_hftbacktest_samples_parse_through_the_stream_parser():
    data = json.loads((DATA / "binance-um_ws_trade-depth-bookTicker_BTCUSDT_2024-08-08_samples.json").read_text())
    depth = [ev for m in data["depthUpdate"] for ev in market_events(m["msg"]["data"])]
    books = [ev for m in data["bookTicker"] for ev in market_events(m["msg"]["data"])]
    assert len(depth) == len(data["depthUpdate"]) and all(isinstance(e, DepthEvent) for e in depth)
    assert len(books) == len(data["bookTicker"]) and all(isinstance(e, BookTickerEvent) for e in books)
    cache = cache_for(["BTCUSDT"])
    cache.apply(depth[0], 0.0)
    values = depth_values(cache.snapshot("BTCUSDT"))
    bids, asks = depth[0].bids[:5], depth[0].asks[:5]
    bq, aq = sum(q for _, q in bids), sum(q for _, q in asks)
    assert values[-1] == pytest.approx((bq - aq) / (bq + aq))
    assert values[0] == bids[0][0] and len(values) == 21


def _tick_messages():
    """The 15-second tick sample as the venue's stream payloads: bookTicker as is, each trade as an aggTrade."""
    out = []
    with open(DATA / "hftbacktest_binance-um_BTCUSDT-perp_bookticker_2024-08-08_15s.csv") as f:
        for r in csv.DictReader(f):
            out.append((int(r["event_time_ms"]), {"e": "bookTicker", "u": int(r["update_id"]), "E": int(r["event_time_ms"]),
                        "T": int(r["txn_time_ms"]), "s": "BTCUSDT", "b": r["bid_price"], "B": r["bid_qty"],
                        "a": r["ask_price"], "A": r["ask_qty"]}))
    with open(DATA / "hftbacktest_binance-um_BTCUSDT-perp_trades_2024-08-08_15s.csv") as f:
        for r in csv.DictReader(f):
            t = int(r["trade_time_ms"])
            out.append((t, {"e": "aggTrade", "E": t, "s": "BTCUSDT", "a": int(r["trade_id"]), "p": r["price"],
                            "q": r["qty"], "f": int(r["trade_id"]), "l": int(r["trade_id"]), "T": t,
                            "m": r["is_buyer_maker"] == "True"}))
    out.sort(key=lambda x: x[0])
    return out


def test_tick_sample_recorded_second_by_second_matches_pandas():
    msgs = _tick_messages()
    cache = cache_for(["BTCUSDT"])
    first = msgs[0][0] // 1000 * 1000 + 1000
    rows = {t.name: [] for t in TABLES}
    next_second = first
    for t, payload in msgs:
        while t >= next_second:                      # a snapshot at every second boundary, as the recorder does
            for table, line in snapshot_lines(next_second, cache.snapshot("BTCUSDT"),
                                              cache.trade_second("BTCUSDT", next_second - 1000)).items():
                rows[table].append(line)
            next_second += 1000
        for ev in market_events(payload):
            cache.apply(ev, t / 1000)
    assert len(rows["agg_trade_1s"]) == len(rows["book_ticker"]) == (next_second - first) // 1000 >= 13
    names = BY_NAME["agg_trade_1s"].names
    got = pd.DataFrame([dict(zip(names, line.rstrip("\n").split(","))) for line in rows["agg_trade_1s"]])
    trades = pd.read_csv(DATA / "hftbacktest_binance-um_BTCUSDT-perp_trades_2024-08-08_15s.csv")
    trades["ts"] = trades["trade_time_ms"] // 1000 * 1000 + 1000       # the row of second S covers [S-1, S)
    for _, r in got.iterrows():
        g = trades[trades["ts"] == int(r["ts_unix_ms"])]
        assert int(r["n_trades_1s"]) == len(g)
        assert float(r["sum_qty_1s"]) == pytest.approx(g["qty"].sum(), abs=1e-9)
        assert float(r["buy_qty_1s"]) == pytest.approx(g.loc[~g["is_buyer_maker"], "qty"].sum(), abs=1e-9)
        if len(g):
            assert float(r["vwap_1s"]) == pytest.approx((g["price"] * g["qty"]).sum() / g["qty"].sum())
        else:
            assert r["vwap_1s"] == ""
    # the book row of second S is the last quote with an event time before S
    names = BY_NAME["book_ticker"].names
    got = pd.DataFrame([dict(zip(names, line.rstrip("\n").split(","))) for line in rows["book_ticker"]])
    quotes = pd.read_csv(DATA / "hftbacktest_binance-um_BTCUSDT-perp_bookticker_2024-08-08_15s.csv")
    for _, r in got.iterrows():
        before = quotes[quotes["event_time_ms"] < int(r["ts_unix_ms"])].iloc[-1]
        assert float(r["bid_px"]) == before["bid_price"] and float(r["ask_qty"]) == before["ask_qty"]
        assert r["ts_dt_utc"] == time_columns(int(r["ts_unix_ms"]))[0]
        assert r["date"] == "2024-08-08" or r["date"] == "2024-08-09"


def test_time_columns_are_utc():
    assert time_columns(1_700_000_000_123) == ("2023-11-14 22:13:20.123", "2023-11-14", 22, 13, 20)


def test_venue_clock_follows_event_times_and_never_runs_back():
    now = [1000.0]
    cache = cache_for(["BTCUSDT"], clock=lambda: now[0])
    msg = {"e": "markPriceUpdate", "E": 5_000_000_000_000, "s": "BTCUSDT", "p": "1", "i": "1", "r": "0", "T": 0}
    cache.apply(market_events(msg)[0])
    assert cache.venue_now_ms() == 5_000_000_000_000
    now[0] += 1.5
    assert cache.venue_now_ms() == 5_000_000_001_500
    late = dict(msg, E=5_000_000_001_000)                   # a delayed message does not pull the clock back
    cache.apply(market_events(late)[0])
    assert cache.venue_now_ms() == 5_000_000_001_500
    jump = dict(msg, E=5_000_003_601_500)                   # the venue clock jumped forward an hour
    cache.apply(market_events(jump)[0])
    assert cache.venue_now_ms() == 5_000_003_601_500
