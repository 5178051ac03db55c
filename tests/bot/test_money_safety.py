"""Issue 12, items 1, 3, 4 and 5 on the in-memory venue (tests/bot/fakevenue.py): situations a real venue
cannot produce on demand (a stop refused and a market close refused right after a fill, an entry executed
only after its look-up said "unknown", an entry answered NEW). The late execution on the real paper
exchange with the real client is in test_paper_money_safety.py."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from mraster.domain.ids import parse_client_order_id
from mraster.domain.types import OrderStatus, OrderType, Side
from mraster.journal import Journal
from bot.runtime.context import Runtime

from tests.bot.runtime_helpers import run_once, state_of
from tests.bot.test_runtime import pending_policy_trades, resting, trending_venue


def journal_rows(tmp_path, trade_id: str) -> list[dict]:
    j = Journal(tmp_path / "aster_journal.sqlite")
    try:
        return j.orders_for(trade_id)
    finally:
        j.close()


def trade_row(tmp_path, trade_id: str) -> dict | None:
    j = Journal(tmp_path / "aster_journal.sqlite")
    try:
        return j.trade_row(trade_id)
    finally:
        j.close()


# ---------------------------------------------------------------- item 1
async def test_failed_emergency_close_keeps_the_trade_open_and_retries_until_flat(tmp_path):
    """Stop refused AND market close refused: the trade stays open in state and journal, the policy is
    not credited; the close is retried every cycle under a new client id; once the venue is flat the
    trade is finalised from the real exit fills and only then credited."""
    v = trending_venue(symbols=("BTCUSDT",))
    v.reject_stops = True
    v.fail_closes = True
    await run_once(tmp_path, v)
    held = v.positions_["BTCUSDT"][0]
    assert held > 0                                                     # the venue still holds it
    st = state_of(tmp_path)
    (t,) = st.open_trades.values()
    assert t.status == "open" and t.close_requested and not st.closed_trades
    assert trade_row(tmp_path, t.trade_id)["status"] == "open"
    assert pending_policy_trades(tmp_path) == {t.trade_id}              # not credited with a fake exit

    v.clock += 60_000
    await run_once(tmp_path, v)                                         # retried, refused again
    st = state_of(tmp_path)
    assert t.trade_id in st.open_trades and not st.closed_trades
    assert v.positions_["BTCUSDT"][0] == held                           # no second entry meanwhile

    v.fail_closes = False
    v.clock += 60_000
    await run_once(tmp_path, v)
    assert v.positions_["BTCUSDT"][0] == 0
    st = state_of(tmp_path)
    closed = {c.trade_id: c for c in st.closed_trades}[t.trade_id]
    assert closed.exit_reason == "closed" and closed.exit_price is not None and not closed.close_requested
    mine = {o.order_id for o in v.orders.values() if o.client_order_id.startswith(f"mr-{t.trade_id}-CL")}
    assert closed.realized_pnl == sum((f.realized_pnl for f in v.fills if f.order_id in mine), D(0)) != 0
    assert trade_row(tmp_path, t.trade_id)["status"] == "closed"
    assert pending_policy_trades(tmp_path) == set()                     # credited with the real exit
    close_ids = [r["client_id"] for r in journal_rows(tmp_path, t.trade_id) if r["role"] == "CL"]
    assert len(close_ids) >= 3 and len(set(close_ids)) == len(close_ids)  # every close attempt its own id


# ---------------------------------------------------------------- item 3 (in memory)
async def test_entry_with_unknown_result_is_kept_pending_not_dropped_nor_sent_again(tmp_path, monkeypatch):
    """The entry is answered "unknown" and executed only after the next cycle's look-up: the trade stays
    pending (blocking a second entry on the symbol) until the fill shows up, then gets its brackets.
    Before the fix the pending trade was dropped on the first "unknown" and the symbol entered again."""
    v = trending_venue(symbols=("BTCUSDT",))
    v.late_next_entry = True
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    assert t.status == "pending" and "BTCUSDT" not in v.positions_
    v.clock += 60_000
    await run_once(tmp_path, v)                                         # look-up: unknown; within recvWindow
    st = state_of(tmp_path)
    assert list(st.open_trades) == [t.trade_id] and st.open_trades[t.trade_id].status == "pending"
    assert [c for c in v.calls if c.startswith("place MARKET")] == [f"place MARKET mr-{t.trade_id}-EN"]
    v.process_late()                                                    # the venue executes it now
    v.clock += 60_000
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    trade = st.open_trades[t.trade_id]
    assert trade.status == "open" and v.positions_["BTCUSDT"][0] == t.qty == trade.qty     # one entry, not two
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}


async def test_unknown_entry_is_concluded_not_taken_only_after_the_recv_window(tmp_path, monkeypatch):
    v = trending_venue(symbols=("BTCUSDT",))
    v.late_next_entry = True
    await run_once(tmp_path, v, ASTER_RECV_WINDOW=5000)
    (t,) = state_of(tmp_path).open_trades.values()
    v.late.clear()                                                      # the venue never executes it
    v.trend("BTCUSDT", "5m", 0.0)                                       # no new signal
    v.clock += 60_000                                                   # venue time past the window,
    await run_once(tmp_path, v, ASTER_RECV_WINDOW=5000)                 # wall time not: still pending
    assert state_of(tmp_path).open_trades[t.trade_id].status == "pending"
    later = Runtime.wall_ms() + 11_000
    monkeypatch.setattr(Runtime, "wall_ms", staticmethod(lambda: later))
    await run_once(tmp_path, v, ASTER_RECV_WINDOW=5000)
    st = state_of(tmp_path)
    assert not st.open_trades
    assert trade_row(tmp_path, t.trade_id)["exit_reason"] == "entry_unknown"


# ---------------------------------------------------------------- item 4
async def test_second_adoption_on_a_symbol_is_a_new_trade_and_keeps_the_first_ones_pnl(tmp_path):
    v = trending_venue(symbols=("BTCUSDT", "ETHUSDT"))
    v.trend("ETHUSDT", "5m", 0.0)
    v.open_manual("ETHUSDT", Side.SELL, "0.5")
    await run_once(tmp_path, v, ASTER_INCLUDE_SYMBOLS="BTCUSDT")
    (first,) = [t for t in state_of(tmp_path).open_trades.values() if t.adopted]
    v.clock += 60_000
    v.move("ETHUSDT", float(first.stop_price) + 0.05)                   # stopped out
    await run_once(tmp_path, v, ASTER_INCLUDE_SYMBOLS="BTCUSDT")
    row = trade_row(tmp_path, first.trade_id)
    assert row["status"] == "closed" and row["realized_pnl"] is not None
    pnl = row["realized_pnl"]
    v.clock += 60_000
    v.open_manual("ETHUSDT", Side.SELL, "0.3")
    await run_once(tmp_path, v, ASTER_INCLUDE_SYMBOLS="BTCUSDT")
    (second,) = [t for t in state_of(tmp_path).open_trades.values() if t.adopted]
    assert second.trade_id != first.trade_id
    row = trade_row(tmp_path, first.trade_id)
    assert row["status"] == "closed" and row["realized_pnl"] == pnl   # not overwritten
    assert trade_row(tmp_path, second.trade_id)["status"] == "open"
    ids_first = {o.client_order_id for o in v.orders.values() if o.client_order_id.startswith(f"mr-{first.trade_id}-")}
    ids_second = {o.client_order_id for o in v.orders.values() if o.client_order_id.startswith(f"mr-{second.trade_id}-")}
    assert ids_second and not ids_first & ids_second


async def test_bracket_placed_again_gets_a_new_client_id_so_a_lookup_finds_the_new_order(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    old = resting(v, "BTCUSDT")[OrderType.STOP_MARKET]
    v.orders[old.order_id] = replace(old, status=OrderStatus.CANCELED)  # the venue cancels the stop
    v.trend("BTCUSDT", "5m", 0.0)
    v.clock += 60_000
    await run_once(tmp_path, v)
    new = resting(v, "BTCUSDT")[OrderType.STOP_MARKET]
    assert new.client_order_id != old.client_order_id
    assert parse_client_order_id(new.client_order_id) == parse_client_order_id(old.client_order_id)
    found = await v.get_order("BTCUSDT", client_order_id=new.client_order_id)
    assert found.order_id == new.order_id and found.is_open
    assert state_of(tmp_path).open_trades[t.trade_id].client_ids["SL"] == new.client_order_id


# ---------------------------------------------------------------- item 5
async def test_entry_answered_new_is_followed_until_it_fills(tmp_path):
    """Before the fix an entry answered NEW (accepted, not filled) was dropped as "not filled", and its
    later fill showed up as an unknown position."""
    v = trending_venue(symbols=("BTCUSDT",))
    v.entries_rest = True
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    assert t.status == "pending" and t.order_ids.get("EN")
    v.fill_resting()
    v.clock += 60_000
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    trade = st.open_trades[t.trade_id]
    assert trade.status == "open" and not trade.adopted and trade.qty == v.positions_["BTCUSDT"][0]
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}


async def test_entry_partly_filled_and_still_working_is_protected_at_once_and_its_rest_cancelled(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    v.entries_rest = True
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    v.fill_resting(D("0.5"))
    v.trend("BTCUSDT", "5m", 0.0)
    await run_once(tmp_path, v)                         # same venue time: well inside the patience window
    trade = state_of(tmp_path).open_trades[t.trade_id]
    held = v.positions_["BTCUSDT"][0]
    assert trade.status == "open" and trade.qty == held == (t.qty * D("0.5")).quantize(D("0.001"))
    entry = await v.get_order("BTCUSDT", client_order_id=f"mr-{t.trade_id}-EN")
    assert entry.status is OrderStatus.CANCELED and not entry.is_open
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}


async def test_entry_still_new_after_the_patience_window_is_cancelled_and_dropped(tmp_path, monkeypatch):
    v = trending_venue(symbols=("BTCUSDT",))
    v.entries_rest = True
    await run_once(tmp_path, v, ASTER_RECV_WINDOW=5000)
    (t,) = state_of(tmp_path).open_trades.values()
    v.trend("BTCUSDT", "5m", 0.0)
    v.clock += 60_000
    later = Runtime.wall_ms() + 11_000
    monkeypatch.setattr(Runtime, "wall_ms", staticmethod(lambda: later))
    await run_once(tmp_path, v, ASTER_RECV_WINDOW=5000)
    assert not state_of(tmp_path).open_trades and "BTCUSDT" not in v.positions_
    entry = await v.get_order("BTCUSDT", client_order_id=f"mr-{t.trade_id}-EN")
    assert entry.status is OrderStatus.CANCELED
    assert trade_row(tmp_path, t.trade_id)["exit_reason"] == "entry_not_filled"


async def test_an_unresolved_entry_brings_the_next_cycle_forward(tmp_path):
    """With ASTER_LOOP_SLEEP 30 s, a late-executed entry would wait up to 30 s for its stop from the bot;
    while a trade is pending (or a failed close waits) the next cycle comes after 2 s."""
    import asyncio
    import signal
    import time

    from tests.bot.runtime_helpers import make_bot
    v = trending_venue(symbols=("BTCUSDT",))
    v.late_next_entry = True
    bot = make_bot(tmp_path, v, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="30")
    task = asyncio.ensure_future(bot.run())
    try:
        deadline = time.monotonic() + 10
        while bot.cycles_done < 1:
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.02)
        v.process_late()
        t0 = time.monotonic()
        while bot.cycles_done < 2:
            assert time.monotonic() - t0 < 6, "the next cycle waited for the full loop sleep"
            await asyncio.sleep(0.02)
        (t,) = bot.rt.state.open_trades.values()
        assert t.status == "open" and set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET,
                                                                     OrderType.TAKE_PROFIT_MARKET}
    finally:
        bot.request_stop(signal.SIGTERM)
        assert await asyncio.wait_for(task, 10) == 0
