"""Issue 15 item 6 with real processes: the dashboard server, the paper exchange and a real `python -m bot`
child. Pause new entries (the bot keeps running), force one entry (it goes through the bot's entry path and
gets its stop and take-profit), close that one position (reduce-only, recorded as manual_close), and
the settings guard-rails and real sizing against the same venue."""
from __future__ import annotations

import asyncio

import pytest

from paper.testing import PaperExchange
from mraster.domain.sizing import SizingParams, size_position
from mraster.exchange.factory import make_exchange
from mraster.settings import load_settings

from tests.bot.test_paper_e2e import trading_env
from tests.dashboard.conftest import wait_for

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper-controls"), symbols=SYMBOLS, seed=23) as ex:
        yield ex


def bot_env(px, workspace, **extra: str) -> dict[str, str]:
    env = trading_env(px, workspace.root, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="0.5", **extra)
    env["ASTER_CONFIG_FILE"] = str(workspace.config_file)
    env["ASTER_DOTENV_FILE"] = str(workspace.dotenv_file)
    workspace.env.update(env)
    return env


def test_pause_then_forced_entry_with_brackets_then_close_one(px, workspace, serve, client_for):
    env = bot_env(px, workspace)
    server = serve(commands=None, child_env=env, exchange_factory=None, venue_ttl=0.5, stop_timeout=10)
    api = client_for(server)
    assert api.post("/api/entries/pause", json={"paused": True, "reason": "test"}).json()["pause"]["paused"]
    refused = api.post("/api/entries/force", json={"symbol": "BTCUSDT", "side": "LONG", "confirm": "ENTER"})
    assert refused.status_code == 409 and "not running" in refused.json()["detail"]
    assert api.post("/api/bot/start", params={"guard": "false"}).status_code == 200
    try:
        def paused_cycle():
            scan = api.get("/api/state").json()["state"].get("last_scan") or {}
            reasons = {r.get("reason") for r in (scan.get("symbols") or {}).values()}
            return "paused" in reasons
        wait_for(paused_cycle, 60, what="a cycle whose candidates were skipped as paused")
        assert api.get("/api/state").json()["positions"] == [], "no entry while paused"
        assert api.get("/api/processes").json()["processes"]["bot"]["state"] == "running"

        no_confirm = api.post("/api/entries/force", json={"symbol": "BTCUSDT", "side": "LONG"})
        assert no_confirm.status_code == 422 and "confirmation" in no_confirm.json()["detail"]
        bad = api.post("/api/entries/force", json={"symbol": "BTCUSDT", "side": "UP", "confirm": "ENTER"})
        assert bad.status_code == 422 and "LONG or SHORT" in bad.json()["detail"]
        queued = api.post("/api/entries/force", json={"symbol": "BTCUSDT", "side": "LONG", "bucket": "S",
                                                      "confirm": "ENTER"}).json()
        assert queued["status"] == "queued"
        done = wait_for(lambda: (r := api.get(f"/api/entries/force/{queued['id']}").json())["status"] == "done"
                        and r, 60, what="the bot's answer to the forced entry")
        assert done["outcome"] == "enter" and done["trade_id"].startswith("BTCUSDT."), done

        def protected():
            snap = api.get("/api/state").json()
            roles = {o["role"] for o in snap["orders"] if o["symbol"] == "BTCUSDT"}
            pos = [p for p in snap["positions"] if p["symbol"] == "BTCUSDT"]
            return pos and {"stop", "take_profit"} <= roles and pos
        (pos,) = wait_for(protected, 20, what="the forced position with its stop and take-profit on the venue")
        assert pos["side"] == "LONG" and pos["trade_id"] == done["trade_id"] and pos["stop_price"]

        no_word = api.post("/api/positions/close", json={"symbol": "BTCUSDT", "side": "LONG"})
        assert no_word.status_code == 422
        missing = api.post("/api/positions/close", json={"symbol": "ETHUSDT", "side": "LONG", "confirm": "CLOSE"})
        assert missing.status_code == 404
        closed = api.post("/api/positions/close", json={"symbol": "BTCUSDT", "side": "LONG", "confirm": "CLOSE"}).json()
        assert closed["ok"] and closed["cancelled"] and float(closed["closed"]["avg_price"]) > 0
        assert closed["trade_id"] == done["trade_id"]
        assert [p for p in api.get("/api/state").json()["positions"] if p["symbol"] == "BTCUSDT"] == []
        row = wait_for(lambda: next((r for r in api.get("/api/trades").json()["trades"]
                                     if r["trade_id"] == done["trade_id"]), None), 15, what="the close in history")
        assert row["exit_reason"] == "manual_close" and row["qty"] > 0
        orders = api.get("/api/state").json()["orders"]
        assert not [o for o in orders if o["symbol"] == "BTCUSDT"], "its brackets were cancelled"
    finally:
        api.post("/api/bot/stop")


def test_bad_leverage_is_refused_with_the_venues_maximum(px, workspace, serve, client_for):
    bot_env(px, workspace)
    api = client_for(serve(exchange_factory=None))
    resp = api.patch("/api/config", json={"ASTER_LEVERAGE": 125})
    assert resp.status_code == 422
    text = resp.json()["errors"]["ASTER_LEVERAGE"]
    assert "SOLUSDT 50x" in text and "ETHUSDT 100x" in text and "at most 50x" in text
    assert api.get("/api/config").json()["values"]["ASTER_LEVERAGE"]["value"] == 3, "nothing was saved"
    risky = api.patch("/api/config", json={"ASTER_RISK_PER_TRADE": 0.1})
    assert risky.status_code == 422 and "sane bound" in risky.json()["errors"]["ASTER_RISK_PER_TRADE"]
    warned = api.patch("/api/config", json={"ASTER_RISK_PER_TRADE": 0.03})
    assert warned.status_code == 200 and any("high" in w for w in warned.json()["warnings"])
    assert api.patch("/api/config", json={"ASTER_LEVERAGE": 20}).status_code == 200


def test_sizing_shows_the_real_risk_of_the_bots_sizing(px, workspace, serve, client_for):
    env = bot_env(px, workspace, ASTER_BANDIT_ENABLED="true", ASTER_MAX_NOTIONAL_USDT="300",
                  ASTER_RISK_PER_TRADE="0.012")
    api = client_for(serve(exchange_factory=None))
    report = wait_for(lambda: (r := api.get("/api/sizing", params={"symbol": "BTCUSDT"}).json())["available"] and r,
                      20, what="the sizing report")
    assert report["equity"] == pytest.approx(10000, rel=0.01) and report["equity_source"] == "venue"
    assert report["slider_risk_pct"] == pytest.approx(1.2)
    assert [b["bucket"] for b in report["buckets"]] == ["S", "M", "L"]
    assert {b["notional"] for b in report["buckets"]} and all(b["notional"] <= 300 for b in report["buckets"])
    assert any("ASTER_MAX_NOTIONAL_USDT=300" in w for w in report["warnings"])
    assert any("really risks" in w for w in report["warnings"])
    assert {p["name"] for p in report["presets"]} == {"low", "mid", "high"}

    async def bots_own_sizing():
        settings = load_settings(env=env).settings
        ex = make_exchange(settings)
        try:
            rules = (await ex.symbol_rules())["BTCUSDT"]
        finally:
            await ex.close()
        return size_position(equity=report["equity"], price=report["price"], stop_distance=report["stop_distance"],
                             bucket="M", rules=rules, params=SizingParams.from_settings(settings))
    d = asyncio.run(bots_own_sizing())
    m = next(b for b in report["buckets"] if b["bucket"] == "M")
    assert m["qty"] == pytest.approx(float(d.qty))
    assert m["risk"] == pytest.approx(float(d.qty) * report["stop_distance"], abs=1e-6)   # USDT to 6 places
    assert m["risk_pct"] < 0.5 * report["slider_risk_pct"]
