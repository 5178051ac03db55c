"""Market feeds without a server: the synthetic market's determinism and consistency, every replay format,
and the synthetic market's calibration against real data (tests/data/paper, copied from ../shared/data)."""
from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paper.config import PaperConfig
from paper.feeds.base import BarPath, Quote
from paper.feeds.calibration import REAL_FACTS, stylized_facts
from paper.feeds.replay import ReplayFeed
from paper.feeds.synthetic import SyntheticFeed, SyntheticMarket
from paper.feeds.synthetic_model import funding_rate
from paper.market_data import MarketData
from paper.venue import Venue

DATA = Path(__file__).resolve().parents[1] / "data" / "paper"
LINK = DATA / "binance-um_LINKUSDT-perp_1m_2026-02-01_7d.csv.gz"
DAY = 86_400_000
T_2026_11_01 = 1_793_491_200_000


class FakeWall:
    """Injected wall clock (seconds), so venue time is set by the test."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


# ------------------------------------------------------------------ synthetic
def test_same_seed_same_market_other_seed_other_market():
    a = SyntheticMarket(("BTCUSDT", "FOOUSDT"), seed=11).history_arrays("BTCUSDT", T_2026_11_01, T_2026_11_01 + DAY)
    b = SyntheticMarket(("BTCUSDT",), seed=11).history_arrays("BTCUSDT", T_2026_11_01, T_2026_11_01 + DAY)
    c = SyntheticMarket(("BTCUSDT",), seed=12).history_arrays("BTCUSDT", T_2026_11_01, T_2026_11_01 + DAY)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["close"], c["close"])
    assert len(a["open_time"]) == 1440 and np.array_equal(a["open"][1:], a["close"][:-1])   # continuous
    assert (a["high"] >= np.maximum(a["open"], a["close"])).all() and (a["low"] <= np.minimum(a["open"], a["close"])).all()


def test_live_ticks_add_up_to_the_minute_bar_clients_later_download():
    feed = SyntheticFeed(("ETHUSDT",), seed=3)
    m = feed.market
    minute = T_2026_11_01 // 60_000 + 123
    o, h, l, c, _, _ = m.minute("ETHUSDT", minute)
    feed.advance(minute * 60_000 - 1000)
    quotes = [q for q in feed.advance(minute * 60_000 + 59_999) if q.time < (minute + 1) * 60_000]
    prices = [q.last_t for q in quotes]
    assert len(quotes) == 60 and prices[0] == o and prices[-1] == c and max(prices) == h and min(prices) == l
    assert all(q.bid_t < q.ask_t and q.bid_t <= q.last_t <= q.ask_t for q in quotes)


def test_fast_steps_still_touch_every_high_and_low():
    feed = SyntheticFeed(("ETHUSDT",), seed=3)
    start = T_2026_11_01
    feed.advance(start)
    quotes = feed.advance(start + 3_600_000)                  # an hour in one step: compact paths
    bars = feed.bars("ETHUSDT", start + 60_000, start + 3_600_000)
    by_minute: dict[int, list[int]] = {}
    for q in quotes:
        by_minute.setdefault(q.time // 60_000 * 60_000, []).append(q.last_t)
    for t, hi, lo in zip(bars["open_time"], bars["high"], bars["low"]):
        assert max(by_minute[int(t)]) == hi and min(by_minute[int(t)]) == lo


def test_funding_model_matches_the_recorded_mix():
    rates = np.array([funding_rate(1, 77, k, 0.0) for k in range(4000)])
    at_base = np.mean(rates == 0.0001)
    assert 0.37 < at_base < 0.45                               # 41 % in the real 2026 data
    assert np.mean(rates < 0.0001) > np.mean(rates > 0.0001)
    rally = np.array([funding_rate(1, 77, k, 0.05) for k in range(4000)])
    assert np.mean(rally > 0.0001) > np.mean(rates > 0.0001)   # longs pay more in rallies


def test_synthetic_market_matches_the_stylized_facts_of_real_data():
    real = pd.read_csv(LINK)
    facts_real = stylized_facts(real.open.values, real.high.values, real.low.values, real.close.values,
                                real.volume.values)
    m = SyntheticMarket(("LINKUSDT", "LTCUSDT", "DOTUSDT"), seed=5)
    synth = []
    for s in m.symbols:
        b = m.history_arrays(s, T_2026_11_01, T_2026_11_01 + 7 * DAY)
        synth.append(stylized_facts(b["open"], b["high"], b["low"], b["close"], b["volume"]))
    med = {k: float(np.median([f[k] for f in synth])) for k in synth[0]}
    # each fact within a band around both the real week and the month-long calibration target
    bands = {"excess_kurtosis": (5, 80), "abs_acf_1": (0.15, 0.45), "abs_acf_60": (0.08, 0.35),
             "range_over_sd": (0.9, 1.5), "wickiness": (0.4, 0.6), "vol_abs_ret_corr": (0.3, 0.7),
             "volume_cv": (0.8, 3.0), "volume_acf_1": (0.35, 0.85)}
    for k, (lo, hi) in bands.items():
        assert lo <= facts_real[k] <= hi, ("real", k, facts_real[k])
        assert lo <= med[k] <= hi, ("synthetic", k, med[k])
        assert lo <= REAL_FACTS[k] <= hi
    assert 0.6 < med["sd_1m"] / facts_real["sd_1m"] < 1.6


# ------------------------------------------------------------------ venue-level klines (no HTTP)
@pytest.fixture
def venue(tmp_path):
    wall = FakeWall(T_2026_11_01 / 1000 + 3600.5)
    feed = SyntheticFeed(("BTCUSDT", "ETHUSDT"), seed=2)
    v = Venue(PaperConfig(db_path=tmp_path / "p.sqlite", symbols=("BTCUSDT", "ETHUSDT")), feed, wall=wall)
    v._apply_quotes(feed.advance(v.now()))
    yield v, MarketData(v), wall
    v.store.close()


@pytest.mark.parametrize("interval,minutes", [("3m", 3), ("5m", 5), ("1h", 60), ("4h", 240), ("1d", 1440)])
def test_every_interval_equals_its_minutes(venue, interval, minutes):
    v, d, wall = venue
    big = d.kline_bars("BTCUSDT", interval, None, None, 4)
    assert len(big["open_time"]) == 4
    i = 2                                                       # a closed bar
    start = int(big["open_time"][i])
    ones = d.kline_bars("BTCUSDT", "1m", start, start + minutes * 60_000 - 1, minutes)
    assert len(ones["open_time"]) == minutes
    assert big["open"][i] == ones["open"][0] and big["close"][i] == ones["close"][-1]
    assert big["high"][i] == ones["high"].max() and big["low"][i] == ones["low"].min()
    assert abs(big["volume"][i] - ones["volume"].sum()) < 1e-6


def test_held_prices_show_in_the_klines(venue):
    v, d, wall = venue
    m = v.engine.markets["ETHUSDT"]
    v.hold("ETHUSDT", m.last_t * 2, m.last_t * 2)
    bars = d.kline_bars("ETHUSDT", "1m", None, None, 1)
    assert bars["high"][0] == m.last_t and bars["close"][0] == m.last_t
    wall.t += 61
    v.step()
    closed = d.kline_bars("ETHUSDT", "1m", None, None, 3)
    assert closed["high"][-2] == m.last_t                       # the held minute, now closed, keeps the spike


# ------------------------------------------------------------------ replay formats
def test_plain_kline_replay(tmp_path):
    feed = ReplayFeed(LINK, ())
    raw = pd.read_csv(LINK)
    assert feed.symbols == ("LINKUSDT",) and feed.base_ms == 60_000
    assert feed.start_time(0) == int(raw.open_time_ms.iloc[0]) + int(3.5 * DAY)       # half of 7 days, floored
    b = feed.bars("LINKUSDT", int(raw.open_time_ms.iloc[100]), int(raw.open_time_ms.iloc[105]))
    assert [round(x * 0.001, 3) for x in b["close"]] == list(raw.close.iloc[100:105].round(3))
    ups = feed.advance(feed.start_time(0) + 120_000 + 30_000)
    paths = [u for u in ups if isinstance(u, BarPath)]
    i = int(np.searchsorted(raw.open_time_ms.values, feed.start_time(0)))
    first = raw.iloc[i]
    assert paths[0].points[0] == round(first.open / 0.001) and paths[0].points[-1] == round(first.close / 0.001)
    assert {max(paths[0].points), min(paths[0].points)} == {round(first.high / 0.001), round(first.low / 0.001)}
    assert isinstance(ups[-1], Quote)                            # the bar in progress, point by point
    assert feed.settlement_rate("LINKUSDT", 0) == 0.0001         # no funding file given: the floor rate


def test_recorder_formats_replay(tmp_path):
    raw = pd.read_csv(LINK).iloc[:600]
    rows = []
    for _, r in raw.iterrows():                                 # the recorder snapshots each bar twice
        for closed, frac in ((False, 0.5), (True, 1.0)):
            rows.append({"ts_unix_ms": int(r.open_time_ms + 59_999 * frac), "ts_dt_utc": "", "symbol": "LINKUSDT",
                         "k1_start_ms": int(r.open_time_ms), "k1_close_ms": int(r.open_time_ms + 59_999),
                         "k1_open": r.open, "k1_high": r.high if closed else r.open, "k1_low": r.low if closed else r.open,
                         "k1_close": r.close if closed else r.open, "k1_base_vol": r.volume,
                         "k1_quote_vol": r.quote_volume, "k1_trades": r.trades, "k1_closed": closed})
    pd.DataFrame(rows).to_csv(tmp_path / "kline_20260201.csv", index=False)
    marks = [{"ts_unix_ms": int(t), "ts_dt_utc": "", "symbol": "LINKUSDT", "mark_px": float(c) + 0.005,
              "index_px": float(c), "funding_rate": -0.0002, "next_funding_time_ms": 1769932800000,
              "mark_index_bps": 0.5} for t, c in zip(raw.open_time_ms + 30_000, raw.close)]
    pd.DataFrame(marks).to_csv(tmp_path / "markPrice_20260201.csv", index=False)
    feed = ReplayFeed(tmp_path, ())
    b = feed.bars("LINKUSDT", 0, 2 ** 62)
    assert len(b["open_time"]) == 600 and b["high"][10] == round(raw.high.iloc[10] / 0.001)
    assert feed.settlement_rate("LINKUSDT", 1769932800000 // (8 * 3600_000)) == -0.0002
    ups = feed.advance(feed.start_time(0) + 90_000)
    q = [u for u in ups if isinstance(u, Quote)][0]
    assert q.mark_t != q.last_t                                  # the recorded mark, not the last price


def test_book_ticker_replays_quote_by_quote():
    feed = ReplayFeed(DATA / "hftbacktest_binance-um_BTCUSDT-perp_bookticker_2024-08-08_head3000.csv", ())
    raw = pd.read_csv(DATA / "hftbacktest_binance-um_BTCUSDT-perp_bookticker_2024-08-08_head3000.csv")
    start = feed.start_time(0)
    assert raw.txn_time_ms.iloc[0] < start < raw.txn_time_ms.iloc[-1]
    ups = feed.advance(start + 2000)
    expected = raw[(raw.txn_time_ms >= start) & (raw.txn_time_ms <= start + 2000)]
    assert len(ups) == len(expected) > 100                       # every update, even within one millisecond
    q = ups[0]
    assert q.bid_t == round(expected.bid_price.iloc[0] / 0.01) and q.ask_t == round(expected.ask_price.iloc[0] / 0.01)
    lean = ReplayFeed(DATA, ("ADAUSDT",))                        # Lean 1m trade bars + bid/ask bars together
    assert lean.symbols == ("ADAUSDT",) and lean.data["ADAUSDT"].quotes is not None
    assert all(isinstance(u, Quote) and u.bid_t < u.ask_t for u in lean.advance(lean.start_time(0) + 600_000))


def test_replay_rejects_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no symbol in the file name"):
        ReplayFeed(tmp_path, ())
    (tmp_path / "notes.csv").rename(tmp_path / "LINKUSDT-notes.csv")
    with pytest.raises(ValueError, match="not a format the replay knows"):
        ReplayFeed(tmp_path, ())
    (tmp_path / "LINKUSDT-notes.csv").unlink()
    with pytest.raises(ValueError, match="does not exist"):
        ReplayFeed(tmp_path / "missing", ())
    with gzip.open(tmp_path / "x.csv.gz", "wb") as fh:
        fh.write(b"garbage\x00\x01")
    with pytest.raises(ValueError):
        ReplayFeed(tmp_path, ())


def test_replay_clock_runs_with_the_feed(tmp_path):
    wall = FakeWall(time.time())
    feed = ReplayFeed(LINK, ())
    v = Venue(PaperConfig(db_path=tmp_path / "p.sqlite", speed=60.0), feed, wall=wall)
    assert v.now() == feed.start_time(0)
    wall.t += 10                                                  # 10 wall seconds at speed 60
    assert v.now() == feed.start_time(0) + 600_000
    v.step()
    d = MarketData(v)
    last = d.kline_bars("LINKUSDT", "1m", None, None, 2)
    raw = pd.read_csv(LINK).set_index("open_time_ms")
    closed_open = int(last["open_time"][0])
    assert last["close"][0] == round(raw.loc[closed_open, "close"] / 0.001)
    v.store.close()
