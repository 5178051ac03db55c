"""REST control of the children through a real server with real child scripts, and
"stop all and flatten" against an in-memory venue (the paper exchange is not runnable here yet)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.ids import Role, parse_client_order_id, stamp_of
from mraster.domain.types import PositionSide, Side
from dashboard.services.supervisor import Backoff

from tests.dashboard.conftest import CRASHER, SLEEPER, wait_for
from tests.dashboard.fakes import InMemoryVenue, bracket, position, write_state


@pytest.fixture
def children(workspace):
    sleeper = workspace.script("sleeper", SLEEPER)
    return {"bot": sleeper + ("bot",), "guard": sleeper + ("guard",), "paper": sleeper + ("paper",)}


def test_start_stop_restart_and_status(workspace, serve, client_for, children):
    api = client_for(serve(commands=children, stop_timeout=5))
    status = api.get("/api/bot/status").json()
    assert status["state"] == "stopped" and status["pid"] is None and status["restart_count"] == 0
    started = api.post("/api/bot/start").json()
    assert started["status"]["state"] == "running" and started["also_started"] == ["guard"]
    assert api.get("/api/guard/status").json()["state"] == "running"
    bot_pid = started["status"]["pid"]
    status = api.get("/api/bot/status").json()
    assert status["pid"] == bot_pid and status["uptime_s"] >= 0 and status["started_ms"] > 0
    restarted = api.post("/api/bot/restart").json()["status"]
    assert restarted["pid"] != bot_pid and restarted["restart_count"] == 1
    stopped = api.post("/api/bot/stop").json()["status"]
    assert stopped["state"] == "stopped" and stopped["last_exit_code"] in (0, -15)  # -15: before its handler
    assert api.get("/api/guard/status").json()["state"] == "running", "stopping the bot leaves the guard"
    listing = api.get("/api/processes").json()
    assert set(listing["processes"]) == {"bot", "guard", "paper"} and listing["mode"] == "paper"
    assert listing["venue_profile"] == "aster-v1"
    assert api.post("/api/guard/stop").json()["status"]["state"] == "stopped"
    assert api.post("/api/bot/start?guard=false").json()["also_started"] == []
    assert api.get("/api/guard/status").json()["state"] == "stopped"
    api.post("/api/bot/stop")


def test_unknown_process_or_action(workspace, serve, client_for, children):
    api = client_for(serve(commands=children))
    assert api.get("/api/nope/status").status_code == 404
    assert api.post("/api/nope/start").status_code == 404
    assert api.post("/api/bot/explode").status_code == 404


def test_crash_is_shown_through_the_api(workspace, serve, client_for):
    crasher = workspace.script("crasher", CRASHER)
    api = client_for(serve(commands={"bot": crasher}, backoff=Backoff(initial=30, maximum=30)))
    api.post("/api/bot/start")
    status = wait_for(lambda: (s := api.get("/api/bot/status").json())["state"] == "restarting" and s)
    assert status["last_exit_code"] == 3 and "crashed" in status["message"]
    assert any("something went wrong" in line for line in status["out_tail"])
    assert 0 < status["next_restart_in_s"] <= 30
    assert api.post("/api/bot/stop").json()["status"]["state"] == "stopped", "stop cancels the restart"
    assert api.get("/api/bot/status").json()["next_restart_in_s"] is None


def test_paper_exchange_started_with_the_bot_when_none_answers(workspace, serve, client_for, children):
    workspace.write_config({"ASTER_PAPER": True, "ASTER_PAPER_URL": "http://127.0.0.1:9"})  # nothing there
    api = client_for(serve(commands=children, start_paper_exchange=True))
    wait_for(lambda: api.get("/api/paper/status").json()["state"] == "running", what="paper started at startup")
    api.post("/api/paper/stop")
    started = api.post("/api/all/start").json()
    assert started["also_started"] == ["paper", "guard"]
    for name in ("bot", "guard", "paper"):
        api.post(f"/api/{name}/stop")


def test_flatten_needs_confirmation(workspace, serve, client_for, children):
    venue = InMemoryVenue([position("ADAUSDT", "400", "0.307")])
    api = client_for(serve(commands=children, exchange_factory=lambda s: venue))
    resp = api.post("/api/all/flatten", json={})
    assert resp.status_code == 422 and "FLATTEN" in resp.json()["detail"]
    assert venue.placed == []


def test_flatten_closes_positions_then_cancels_then_stops(workspace, serve, client_for, children):
    write_state(workspace.root / "aster_state.json")
    venue = InMemoryVenue([position("ADAUSDT", "400", "0.307"),
                           position("ETHUSDT", "-0.5", "1800", PositionSide.BOTH)],
                          [bracket("ADAUSDT", "SL", 11, "0.3001"), bracket("ADAUSDT", "TP", 12, "0.315"),
                           bracket("XRPUSDT", "SL", 13, "0.4")])
    api = client_for(serve(commands=children, exchange_factory=lambda s: venue))
    api.post("/api/all/start")
    report = api.post("/api/all/flatten", json={"confirm": "FLATTEN"}).json()
    assert report["ok"] is True and report["guard_stopped"] is True
    assert report["steps"][0] == "bot stopped"
    sent = {r.symbol: r for r in venue.placed}
    ada, eth = sent["ADAUSDT"], sent["ETHUSDT"]
    assert ada.side is Side.SELL and ada.quantity == Decimal("400") and ada.reduce_only
    assert parse_client_order_id(ada.client_order_id) == ("ADAUSDT.lq3k2x1a", Role.CLOSE), \
        "the bot's trade id when the state knows it"
    assert eth.side is Side.BUY and eth.quantity == Decimal("0.5")
    assert parse_client_order_id(eth.client_order_id) == ("ETHUSDT.gb", Role.CLOSE)
    assert stamp_of(ada.client_order_id)[0] == "d", "a new id per close order, never the fixed role id"
    assert sorted(venue.cancelled) == ["ADAUSDT", "ETHUSDT", "XRPUSDT"]
    statuses = api.get("/api/processes").json()["processes"]
    assert statuses["bot"]["state"] == "stopped" and statuses["guard"]["state"] == "stopped"


def test_flatten_failure_keeps_the_stop_and_the_guard(workspace, serve, client_for, children):
    venue = InMemoryVenue([position("ADAUSDT", "400", "0.307"), position("ETHUSDT", "1", "1800")],
                          [bracket("ADAUSDT", "SL", 11, "0.3001"), bracket("ETHUSDT", "SL", 14, "1700")],
                          fail_close={"ADAUSDT"})
    api = client_for(serve(commands=children, exchange_factory=lambda s: venue))
    api.post("/api/all/start")
    report = api.post("/api/all/flatten", json={"confirm": "FLATTEN"}).json()
    assert report["ok"] is False and report["guard_stopped"] is False
    assert "ADAUSDT: close failed" in report["errors"][0] and "kept" in report["errors"][0]
    assert venue.cancelled == ["ETHUSDT"], "the failed symbol's brackets stay"
    assert report["remaining_positions"] == [{"symbol": "ADAUSDT", "qty": "400"}]
    assert api.get("/api/guard/status").json()["state"] == "running"
    assert api.get("/api/bot/status").json()["state"] == "stopped"
    api.post("/api/guard/stop")


def test_hedge_mode_close_names_the_leg_without_reduce_only():
    from dashboard.services.flatten import close_request
    req = close_request(position("BTCUSDT", "-0.01", "65000", PositionSide.SHORT), "BTCUSDT.gs")
    assert req.position_side is PositionSide.SHORT and req.reduce_only is False and req.side is Side.BUY


def test_flatten_without_a_venue_leaves_the_guard(workspace, serve, client_for, children):
    venue = InMemoryVenue(fail_positions=True)
    api = client_for(serve(commands=children, exchange_factory=lambda s: venue))
    api.post("/api/all/start")
    report = api.post("/api/all/flatten", json={"confirm": "FLATTEN"}).json()
    assert not report["ok"] and "could not read positions" in report["errors"][0]
    assert api.get("/api/guard/status").json()["state"] == "running"
    api.post("/api/guard/stop")
