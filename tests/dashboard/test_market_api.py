"""The Chart page's data: the venue's symbols with their ticks, and candles up to a given end time."""
from __future__ import annotations

from tests.dashboard.fakes import candles
from tests.dashboard.test_browser_pages import Venue


def test_symbols_list_the_venue_with_ticks_and_the_intervals(serve, client_for):
    api = client_for(serve(exchange_factory=lambda s: Venue()))
    body = api.get("/api/market/symbols").json()
    assert body["problem"] == ""
    assert [s["symbol"] for s in body["symbols"]] == ["ADAUSDT", "BTCUSDT", "ETHUSDT"]
    assert body["symbols"][0]["tick_size"] == "0.0001"
    assert "1m" in body["intervals"] and "1d" in body["intervals"]


def test_symbols_say_why_when_the_venue_does_not_answer(serve, client_for):
    api = client_for(serve())     # the default factory of the tests raises: no venue
    body = api.get("/api/market/symbols").json()
    assert body["symbols"] == [] and "no venue" in body["problem"]


def test_chart_candles_up_to_an_end_time(serve, client_for):
    api = client_for(serve(exchange_factory=lambda s: Venue()))
    rows = candles()
    end = int(rows[100]["open_time_ms"])
    body = api.get("/api/chart/ADAUSDT", params={"interval": "1m", "limit": 50, "end": end}).json()
    assert len(body["candles"]) == 50 and body["candles"][-1][0] == end
    latest = api.get("/api/chart/ADAUSDT", params={"interval": "1m", "limit": 50}).json()
    assert latest["candles"][-1][0] == int(rows[-1]["open_time_ms"])
    assert api.get("/api/chart/ADAUSDT", params={"end": -5}).status_code == 422
    assert api.get("/api/chart/ADAUSDT", params={"end": "soon"}).status_code == 422
