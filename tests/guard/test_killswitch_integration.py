"""The margin kill-switch on the real paper exchange: an ISOLATED position driven toward its liquidation
price with the default threshold (1.2); the switch fires before the venue liquidates, latches, holds the
account flat, blocks the bot's entries, and lets go only when a person resets it (CLI).

Before this change the guard measured only totalMarginBalance / totalMaintMargin: with a 10,000 USDT
wallet and one isolated position that figure stays in the thousands while the position is liquidated.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal

from mraster.domain.types import MarginType, Side
from mraster.safety.killswitch import entries_blocked, read_latch
from mraster.settings import default_settings

from tests.guard.integration import bot_entry, venue_fixture
from tests.guard.polling import until
from tests.guard.venue import is_flat, open_order_rows

D = Decimal
SYM = "BTCUSDT"

px = venue_fixture("killswitch-venue")


def _latch_files(g):
    return sorted((g.workdir / "run").glob("killswitch-*.json"))


async def _drive_toward_liquidation(account, liq: Decimal, rules) -> Decimal:
    """Jump the mark to 0.4 % above the liquidation price, then walk it down 0.02 % of the price every
    0.4 s until the position is gone (the switch's window at 1.2 is about 0.08 % of the price here:
    four steps); returns the last mark set."""
    price = rules.round_price(liq * D("1.004"), "up")
    step = (liq * D("0.0002") / rules.tick_size).to_integral_value() * rules.tick_size
    last = price
    while not is_flat(account.px, account.key) and last >= liq:
        last = price
        await account.set_price(SYM, last)
        await asyncio.sleep(0.4)            # the market's pace; the guard is not told about marks
        price -= step
    return last


async def test_isolated_position_toward_liquidation_fires_latches_holds_and_resets(px, account, guards, tmp_path):
    await account.ex.set_margin_type(SYM, MarginType.ISOLATED)
    await account.ex.set_leverage(SYM, 100)          # liquidation 0.6 % away, nearer than the bot's stop
    trade_id, pos, stop, _ = await bot_entry(account, guards.state_path, qty="0.01", atr_fraction=0.01)
    pos = await account.position(SYM)
    assert pos is not None and pos.margin_type is MarginType.ISOLATED and 0 < stop < pos.liquidation_price
    rules = (await account.ex.symbol_rules())[SYM]
    g = await guards.start(interval=1.0)              # the default ASTER_KILL_SAFETY_MULTIPLE, 1.2
    try:
        last = await _drive_toward_liquidation(account, pos.liquidation_price, rules)
        assert is_flat(px, account.key), "the position survived its liquidation price?"
        assert last >= pos.liquidation_price, f"the mark reached {last}, past liquidation {pos.liquidation_price}"

        # closed by the kill-switch's own orders, not by the venue's liquidation
        sells = [t for t in await account.ex.user_trades(SYM) if t.side is Side.SELL]
        closers = {(await account.ex.get_order(SYM, order_id=t.order_id)).client_order_id for t in sells}
        assert closers and all("-KS_g" in c for c in closers), closers
        kill = [e for e in g.log_events() if e["event"] == "kill_switch"]
        assert kill and kill[0]["level"] == "ERROR" and "ISOLATED" in kill[0]["msg"]
        status = g.wait_status(lambda s: s["kill_switch"].get("latched"), 5, "the latched status")
        account_multiple = status["kill_switch"]["safety_multiple"]
        assert account_multiple is None or account_multiple > 100, "the account-wide figure alone never fires"

        # latched: one file for the account, read by the bot's entry check with the same settings
        (latch_file,) = _latch_files(g)
        latch = read_latch(latch_file)
        assert latch.latched and latch.fired_by == "guard" and "ISOLATED" in latch.reason
        bot_settings = default_settings().with_values(paper=True, paper_url=px.url, api_key=account.key,
                                                      api_secret="secret-" + account.key,
                                                      run_dir=str(g.workdir / "run"))
        assert "kill-switch latched" in entries_blocked(bot_settings)

        # holds: a position opened while latched is closed again, its orders cancelled
        await account.release_price(SYM)
        await account.enter(SYM, Side.BUY, "0.01")
        await until(lambda: is_flat(px, account.key) and not open_order_rows(px, account.key), 10,
                    "the latched guard flattening the new position")

        # a person resets it (CLI): positions are guarded again, not closed
        reset = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "commands.main", "killswitch", "reset",
                                                         "--json"], env=g.environment(), cwd=g.workdir,
                                        capture_output=True, text=True, timeout=60)
        assert reset.returncode == 0, reset.stderr
        assert json.loads(reset.stdout)["latched"] is False and json.loads(reset.stdout)["reset_by"].startswith("cli:")
        assert entries_blocked(bot_settings) == ""
        await account.enter(SYM, Side.BUY, "0.01")
        await until(lambda: any(o["type"] == "STOP_MARKET" for o in open_order_rows(px, account.key)), 10,
                    "a stop on the position opened after the reset")
        assert not is_flat(px, account.key)
        status = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "commands.main", "killswitch",
                                                          "status"], env=g.environment(), cwd=g.workdir,
                                         capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and "not latched" in status.stdout and "last fired" in status.stdout
    finally:
        await account.release_price(SYM)
        g.stop()
        await asyncio.to_thread(guards.make().run, "--flatten")
