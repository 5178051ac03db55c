"""The momentum engine on the paper exchange: dry mode, IOC entry at the touch, exits (types, working
types, reduceOnly, tick grid), the trailing stop's activation and callback, flat cleanup, cooldown, the
daily schedule on the paper clock, the margin kill-switch and restart adoption."""
from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from mraster.domain.types import OrderStatus, OrderType, Side, TimeInForce, WorkingType
from mraster.safety import killswitch
from paper.testing import PaperExchange

from tests.momentum.rig import Rig, until

SYM = "ETHUSDT"


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("mom-px"), symbols=("BTCUSDT", SYM), seed=4) as ex:
        yield ex


@pytest.fixture
async def rig(px, tmp_path, request):
    r = Rig(px, tmp_path, f"mom-{request.node.name[:40]}")
    yield r
    await r.close()


async def _enter_long(rig: Rig, e, price="2000.00", bid="1999.90", ask="2000.10"):
    await rig.hold_and_see(SYM, price, bid, ask)
    e.forced[SYM] = 1
    decisions = await e.tick()
    assert [d.action for d in decisions] == ["enter"], decisions
    return decisions[0]


async def test_dry_mode_sends_nothing(px, tmp_path):
    rig = Rig(px, tmp_path, "mom-dry", ENABLE_TRADING=False)
    try:
        e = await rig.start()
        await rig.hold_and_see(SYM, "2000.00", "1999.90", "2000.10")
        e.forced[SYM] = 1
        e.forced["BTCUSDT"] = -1
        decisions = await e.tick()
        assert sorted(d.action for d in decisions) == ["dry", "dry"]
        assert await rig.client.open_orders() == [] and await rig.client.positions() == []
        assert await rig.client.user_trades(SYM) == []
        account = px.admin("GET", "/state", account=rig.key)["accounts"].get(rig.key, {})
        assert not account.get("open_orders") and not account.get("positions")
        e.write_status()
        status = json.loads(e.cfg.status_path.read_text())
        assert status["trading"] is False and "dry" in status["symbols"][SYM]["last_action"]
    finally:
        await rig.close()


async def test_forced_signal_enters_ioc_at_the_touch_and_arms_exits(rig):
    e = await rig.start()
    d = await _enter_long(rig, e)
    held = e.states[SYM].held
    entry = await rig.client.get_order(SYM, client_order_id=held.entry_cid)
    assert entry.type is OrderType.LIMIT and entry.time_in_force is TimeInForce.IOC and entry.side is Side.BUY
    assert entry.price == D("2000.10") and entry.status is OrderStatus.FILLED     # BUY at the ask
    assert entry.executed_qty * entry.price >= D("200")                          # notional at least the target
    rules = (await rig.client.symbol_rules())[SYM]
    orders = {o.client_order_id: o for o in await rig.client.open_orders(SYM)}
    assert set(orders) == set(held.exits.values()) and len(orders) == 3
    by_type = {o.type: o for o in orders.values()}
    tp, sl, tr = (by_type[OrderType.TAKE_PROFIT_MARKET], by_type[OrderType.STOP_MARKET],
                  by_type[OrderType.TRAILING_STOP_MARKET])
    assert tp.working_type is WorkingType.CONTRACT_PRICE and sl.working_type is WorkingType.MARK_PRICE
    assert all(o.reduce_only and o.side is Side.SELL and o.orig_qty == entry.executed_qty for o in orders.values())
    for px_ in (tp.stop_price, sl.stop_price, tr.activate_price):
        assert rules.price_problem(px_) is None                                   # on the tick grid
    plan = d.detail["plan"]
    assert tp.stop_price == D(plan["take_profit_price"]) > D("2000.10") > sl.stop_price == D(plan["stop_price"])
    assert tr.activate_price == D(plan["activation_price"]) and tr.price_rate == D("0.1")
    assert plan["activation_bps"] >= plan["be_floor_bps"] + 2                     # the floor with its buffer
    row = rig.journal.trade_row(held.trade_id)
    detail = json.loads(row["detail"])
    assert row["status"] == "open" and detail["context"]["config"]["config_id"].startswith("p-")
    assert detail["context"]["config"]["k"] == 1e6 and detail["context"]["config"]["T"] == 30
    e.forced[SYM] = 1                                                             # no re-entry while open
    again = await e.tick()
    assert [x.action for x in again] == ["skip:position open: no re-entry"]
    assert len(await rig.client.open_orders(SYM)) == 3


async def test_trailing_activation_and_callback_then_flat_cleanup_and_cooldown(rig):
    e = await rig.start()
    await _enter_long(rig, e)
    plan = e.states[SYM].held.plan
    act = D(plan["activation_price"])
    below = (act - D("0.50"))
    rig.hold(SYM, str(below))
    rig.hold(SYM, str((below * D("0.997")).quantize(D("0.01"))))                  # -0.3 % before activation
    assert (await rig.client.positions(SYM))[0].qty > 0                            # not active: nothing fired
    rig.hold(SYM, str(act))                                                       # activation reached
    high = (act * D("1.003")).quantize(D("0.01"))
    rig.hold(SYM, str(high))                                                      # the extreme
    rig.hold(SYM, str((high * D("0.9991")).quantize(D("0.01"), rounding="ROUND_UP")))   # -0.09 %: inside the callback
    assert (await rig.client.positions(SYM))[0].qty > 0
    rig.hold(SYM, str((high * D("0.9989")).quantize(D("0.01"))))                 # -0.11 %: past the callback
    assert await rig.client.positions(SYM) == []
    left = await rig.client.open_orders(SYM)
    assert {o.type for o in left} == {OrderType.TAKE_PROFIT_MARKET, OrderType.STOP_MARKET}   # the siblings
    await rig.hold_and_see(SYM, "2005.00", "2004.90", "2005.10")
    await e.tick()                                                                # the engine sees it flat
    assert await rig.client.open_orders(SYM) == []                                # siblings cancelled
    st = e.states[SYM]
    assert st.held is None and st.last_exit["reason"] == "trailing_stop"
    row = rig.journal.trade_row(st.last_exit["trade_id"])
    assert row["status"] == "closed" and row["exit_reason"] == "trailing_stop" and D(row["realized_pnl"]) > 0
    assert st.cooldown_until_ms - e.now_ms() > 4 * 60_000                          # 5 minutes
    e.forced[SYM] = 1
    assert (await e.tick())[0].action.startswith("skip:cooldown")
    await rig.advance_ms(5 * 60_000 + 2_000)
    await rig.hold_and_see(SYM, "2005.00", "2004.80", "2005.20")
    e.forced[SYM] = -1
    assert [d.action for d in await e.tick()] == ["enter"]                         # cooldown over
    assert e.states[SYM].held.side == -1


async def test_entry_halt_and_force_exit_at_the_utc_times(tmp_path):
    with PaperExchange(tmp_path / "px", symbols=("BTCUSDT", SYM), seed=4) as own:   # its clock is moved
        rig = Rig(own, tmp_path / "w", "mom-halt")
        try:
            await _halt_and_force_exit(rig)
        finally:
            await rig.close()


async def _halt_and_force_exit(rig):
    e = await rig.start()
    await _enter_long(rig, e)
    await rig.advance_to(23 * 60)                                                 # 23:00 UTC, paper clock
    await rig.hold_and_see("BTCUSDT", "60000.0", "59999.9", "60000.1")
    e.forced["BTCUSDT"] = 1
    d = await e.tick()
    assert e.phase == "halted" and [x.action for x in d] == ["skip:entry halt (from 23:00 UTC)"]
    assert e.states[SYM].held is not None and len(await rig.client.positions(SYM)) == 1   # kept until 23:50
    await rig.advance_to(23 * 60 + 50)
    await e.tick()
    assert e.phase == "force_exit"
    await until("the position closed", lambda: e.states[SYM].held is None, 5)
    assert await rig.client.positions(SYM) == [] and await rig.client.open_orders(SYM) == []
    assert e.states[SYM].last_exit["reason"] == "force_exit"
    e.forced["BTCUSDT"] = 1
    assert [x.action for x in await e.tick()] == ["skip:force-exit window (from 23:50 UTC)"]


async def test_margin_kill_switch_latches_and_closes(px, tmp_path):
    rig = Rig(px, tmp_path, "mom-kill", SAFETY_MULTIPLE=100.0)
    try:
        e = await rig.start()
        await _enter_long(rig, e)
        px.admin("POST", "/balance", api_key=rig.key, balance="40")     # margin balance / maint margin < 100
        await e.tick()
        assert e.kill.get("fired") and e.kill["safety_multiple"] <= 100
        latch = killswitch.read_latch(killswitch.latch_path(rig.settings))
        assert latch.latched and latch.fired_by == "momentum:mom1"
        await until("flat after the kill-switch", lambda: e.states[SYM].held is None, 5)
        assert await rig.client.positions() == [] and await rig.client.open_orders() == []
        assert e.states[SYM].last_exit["reason"] == "kill_switch"
        e.forced["BTCUSDT"] = 1
        d = await e.tick()
        assert d[0].action.startswith("skip:kill-switch latched")
    finally:
        await rig.close()


async def test_restart_adopts_the_position_and_its_exits(rig):
    e = await rig.start()
    await _enter_long(rig, e)
    held = e.states[SYM].held
    exits = dict(held.exits)
    b = rig.new_engine()                                            # a restart: same state file, fresh process state
    await b.start()
    assert b.states[SYM].held.trade_id == held.trade_id and b.states[SYM].held.exits == exits
    b.forced[SYM] = 1
    assert [x.action for x in await b.tick()] == ["skip:position open: no re-entry"]
    assert {o.client_order_id for o in await rig.client.open_orders(SYM)} == set(exits.values())
    # the state file lost: the position is found by the exits this instance owns, and adopted
    b.cfg.state_path.unlink()
    c = rig.new_engine()
    await c.start()
    assert c.states[SYM].held is not None and c.states[SYM].held.adopted
    assert c.states[SYM].held.exits == exits
    c.forced[SYM] = -1
    assert [x.action for x in await c.tick()] == ["skip:position open: no re-entry"]
    assert len(await rig.client.open_orders(SYM)) == 3 and len(await rig.client.positions(SYM)) == 1
    # another instance never adopts it
    other = rig.new_engine("mom2")
    await other.start()
    assert other.states[SYM].held is None
    other.forced[SYM] = 1
    assert (await other.tick())[0].action == "skip:the venue shows a position on this symbol not entered by this engine"


async def test_exits_rearmed_once_after_a_venue_cancel_and_never_doubled_after_a_lost_answer(rig):
    from mraster.exchange.errors import ExecutionUnknownError
    e = await rig.start()
    e.trading.exits_check_ms = 0                      # every tick compares the exits (ticks here are ms apart)
    await _enter_long(rig, e)
    held = e.states[SYM].held
    old_sl = held.exits["SL"]
    rig.px.admin("POST", "/orders/cancel", api_key=rig.key, symbol=SYM, origClientOrderId=old_sl)   # venue ends it
    real = rig.client.place_order
    lost = []

    async def answer_lost(req):                       # the order reaches the venue, its answer does not
        order = await real(req)
        lost.append(order.client_order_id)
        raise ExecutionUnknownError("timeout after send")
    rig.client.place_order = answer_lost
    await e.tick()
    rig.client.place_order = real
    await e.tick()
    await e.tick()
    stops = [o for o in await rig.client.open_orders(SYM) if o.type is OrderType.STOP_MARKET]
    assert len(stops) == 1 and stops[0].client_order_id == lost[0] != old_sl        # one stop, the new id
    assert e.states[SYM].held.exits["SL"] == lost[0] and len(await rig.client.open_orders(SYM)) == 3


async def test_an_entry_whose_answer_was_lost_is_resolved_at_restart_and_protected(rig):
    """The IOC fills, its answer is lost and the venue cannot be asked (the process then dies): the entry is
    in flight in the state file, no second entry goes out, and the restart finds the fill and arms the exits."""
    from mraster.exchange.errors import ExecutionUnknownError
    e = await rig.start()
    await rig.hold_and_see(SYM, "2000.00", "1999.90", "2000.10")
    real_place, real_get = rig.client.place_order, rig.client.get_order

    async def lost(req):
        await real_place(req)
        raise ExecutionUnknownError("connection reset after send")

    async def unreachable(*a, **k):
        raise ExecutionUnknownError("venue unreachable")
    rig.client.place_order, rig.client.get_order = lost, unreachable
    e.forced[SYM] = 1
    d = await e.tick()
    assert d[0].action.startswith("error:") and e.states[SYM].pending_entry is not None
    e.forced[SYM] = 1
    assert (await e.tick())[0].action == "skip:position open: no re-entry"        # in flight blocks a second
    rig.client.place_order, rig.client.get_order = real_place, real_get
    b = rig.new_engine()                                                         # the restart
    await b.start()
    held = b.states[SYM].held
    assert held is not None and b.states[SYM].pending_entry is None and not held.adopted
    await b.tick()                                                               # exits armed at the first tick
    types = sorted(o.type.value for o in await rig.client.open_orders(SYM))
    assert types == ["STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]
    assert len(await rig.client.user_trades(SYM)) >= 1 and len(await rig.client.positions(SYM)) == 1


async def test_a_hedge_mode_account_is_refused_before_any_order(px, tmp_path):
    rig = Rig(px, tmp_path, "mom-hedge")
    try:
        await rig.client.set_position_mode(True)
        await rig.cache.start()
        with pytest.raises(ValueError, match="hedge"):
            await rig.new_engine().start()
        assert await rig.client.open_orders() == []
    finally:
        await rig.close()


async def test_a_failed_sibling_cancel_is_retried_and_blocks_the_next_entry_until_done(px, tmp_path):
    """The trial found it: a sibling stop whose cancel failed (HTTP 500) stayed beside the next position's
    new stop. Now it is kept as a leftover, retried every tick, and the symbol takes no entry until it is gone."""
    from mraster.exchange.errors import RetryableError
    rig = Rig(px, tmp_path, "mom-leftover", COOLDOWN_MIN=0)
    try:
        e = await rig.start()
        await _enter_long(rig, e)
        real_cancel = rig.client.cancel_order

        async def failing(*a, **k):
            raise RetryableError("-1001 internal error")
        rig.client.cancel_order = failing
        pos = e.held_position(await rig.client.positions(SYM), SYM)
        await e.trading.close(pos, "test")
        st = e.states[SYM]
        assert st.held is None and len(st.leftovers) == 3 and len(await rig.client.open_orders(SYM)) == 3
        e.forced[SYM] = -1
        assert (await e.tick())[0].action.startswith("skip:exits of the last position not cancelled yet")
        rig.client.cancel_order = real_cancel
        await e.tick()                                            # retried: gone
        assert st.leftovers == [] and await rig.client.open_orders(SYM) == []
        e.forced[SYM] = -1
        assert [d.action for d in await e.tick()] == ["enter"]
        assert len([o for o in await rig.client.open_orders(SYM) if o.type is OrderType.STOP_MARKET]) == 1
    finally:
        await rig.close()


async def test_entries_pass_the_accounts_risk_gate(px, tmp_path):
    """The kernel's risk gate (mraster/safety/gate.py) is asked in the entry path: with a cap of one position
    on the account the second symbol is refused and nothing is sent for it."""
    from mraster.safety.gate import RiskGate
    rig = Rig(px, tmp_path, "mom-gate", env={"ASTER_ACCOUNT_MAX_POSITIONS": "1"})
    try:
        await rig.cache.start()
        e = rig.new_engine(gate=RiskGate(rig.settings, rig.client))
        await e.start()
        for s in rig.symbols:
            await until(f"a quote of {s}", lambda s=s: rig.cache.snapshot(s).latest_bbo is not None)
        await _enter_long(rig, e)
        status = json.loads(e.cfg.status_path.read_text())
        assert status["positions"] == [{"account": "main", "symbol": SYM, "position_side": "BOTH"}]   # the claim
        await rig.hold_and_see("BTCUSDT", "60000.0", "59999.9", "60000.1")
        e.forced["BTCUSDT"] = 1
        d = await e.tick()
        assert d[0].action.startswith("skip:gate account_positions")
        assert await rig.client.open_orders("BTCUSDT") == [] and len(await rig.client.positions()) == 1
    finally:
        await rig.close()
