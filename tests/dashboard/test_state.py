"""State views: positions with the guard's confirmation, orders, trades with PnL, equity, charts,
guard and feed status; every missing or stale input is reported, never fatal."""
from __future__ import annotations

import json
import time

from websockets.sync.client import connect

from dashboard.services.state import GUARD_STATUS_FILE


from tests.dashboard.fakes import InMemoryVenue, bracket, build_state, candles, guard_status, position, write_state


def write_guard(ws, status) -> None:
    ws.run_dir.mkdir(parents=True, exist_ok=True)
    (ws.run_dir / GUARD_STATUS_FILE).write_text(json.dumps(status))


def test_everything_missing_is_reported_not_fatal(workspace, serve, client_for):
    api = client_for(serve())
    snap = api.get("/api/state").json()
    assert snap["mode"] == "paper" and snap["venue_profile"] == "aster-v1"
    assert snap["state"] == {"available": False, "problem": "the bot has not written its state yet"}
    assert snap["guard"]["available"] is False and "not written" in snap["guard"]["problem"]
    assert snap["positions"] == [] and snap["trades"]["trades"] == [] and snap["equity_curve"] == []
    assert snap["venue"]["enabled"] and "no venue in this test" in snap["venue"]["error"]
    assert snap["paper"]["available"] is False and "no paper exchange answers" in snap["paper"]["problem"]
    assert set(snap["processes"]) == set()


def test_positions_orders_trades_equity_from_files_and_venue(workspace, serve, client_for):
    state = write_state(workspace.root / "aster_state.json")
    write_guard(workspace, guard_status(protected=True))
    venue = InMemoryVenue([position("ADAUSDT", "400", "0.3070"), position("XRPUSDT", "-50", "0.41")],
                          [bracket("ADAUSDT", "SL", 11, "0.3001"), bracket("ADAUSDT", "TP", 12, "0.315")])
    api = client_for(serve(exchange_factory=lambda s: venue))
    snap = api.get("/api/state").json()
    rows = {(p["symbol"], p["side"]): p for p in snap["positions"]}
    ada = rows[("ADAUSDT", "LONG")]
    assert ada["guard"] == "protected" and ada["stop_ok"] and ada["take_profit_ok"]
    assert ada["stop_price"] == 0.3001 and ada["take_profit_price"] == 0.315 and ada["unrealized_pnl"] == 1.5
    assert rows[("XRPUSDT", "SHORT")]["source"] == "venue", "a position only the venue knows is still shown"
    assert [o["role"] for o in snap["orders"]] == ["stop", "take_profit"]
    trades = snap["trades"]
    assert trades["count"] == 2 and [t["exit_reason"] for t in trades["trades"]] == ["stop", "take_profit"]
    expected = sum(float(t.realized_pnl) - float(t.fees) for t in state.closed_trades)
    assert abs(trades["net_pnl"] - expected) < 1e-9 and trades["wins"] + trades["losses"] == 2
    assert len(snap["equity_curve"]) == 30
    st = snap["state"]
    assert st["available"] and st["cycle"] == 17 and st["feed"].startswith("synthetic")
    assert st["policy"]["arms"]["M"]["pulls"] == 7 and st["last_scan"]["symbols"]["BTCUSDT"]["decision"] == "skip"
    assert snap["guard"]["fresh"] and snap["guard"]["repairs_total"] == 2 and snap["guard"]["stream"]["connected"]


def test_unprotected_and_stale_guard(workspace, serve, client_for):
    write_state(workspace.root / "aster_state.json")
    write_guard(workspace, guard_status(protected=False))
    api = client_for(serve())
    ada = api.get("/api/state").json()["positions"][0]
    assert ada["guard"] == "UNPROTECTED" and ada["stop_ok"] is False
    write_guard(workspace, guard_status(heartbeat_ms=int(time.time() * 1000) - 600_000))
    snap = api.get("/api/state").json()
    assert snap["positions"][0]["guard"] == "stale"
    assert not snap["guard"]["fresh"] and "may be stopped" in snap["guard"]["problem"]


def test_unreadable_state_file_is_left_alone(workspace, serve, client_for):
    path = workspace.root / "aster_state.json"
    path.write_text('{"schema_version": 99}')
    api = client_for(serve())
    snap = api.get("/api/state").json()
    assert not snap["state"]["available"] and "could not be read" in snap["state"]["problem"]
    assert path.read_text() == '{"schema_version": 99}', "the bot owns the file: never moved or rewritten"


def test_price_chart_has_candles_and_trade_markers(workspace, serve, client_for):
    write_state(workspace.root / "aster_state.json")
    api = client_for(serve(exchange_factory=lambda s: InMemoryVenue()))
    chart = api.get("/api/chart/adausdt?interval=1m&limit=300").json()
    assert chart["symbol"] == "ADAUSDT" and len(chart["candles"]) == 300 and chart["problem"] == ""
    assert chart["candles"][0][4] == candles()[0]["close"]
    kinds = [(m["kind"], m["side"]) for m in chart["markers"]]
    assert kinds == [("entry", "SHORT"), ("exit", "SHORT"), ("entry", "LONG"), ("exit", "LONG"), ("entry", "LONG")]
    assert [m["time_ms"] for m in chart["markers"]] == sorted(m["time_ms"] for m in chart["markers"])
    assert api.get("/api/chart/BAD!?").status_code in (404, 422)
    assert api.get("/api/chart/ADAUSDT?interval=7m").status_code == 422
    assert api.get("/api/chart/ADAUSDT?limit=5").status_code == 422


def test_chart_without_venue_keeps_markers(workspace, serve, client_for):
    write_state(workspace.root / "aster_state.json")
    api = client_for(serve())
    chart = api.get("/api/chart/ADAUSDT").json()
    assert chart["candles"] == [] and "no venue" in chart["problem"] and len(chart["markers"]) == 5


def test_ws_state_pushes_changes(workspace, serve):
    server = serve()
    with connect(server.ws_url + "/ws/state", max_size=None) as ws:
        first = json.loads(ws.recv(10))
        assert first["state"]["available"] is False
        write_state(workspace.root / "aster_state.json", build_state())
        deadline = time.monotonic() + 15
        while True:
            snap = json.loads(ws.recv(10))
            if snap["state"]["available"]:
                break
            assert time.monotonic() < deadline
        assert snap["state"]["cycle"] == 17 and snap["positions"][0]["symbol"] == "ADAUSDT"
