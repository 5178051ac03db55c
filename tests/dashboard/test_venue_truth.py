"""Issue 15 item 2 on the real paper exchange (a child process) with a real dashboard server: the venue is
the truth for positions, and exits made by flatten, a manual close or the venue itself reach the trade
history within seconds with the right reason, while the bot is stopped; qty is never 0 on a closed trade."""
from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest

from bot.runtime.loop import Bot
from mraster.engines import resolve_instance
from mraster.settings import load_settings
from mraster.state import read_state_readonly
from paper.testing import PaperExchange

from tests.bot.test_paper_e2e import run_bot, trading_env
from tests.dashboard.conftest import wait_for

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper-truth"), symbols=SYMBOLS, seed=21) as ex:
        yield ex


def trading_workspace(px, workspace, **extra: str) -> dict[str, str]:
    """The bot's settings in the dashboard's workspace, so both read the same state, journal and account."""
    env = trading_env(px, workspace.root, **extra)
    env["ASTER_CONFIG_FILE"] = str(workspace.config_file)
    env["ASTER_DOTENV_FILE"] = str(workspace.dotenv_file)
    workspace.env.update(env)
    return env


def open_two_trades(px, workspace) -> list:
    env = trading_workspace(px, workspace)
    asyncio.run(run_bot(env))
    trades = [t for t in read_state_readonly(workspace.root / "aster_state.json").open_trades.values()
              if t.status == "open"]
    assert len(trades) == 2, "the bot opened two trades on the paper exchange"
    return trades


def state_of(api) -> dict:
    return api.get("/api/state").json()


def test_positions_come_from_the_venue_with_their_figures(px, workspace, serve, client_for):
    trades = open_two_trades(px, workspace)
    api = client_for(serve(exchange_factory=None, venue_ttl=0.5))
    rows = wait_for(lambda: (r := state_of(api)["positions"]) and all(x.get("fees") is not None for x in r) and r,
                    20, what="positions with fees")
    assert {(r["symbol"], r["side"]) for r in rows} == {(t.symbol, t.side) for t in trades}
    for r in rows:
        assert r["venue"] == "held" and r["qty"] > 0
        assert r["notional"] == pytest.approx(r["qty"] * r["mark_price"])
        assert r["leverage"] >= 1 and r["margin"] == pytest.approx(r["notional"] / r["leverage"], rel=0.05)
        assert r["liquidation_price"] > 0 and 0 < r["liq_distance_pct"] < 100
        assert r["stop_before_liquidation"] is True and r["stop_to_liq_pct"] > 0
        assert r["pnl_pct"] is not None and r["duration_s"] is not None and r["open_time_ms"] > 0
        assert r["fees"] > 0, "the entry's commission so far"


def test_flatten_removes_positions_and_records_exits_while_the_bot_is_stopped(px, workspace, serve, client_for):
    trades = open_two_trades(px, workspace)
    api = client_for(serve(exchange_factory=None, venue_ttl=0.5))
    wait_for(lambda: len(state_of(api)["positions"]) == 2, 20, what="two positions")
    report = api.post("/api/all/flatten", json={"confirm": "FLATTEN"}).json()
    assert report["ok"], report
    assert len(report["closed"]) == 2 and all(float(c["avg_price"]) > 0 for c in report["closed"]), \
        "the flatten report shows the fill prices"
    # at once (the answer refreshed the venue's view): nothing listed as open, nothing "protected"
    assert state_of(api)["positions"] == []
    ids = {t.trade_id for t in trades}

    def history():
        rows = [r for r in state_of(api)["trades"]["trades"] if r["trade_id"] in ids]
        return rows if len(rows) == 2 else None
    rows = wait_for(history, 10, what="both exits in the trade history")
    by_id = {t.trade_id: t for t in trades}
    for r in rows:
        assert r["exit_reason"] == "flatten" and r["status"] == "closed"
        assert r["qty"] == pytest.approx(float(by_id[r["trade_id"]].entry_qty)) and r["qty"] > 0
        assert r["exit_price"] > 0 and r["fees"] > 0 and r["r_multiple"] is not None
        assert r["duration_s"] >= 0 and r["source"] == "dashboard"
        assert (r["engine"], r["account"]) == ("scanner", "main"), "the instance that owned the position"
    page = api.get("/api/trades", params={"reason": "flatten", "limit": 1}).json()
    assert page["total"] == 2 and len(page["trades"]) == 1 and page["facets"]["exit_reason"] == ["flatten"]
    assert api.get("/api/trades", params={"reason": "stop"}).json()["total"] == 0
    table = list(csv.DictReader(io.StringIO(api.get("/api/trades.csv").text)))
    assert {r["trade_id"] for r in table} == ids and all(float(r["qty"]) > 0 for r in table)
    assert {(r["engine"], r["account"]) for r in table} == {("scanner", "main")}
    assert all(r["exit_time"].endswith("Z") for r in table)


def test_a_stop_triggered_on_the_venue_while_the_bot_is_stopped_reaches_the_history(px, workspace, serve,
                                                                                    client_for):
    trades = open_two_trades(px, workspace)
    api = client_for(serve(exchange_factory=None, venue_ttl=0.5))
    t = trades[0]
    through = float(t.stop_price) * (0.99 if t.side == "LONG" else 1.01)
    px.admin("POST", "/price", symbol=t.symbol, price=f"{through:.2f}", mark=f"{through:.2f}")
    try:
        row = wait_for(lambda: next((r for r in state_of(api)["trades"]["trades"]
                                     if r["trade_id"] == t.trade_id), None), 15, what="the stop's exit")
        assert row["exit_reason"] == "stop" and row["qty"] > 0 and row["realized_pnl"] < 0
        positions = state_of(api)["positions"]
        assert t.symbol not in {p["symbol"] for p in positions}
        assert len(positions) == 1, "the other position is still held and still shown"
    finally:
        px.admin("DELETE", "/price", symbol=t.symbol)


def test_a_second_scanner_on_a_named_account_has_its_exit_recorded_under_its_names(px, workspace, serve, client_for):
    """Not only the default scanner: an instance on account TB, stopped, whose stop the venue triggers."""
    env = trading_workspace(px, workspace)
    workspace.dotenv_file.write_text("ASTER_ACCOUNTS=TB\n")
    workspace.dotenv_file.chmod(0o600)
    (workspace.root / "engines.json").write_text(json.dumps({"instances": [
        {"name": "two", "kind": "scanner", "accounts": {"account": "TB"},
         "settings": {"ASTER_INCLUDE_SYMBOLS": "ETHUSDT"}}]}))
    loaded = load_settings(env=env)
    resolved = resolve_instance("two", loaded=loaded, environ=env)
    opened: list = []
    for _ in range(3):              # one cycle enters on this loose setup; a quiet market may need another
        assert asyncio.run(Bot(loaded, env=env, instance="two", account="TB").run()) == 0
        opened = [t for t in read_state_readonly(resolved.settings.state_file).open_trades.values()
                  if t.status == "open"]
        if opened:
            break
    (t,) = opened
    api = client_for(serve(exchange_factory=None, venue_ttl=0.5))
    through = float(t.stop_price) * (0.99 if t.side == "LONG" else 1.01)
    px.admin("POST", "/price", symbol=t.symbol, price=f"{through:.2f}", mark=f"{through:.2f}")
    try:
        row = wait_for(lambda: next((r for r in api.get("/api/trades", params={"engine": "two"}).json()["trades"]
                                     if r["trade_id"] == t.trade_id), None), 40, what="instance two's exit")
    finally:
        px.admin("DELETE", "/price", symbol=t.symbol)
    assert (row["engine"], row["account"], row["exit_reason"]) == ("two", "TB", "stop")
    assert row["qty"] > 0 and row["realized_pnl"] < 0
    main_rows = api.get("/api/trades", params={"account": "main"}).json()["trades"]
    assert t.trade_id not in {r["trade_id"] for r in main_rows}
