"""Issue 15: the bot reads the dashboard's requests (mraster/safety/control.py) on the real paper exchange:
paused entries (and the activity line that says why nothing was entered), a forced entry through the normal
path with its brackets, an expired request refused."""
from __future__ import annotations

import logging
import time

import pytest

from paper.testing import PaperExchange
from mraster.safety import control
from mraster.settings import load_settings
from mraster.state import read_state_readonly

from tests.bot.test_paper_e2e import run_bot, trading_env, venue_view

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper-operator"), symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
                       seed=13) as ex:
        yield ex


def _lines(caplog, event: str) -> list[dict]:
    return [{**r.__dict__, "msg": r.getMessage()} for r in caplog.records if getattr(r, "event", None) == event]


async def test_paused_entries_and_the_line_that_says_why(px, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr("bot.runtime.operator.QUIET_CYCLES", 2)
    env = trading_env(px, tmp_path, ASTER_RUN_ONCE="false")
    settings = load_settings(env=env).settings
    control.write_pause(control.pause_path(settings), True, "test", "holiday", 1)
    await run_bot(env, cycles=2)
    state = read_state_readonly(tmp_path / "aster_state.json")
    assert not state.open_trades, "no entry while paused"
    assert "paused" in {r["reason"] for r in state.last_scan["symbols"].values()}
    (line,) = _lines(caplog, "entries.none")[:1]
    assert line["activity"] is True and "no entry for 2 cycles" in line["msg"] and "paused" in line["msg"]
    skips = _lines(caplog, "decision")
    assert skips and all(x.get("group") == "skip" for x in skips if x["decision"] != "enter")


async def test_forced_entry_goes_through_the_entry_path_with_brackets(px, tmp_path):
    env = trading_env(px, tmp_path, ASTER_MAX_OPEN_GLOBAL="0")     # the scan itself may enter nothing
    settings = load_settings(env=env).settings
    req = control.ForceRequest(id="f1", symbol="SOLUSDT", side="SHORT", bucket="S",
                               requested_ms=int(time.time() * 1000), by="test")
    control.write_force(control.force_path(settings), req)
    await run_bot(env)
    result = control.read_result(control.result_path(settings))
    assert result["id"] == "f1" and result["outcome"] == "enter", result
    (trade,) = read_state_readonly(tmp_path / "aster_state.json").open_trades.values()
    assert trade.trade_id == result["trade_id"] and trade.side == "SHORT" and trade.bucket == "S"
    assert trade.decision["policy_arm"] == "FORCED"
    positions, orders = await venue_view(env)
    assert [p.symbol for p in positions] == ["SOLUSDT"]
    roles = {o.client_order_id.rsplit("-", 1)[1][:2] for o in orders if o.symbol == "SOLUSDT"}
    assert {"SL", "TP"} <= roles, "the forced entry has its stop and take-profit on the venue"
    assert control.pending_force(settings) is None, "handled once"
    await run_bot(env)
    assert len(read_state_readonly(tmp_path / "aster_state.json").open_trades) == 1, "never entered twice"


async def test_an_expired_request_is_refused(px, tmp_path):
    env = trading_env(px, tmp_path)
    settings = load_settings(env=env).settings
    control.write_force(control.force_path(settings), control.ForceRequest("old", "BTCUSDT", "LONG", "M", 1, "test"))
    await run_bot(env)
    result = control.read_result(control.result_path(settings))
    assert result["outcome"] == "refused" and "expired" in result["detail"]
