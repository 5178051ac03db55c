"""Feeds as a client sees them: kline streams on a fast clock, the shipped replay dataset, and the live
feed against a local upstream venue (a second paper exchange: the internet is never touched)."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pandas as pd

from paper.feeds.symbols import DATA_DIR
from paper.testing import PaperExchange

from tests.paper.api_helpers import Api, WsReader, wait_for


def test_kline_stream_closes_every_bar_exactly_once(tmp_path):
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), speed=120) as px:          # a 1m bar every 0.5 s
        with WsReader(f"{px.ws_url}/ws/btcusdt@kline_1m") as ws:
            ws.until(lambda m: sum(1 for x in m if x["k"]["x"]) >= 6, timeout=20, what="six closed bars")
        closed = [x["k"] for x in ws.messages if x["k"]["x"]]
        opens = [k["t"] for k in closed]
        assert len(opens) == len(set(opens))                                       # each close sent once
        assert all(b - a == 60_000 for a, b in zip(opens, opens[1:]))             # and none skipped
        for i, msg in enumerate(ws.messages):                                       # nothing of a bar after its close
            if msg["k"]["x"]:
                assert all(later["k"]["t"] != msg["k"]["t"] for later in ws.messages[i + 1:])
        rest = httpx.get(f"{px.url}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1m",
                                                              "startTime": closed[1]["t"], "limit": 1}).json()[0]
        assert [rest[1], rest[2], rest[3], rest[4]] == [closed[1]["o"], closed[1]["h"], closed[1]["l"], closed[1]["c"]]


def test_shipped_replay_dataset_works_out_of_the_box(tmp_path):
    name = "lean-adausdt-2022-12-13"
    with PaperExchange(tmp_path, symbols=("ADAUSDT",), feed=f"replay:{name}", speed=600) as px:
        info = httpx.get(f"{px.url}/paper/info").json()
        assert info["feed"]["name"] == "replay" and info["symbols"] == ["ADAUSDT"]
        a = Api(px.url)
        t1 = a.public("/fapi/v1/time")["serverTime"]
        t2 = wait_for(lambda: (lambda t: t if t - t1 >= 120_000 else None)(a.public("/fapi/v1/time")["serverTime"]),
                      what="replay time to run at speed 600")
        assert info["feed"]["from"] <= t1 < t2 <= info["feed"]["to"] + 1
        raw = pd.read_csv(DATA_DIR / "replay" / name / "lean_binance-um_ADAUSDT-perp_1m_20221213.csv")
        rows = a.public("/fapi/v1/klines", symbol="ADAUSDT", interval="1m", limit=5)
        for r in rows[:-1]:                                                         # closed bars = the recorded ones
            rec = raw[raw.open_time_ms == r[0]].iloc[0]
            assert [Decimal(x) for x in r[1:5]] == [Decimal(str(v)) for v in (rec.open, rec.high, rec.low, rec.close)]
        a.sync_time()
        o = a.ok("POST", "/fapi/v1/order", symbol="ADAUSDT", side="BUY", type="MARKET", quantity="100",
                 newOrderRespType="RESULT")
        book = a.public("/fapi/v1/ticker/bookTicker", symbol="ADAUSDT")
        assert o["status"] == "FILLED" and abs(Decimal(o["avgPrice"]) - Decimal(book["askPrice"])) < Decimal("0.002")
        before = a.public("/fapi/v1/time")["serverTime"]
        px.restart()                                   # the replay clock goes on where it stopped
        assert a.public("/fapi/v1/time")["serverTime"] >= before


def test_live_feed_trades_on_an_upstream_venues_prices(tmp_path):
    with PaperExchange(tmp_path / "up", symbols=("BTCUSDT", "ETHUSDT"), seed=4) as upstream:
        upstream.admin("POST", "/price", symbol="ETHUSDT", price="2500.00", bid="2499.90", ask="2500.10")
        env = {"ASTER_EXCHANGE_BASE": upstream.url}
        with PaperExchange(tmp_path / "live", symbols=("ETHUSDT",), feed="live", env=env) as live:
            info = httpx.get(f"{live.url}/paper/info").json()
            assert info["feed"]["name"] == "live" and info["feed"]["source"] == upstream.url
            a = Api(live.url, key="live-trader", secret="z" * 20)
            book = wait_for(lambda: (lambda b: b if b["bidPrice"] == "2499.90" else None)(
                a.public("/fapi/v1/ticker/bookTicker", symbol="ETHUSDT")), what="upstream prices")
            assert book["askPrice"] == "2500.10"
            fill = a.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.05",
                        newOrderRespType="RESULT")
            assert fill["status"] == "FILLED" and fill["avgPrice"] == "2500.10"
            upstream.admin("POST", "/price", symbol="ETHUSDT", price="2400.00", bid="2399.90", ask="2400.10")
            wait_for(lambda: a.ok("GET", "/fapi/v3/positionRisk")[0]["markPrice"] == "2400",
                     what="the mark to follow upstream")
            assert "live-trader" not in upstream.admin("GET", "/state")["accounts"]     # fills stay local
            up_k = httpx.get(f"{upstream.url}/fapi/v1/klines", params={"symbol": "ETHUSDT", "interval": "1h",
                                                                       "limit": 5}).json()
            live_k = a.public("/fapi/v1/klines", symbol="ETHUSDT", interval="1h", limit=5)
            assert [r[:5] for r in live_k[:-1]] == [r[:5] for r in up_k[:-1]]      # history is the venue's own


def test_auto_feed_takes_live_when_the_venue_answers_else_synthetic(tmp_path):
    with PaperExchange(tmp_path / "up", symbols=("BTCUSDT",)) as upstream:
        with PaperExchange(tmp_path / "a1", symbols=("BTCUSDT",), feed="auto",
                           env={"ASTER_EXCHANGE_BASE": upstream.url}) as px:
            assert httpx.get(f"{px.url}/paper/info").json()["feed"]["name"] == "live"
    t = time.monotonic()
    with PaperExchange(tmp_path / "a2", symbols=("BTCUSDT",), feed="auto",
                       env={"ASTER_EXCHANGE_BASE": "http://127.0.0.1:9"}) as px:
        assert httpx.get(f"{px.url}/paper/info").json()["feed"]["name"] == "synthetic"
        lines = [json.loads(x) for x in px.log_path.read_text().splitlines()]
    assert time.monotonic() - t < 15
    announce = next(x for x in lines if x["event"] == "paper.feed")
    assert "did not answer" in announce["reason"] and announce["feed"]["name"] == "synthetic"
