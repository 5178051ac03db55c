"""The bot's one entry check of the kill-switch latch (bot/runtime/cycle.py -> mraster/safety/killswitch.py):
while latched no entry is sent, exits and protection go on; after a reset entries resume."""
from __future__ import annotations

from mraster.safety.killswitch import account_key, fire, latch_path, reset
from mraster.settings import load_settings

from tests.bot.runtime_helpers import bot_env, run_once, state_of
from tests.bot.test_runtime import trending_venue


async def test_latched_account_opens_nothing_until_a_person_resets_it(tmp_path):
    settings = load_settings(env=bot_env(tmp_path)).settings
    path, account = latch_path(settings), account_key(settings)
    fire(path, account, "guard", "BTCUSDT LONG (ISOLATED): margin 1.19 x maintenance")
    v = trending_venue()
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    assert not st.open_trades
    assert all(amount == 0 for amount, _ in v.positions_.values())
    assert not [c for c in v.calls if c.startswith("place")], "no order sent while latched"
    reasons = {r["reason"] for r in st.last_scan["symbols"].values()}
    assert "kill_switch" in reasons

    reset(path, account, "test")
    await run_once(tmp_path, v)
    assert len(state_of(tmp_path).open_trades) == 2, "entries resume after the reset"
