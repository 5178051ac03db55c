"""The runtime on an in-memory venue: entry sequence, brackets, stop failure, reconciliation cases,
FastTP action and cooldown, corrupt state, settings reload. (End-to-end against the real paper
exchange: test_paper_e2e.py.)"""
from __future__ import annotations

import asyncio
import json
import signal
from decimal import Decimal as D

import pytest

from mraster.domain.brackets import bracket_prices
from mraster.domain.types import OrderType, Side
from mraster.journal import Journal

from tests.bot.fakevenue import FakeVenue
from tests.bot.runtime_helpers import make_bot, run_once, set_config, state_of


def pending_policy_trades(tmp_path) -> set[str]:
    import ml_policy
    from ml_policy import BanditPolicy, PolicyConfig
    policy, _ = BanditPolicy.load_or_create(ml_policy.policy_path_for(str(tmp_path / "aster_state.json")),
                                            PolicyConfig())
    return policy.pending_trade_ids()


def trending_venue(**kw) -> FakeVenue:
    v = FakeVenue(**kw)
    for s in v.price:
        v.trend(s, "5m", 0.001)
        v.trend(s, "30m", 0.002)
    return v


def resting(v: FakeVenue, symbol: str):
    return {o.type: o for o in v.orders.values() if o.symbol == symbol and o.is_open}


async def test_entry_places_brackets_from_the_fill_and_state_matches_the_venue(tmp_path):
    v = trending_venue()
    bot = await run_once(tmp_path, v)
    st = state_of(tmp_path)
    assert len(st.open_trades) == 2 and len(v.positions_) == 2
    for t in st.open_trades.values():
        amount, entry = v.positions_[t.symbol]
        assert t.status == "open" and t.side == "LONG" and t.qty == amount == t.entry_qty and t.entry_price == entry
        levels = bracket_prices(entry, Side.BUY, t.atr, 1.3, 2.0, v.rules[t.symbol])
        assert (t.stop_price, t.take_profit_price) == (levels.stop, levels.take_profit)
        orders = resting(v, t.symbol)
        assert orders[OrderType.STOP_MARKET].stop_price == t.stop_price
        assert orders[OrderType.TAKE_PROFIT_MARKET].stop_price == t.take_profit_price
        assert all(o.close_position and o.side is Side.SELL for o in orders.values())
        assert orders[OrderType.STOP_MARKET].client_order_id == f"mr-{t.trade_id}-SL"
        assert t.fees > 0 and t.bucket == "BASE" and t.size_mult == 1.0 and t.decision["edge_source"] == "heuristic"
        # leverage and margin type were set before the symbol's first order
        first_order = next(i for i, c in enumerate(v.calls) if c.startswith("place") and t.symbol in c)
        assert v.calls.index(f"leverage {t.symbol} 3") < first_order
        assert st.symbol_setup[t.symbol] == {"leverage": 3, "margin_type": "ISOLATED"}
    j = Journal(tmp_path / "aster_journal.sqlite")
    tid = next(iter(st.open_trades))
    assert [(o["role"], o["status"]) for o in j.orders_for(tid)] == [("EN", "FILLED"), ("SL", "NEW"), ("TP", "NEW")]
    assert j.fill_totals(tid)["count"] == 1
    j.close()
    scan = st.last_scan
    assert scan["summary"]["entries"] == 2 and set(scan["symbols"]) == set(v.price)
    assert st.heartbeat_ms == v.clock and st.heartbeat_wall_ms > 0 and st.equity["wallet"]
    assert bot.cycles_done == 1


async def test_stop_that_cannot_be_placed_closes_the_position_at_once(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    v.reject_stops = True
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    assert v.positions_["BTCUSDT"][0] == 0                       # flat again
    assert not st.open_trades
    (t,) = st.closed_trades
    assert t.exit_reason == "closed" and "stop" in t.exit_detail and "mr-" in t.exit_detail
    assert not [o for o in v.orders.values() if o.is_open]
    assert pending_policy_trades(tmp_path) == set()          # the policy was credited, not left waiting


@pytest.mark.parametrize("scenario,reason", [("stop", "stop"), ("take_profit", "take_profit"),
                                             ("liquidation", "liquidation")])
async def test_trade_closed_while_the_bot_was_down(tmp_path, scenario, reason):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    v.clock += 600_000
    v.pay_funding("BTCUSDT", "-0.05")
    if scenario == "stop":
        v.move("BTCUSDT", float(t.stop_price) - 0.01)
    elif scenario == "take_profit":
        v.move("BTCUSDT", float(t.take_profit_price) + 0.01)
    else:
        v.liquidate("BTCUSDT", float(t.stop_price) + 0.01)
    v.trend("BTCUSDT", "5m", 0.0)            # no new signal: only the reconciliation acts
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    closed = {c.trade_id: c for c in st.closed_trades}[t.trade_id]
    assert closed.exit_reason == reason and closed.status == "closed" and closed.qty == 0
    assert closed.funding == D("-0.05") and closed.fees > 0
    expected_r = float((closed.realized_pnl - closed.fees + closed.funding) / (closed.risk_per_unit * closed.entry_qty))
    assert closed.r_multiple == pytest.approx(expected_r)
    if reason == "stop":
        assert -1.5 < closed.r_multiple < -1.0             # one R plus slippage and two fees
    if reason == "take_profit":
        assert 1.1 < closed.r_multiple < 2.0 / 1.3
    j = Journal(tmp_path / "aster_journal.sqlite")
    row = j.trade_row(t.trade_id)
    assert row["status"] == "closed" and row["exit_reason"] == reason and j.funding_total(t.trade_id) == D("-0.05")
    j.close()


async def test_unknown_position_is_adopted_and_protected_and_never_doubled(tmp_path):
    v = trending_venue(symbols=("BTCUSDT", "ETHUSDT"))
    v.open_manual("ETHUSDT", Side.SELL, "0.5")
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    (adopted,) = [t for t in st.open_trades.values() if t.adopted]
    assert adopted.trade_id.startswith("ETHUSDT.gb")
    assert adopted.adopted and adopted.side == "SHORT" and adopted.qty == D("0.5")
    orders = resting(v, "ETHUSDT")
    assert orders[OrderType.STOP_MARKET].stop_price == adopted.stop_price > adopted.entry_price
    assert orders[OrderType.TAKE_PROFIT_MARKET].stop_price == adopted.take_profit_price < adopted.entry_price
    assert v.positions_["ETHUSDT"][0] == D("-0.5")               # no second entry on ETHUSDT
    assert st.last_scan["symbols"]["ETHUSDT"]["reason"] == "position_open"
    assert "BTCUSDT" in {t.symbol for t in st.open_trades.values()}


async def test_lost_entry_answer_is_resolved_by_client_id(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    v.lose_next_entry = True
    await run_once(tmp_path, v)
    (t,) = state_of(tmp_path).open_trades.values()
    assert t.status == "pending" and v.positions_["BTCUSDT"][0] > 0
    v.clock += 20_000
    await run_once(tmp_path, v)
    t2 = state_of(tmp_path).open_trades[t.trade_id]
    assert t2.status == "open" and t2.stop_price is not None
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}


async def test_fasttp_pull_in_mode_moves_the_take_profit_once_per_cooldown_across_restarts(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v, FASTTP_MODE="pull_in")
    (t,) = state_of(tmp_path).open_trades.values()
    v.clock += 300_000
    v.move("BTCUSDT", float(t.entry_price + t.risk_per_unit * D("0.6")))    # +0.6 R
    v.trend("BTCUSDT", "5m", -0.002)                                         # last bars turn down
    await run_once(tmp_path, v, FASTTP_MODE="pull_in")
    t1 = state_of(tmp_path).open_trades[t.trade_id]
    assert t1.fasttp_count == 1 and t1.take_profit_price < t.take_profit_price
    tp = resting(v, "BTCUSDT")[OrderType.TAKE_PROFIT_MARKET]
    assert tp.stop_price == t1.take_profit_price and tp.client_order_id.endswith("-TX")
    assert t1.client_ids["TP"] == tp.client_order_id
    assert len([o for o in v.orders.values() if o.is_open]) == 2           # old take-profit cancelled
    cooldown = state_of(tmp_path).fasttp_cooldowns["BTCUSDT"]
    v.clock += 10_000                              # within 45 s: it would fire again, but a restart keeps the cooldown
    v.move("BTCUSDT", float(v.price["BTCUSDT"]) - 0.02)
    await run_once(tmp_path, v, FASTTP_MODE="pull_in")
    assert state_of(tmp_path).open_trades[t.trade_id].fasttp_count == 1
    assert state_of(tmp_path).fasttp_cooldowns["BTCUSDT"] == cooldown
    v.clock += 40_000                                                        # cooldown over
    v.move("BTCUSDT", float(v.price["BTCUSDT"]) - 0.02)
    await run_once(tmp_path, v, FASTTP_MODE="pull_in")
    t3 = state_of(tmp_path).open_trades[t.trade_id]
    assert t3.fasttp_count == 2 and resting(v, "BTCUSDT")[OrderType.TAKE_PROFIT_MARKET].client_order_id.endswith("-TP")


async def test_corrupt_state_is_quarantined_and_rebuilt_from_the_venue(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    await run_once(tmp_path, v)
    (tmp_path / "aster_state.json").write_text("{not json")
    await run_once(tmp_path, v)
    st = state_of(tmp_path)
    (tid,) = st.open_trades
    assert tid.startswith("BTCUSDT.gb") and st.open_trades[tid].adopted
    assert any("unreadable" in n["msg"] for n in st.notices)
    assert list(tmp_path.glob("aster_state.json.corrupt-*"))
    assert len([o for o in v.orders.values() if o.is_open]) == 2             # existing brackets kept, not doubled


async def test_live_settings_apply_and_restart_settings_are_listed(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    bot = make_bot(tmp_path, v, ASTER_RUN_ONCE="false")
    bot.rt = bot._build()
    set_config(tmp_path, ASTER_MIN_EDGE_R=0.5, ASTER_LOGLEVEL="DEBUG")
    bot.reload_settings()
    assert bot.rt.settings.min_edge_r == 0.5 and bot.rt.state.pending_restart == []
    set_config(tmp_path, ASTER_MIN_EDGE_R=0.5, ASTER_PAPER_SEED=5)
    bot.reload_settings()
    assert bot.rt.state.pending_restart == ["ASTER_PAPER_SEED"] and bot.rt.settings.paper_seed == 42
    assert any("ASTER_PAPER_SEED" in n["msg"] for n in bot.rt.state.notices)
    (tmp_path / "dashboard_config.json").write_text(json.dumps({"ASTER_LEVERAGE": 999}))
    bot.reload_settings()                                                    # invalid: the running values stay
    assert bot.rt.settings.leverage == 3 and bot.rt.settings.min_edge_r == 0.5
    bot.rt.journal.close()


async def test_policy_decides_learns_and_logs_events(tmp_path):
    v = trending_venue(symbols=("BTCUSDT", "ETHUSDT"))
    await run_once(tmp_path, v, ASTER_BANDIT_ENABLED="true")
    st = state_of(tmp_path)
    assert (tmp_path / "aster_policy.json").exists() or list(tmp_path.glob("aster_policy*"))
    scan = st.last_scan["symbols"]
    assert all(rec["arm"] in ("SKIP", "S", "M", "L") and rec["scores"] for rec in scan.values())
    j = Journal(tmp_path / "aster_journal.sqlite")
    events = j.conn.execute("SELECT event_id, arm, reward FROM policy_events").fetchall()
    assert len(events) == 2
    for t in st.open_trades.values():
        assert t.decision["scores"] and (t.trade_id, t.bucket, None) in events
    skipped = [e for e in events if e[1] == "SKIP"]
    assert all(e[2] == 0.0 for e in skipped) and len(skipped) + len(st.open_trades) == 2
    v.clock += 600_000
    for t in st.open_trades.values():
        v.move(t.symbol, float(t.stop_price) - 0.01)
        v.trend(t.symbol, "5m", 0.0)
    await run_once(tmp_path, v, ASTER_BANDIT_ENABLED="true")
    rewards = dict(j.conn.execute("SELECT event_id, reward FROM policy_events WHERE arm != 'SKIP'").fetchall())
    for t in st.open_trades.values():
        assert rewards[t.trade_id] is not None and rewards[t.trade_id] < 0
    j.close()
    assert pending_policy_trades(tmp_path) == set()          # every closed trade was credited


async def _until(cond, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_first_signal_finishes_the_cycle_and_exits_0(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    reached, release = v.hold("klines")
    bot = make_bot(tmp_path, v, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="3600")
    task = asyncio.ensure_future(bot.run())
    await asyncio.wait_for(reached.wait(), 10)            # mid-cycle: candles being fetched
    bot.request_stop(signal.SIGTERM)
    assert bot.stop_requested and not task.done()
    release.set()
    assert await asyncio.wait_for(task, 10) == 0
    st = state_of(tmp_path)
    assert bot.cycles_done == 1 and st.cycle == 1 and st.last_scan["cycle"] == 1
    assert not st.open_trades                              # no new entry once the signal arrived
    assert st.last_scan["symbols"]["BTCUSDT"]["reason"] == "stopping"


async def test_second_signal_stops_at_once_but_lets_the_entry_get_its_stop(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    reached, release = v.hold("place STOP_MARKET")
    bot = make_bot(tmp_path, v, ASTER_RUN_ONCE="false", ASTER_LOOP_SLEEP="3600")
    task = asyncio.ensure_future(bot.run())
    await asyncio.wait_for(reached.wait(), 10)            # entry filled, stop being placed
    bot.request_stop(signal.SIGTERM)
    bot.request_stop(signal.SIGTERM)
    assert bot.hard_stop
    await _until(lambda: task.done() or bot._critical, "the shielded entry")
    release.set()
    assert await asyncio.wait_for(task, 20) == 0
    st = state_of(tmp_path)
    (t,) = st.open_trades.values()
    assert t.status == "open" and v.positions_["BTCUSDT"][0] == t.qty
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
    assert bot.cycles_done == 0                            # the cycle itself was cut short


async def test_partial_entry_fill_gets_brackets_for_the_filled_quantity(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    v.entry_fill_ratio = D("0.4")
    await run_once(tmp_path, v, ASTER_ENTRY_ORDER="LIMIT_IOC")
    (t,) = state_of(tmp_path).open_trades.values()
    assert t.qty == t.entry_qty == v.positions_["BTCUSDT"][0] > 0
    j = Journal(tmp_path / "aster_journal.sqlite")
    asked = D(json.loads(j.orders_for(t.trade_id)[0]["request"])["quantity"])
    j.close()
    assert t.qty == (asked * D("0.4")).quantize(D("0.001")) < asked       # brackets for what filled
    assert set(resting(v, "BTCUSDT")) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}


async def test_limit_ioc_entry_outside_the_band_is_dropped_not_chased(tmp_path):
    v = trending_venue(symbols=("BTCUSDT",))
    reached, release = v.hold("place LIMIT")
    task = asyncio.ensure_future(run_once(tmp_path, v, ASTER_ENTRY_ORDER="LIMIT_IOC", ASTER_ENTRY_BAND="0.002"))
    await asyncio.wait_for(reached.wait(), 10)
    v.price["BTCUSDT"] += D("0.5")                # the market runs 0.5 % away while the entry is in flight
    release.set()
    await asyncio.wait_for(task, 10)
    st = state_of(tmp_path)
    assert not st.open_trades and not v.positions_.get("BTCUSDT", [0])[0]
    assert [c.split()[1] for c in v.calls if c.startswith("place")] == ["LIMIT"]      # one limit entry, no chase
    assert st.last_scan["symbols"]["BTCUSDT"]["reason"] == "entry_not_filled"
    j = Journal(tmp_path / "aster_journal.sqlite")
    (row,) = j.conn.execute("SELECT status, exit_reason FROM trades").fetchall()
    assert row == ("closed", "entry_not_filled")
    j.close()


def test_limit_ioc_price_is_the_touch_plus_the_band_rounded_toward_it():
    from bot.runtime.decide import EntryPlan
    from bot.runtime.trading import entry_request
    from tests.bot.conftest import make_rules
    rules = make_rules(tick="0.1")

    def plan(side, price):
        return EntryPlan("BTCUSDT", side, D(price), 1.0, type("S", (), {"qty": D("0.01")})(), None, None, None,
                         rules, None)
    long_req = entry_request(plan(Side.BUY, "100.00"), "BTCUSDT.k1", "LIMIT_IOC", 0.002)
    assert long_req.price == D("100.2") and long_req.time_in_force.value == "IOC" and long_req.type.value == "LIMIT"
    short_req = entry_request(plan(Side.SELL, "100.05"), "BTCUSDT.k1", "LIMIT_IOC", 0.002)
    assert short_req.price == D("99.9")                             # 99.84990 rounded up to the tick
    market = entry_request(plan(Side.BUY, "100"), "BTCUSDT.k1", "MARKET", 0.002)
    assert market.type.value == "MARKET" and market.price is None and market.client_order_id == "mr-BTCUSDT.k1-EN"
