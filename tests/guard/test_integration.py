"""The guard as a real child process against the real paper exchange, driven through its admin API.

Every test measures, by polling the venue, the longest time any position went without a stop, and
holds it under two seconds (the issue's bound), with the guard running.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

from mraster.domain.ids import Role, client_order_id, parse_client_order_id, stamp_of, trade_id_for_adopted
from mraster.domain.types import OrderType, PositionSide, Side, TimeInForce, WorkingType

from tests.guard.polling import until
from tests.guard.integration import GAP_LIMIT_S, bot_entry, settled_brackets, venue_fixture
from tests.guard.venue import ProtectionWatch, is_flat, open_order_rows, write_bot_state

D = Decimal
SYM = "BTCUSDT"


px = venue_fixture("venue")


async def test_stop_cancelled_and_take_profit_expired_by_the_venue_are_restored(px, account, guards):
    g = await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        trade_id, pos, stop, take = await bot_entry(account, guards.state_path)
        await settled_brackets(watch, SYM)
        (sl,), (tp,) = watch.stops(SYM), watch.take_profits(SYM)
        assert (sl.client_order_id, sl.stop_price, sl.close_position) == (client_order_id(trade_id, Role.STOP), stop,
                                                                          True)
        assert (tp.client_order_id, tp.stop_price) == (client_order_id(trade_id, Role.TAKE_PROFIT), take)
        assert sl.working_type is WorkingType.MARK_PRICE
        await account.cancel_as_venue(sl)
        await until(lambda: [o.order_id for o in watch.stops(SYM)] not in ([], [sl.order_id]), 5, "a new stop")
        await account.cancel_as_venue(tp, status="EXPIRED")
        await until(lambda: [o.order_id for o in watch.take_profits(SYM)] not in ([], [tp.order_id]), 5, "a new TP")
        await settled_brackets(watch, SYM)
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s
    restored = watch.stops(SYM)[0].client_order_id      # the trade's stop, under an id the cancelled one did not carry
    assert parse_client_order_id(restored) == (trade_id, Role.STOP) and stamp_of(restored)
    events = [e["event"] for e in g.log_events() if e.get("activity")]
    assert events.count("bracket.placed") >= 2
    assert g.stop() == 0                                   # SIGTERM: clean exit
    status = g.status()
    assert status["positions"][0]["protected"] and status["repairs_total"] >= 2


async def test_duplicate_stops_leave_one(px, account, guards):
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        trade_id, pos, stop, _ = await bot_entry(account, guards.state_path)
        await settled_brackets(watch, SYM)
        for cid in ("manual-stop-1", client_order_id("BTCUSDT.old1", Role.STOP)):
            await account.place(symbol=SYM, side=Side.SELL, type=OrderType.STOP_MARKET, client_order_id=cid,
                                stop_price=stop - 10, close_position=True, working_type=WorkingType.MARK_PRICE)
        await settled_brackets(watch, SYM)
    assert [o.client_order_id for o in watch.stops(SYM)] == [client_order_id(trade_id, Role.STOP)]
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s


async def test_partial_entry_fill_gets_quantities_fixed(px, account, guards):
    mark = (await account.ex.mark_price(SYM)).mark_price
    rules = (await account.ex.symbol_rules())[SYM]
    below = rules.round_price(D(str(mark)) * D("0.97"), "down")
    entry = await account.place(symbol=SYM, side=Side.BUY, type=OrderType.LIMIT, price=below,
                                time_in_force=TimeInForce.GTC, quantity=D("0.03"),
                                client_order_id=client_order_id("BTCUSDT.part1", Role.ENTRY))
    await account.fill_part(entry, "0.01")
    stop_level, tp_level = rules.round_price(below * D("0.98"), "down"), rules.round_price(below * D("1.05"))
    old = []
    for role, kind, level in ((Role.STOP, OrderType.STOP_MARKET, stop_level),
                              (Role.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET, tp_level)):
        old.append(await account.place(symbol=SYM, side=Side.SELL, type=kind, stop_price=level, quantity=D("0.01"),
                                       reduce_only=True, working_type=WorkingType.MARK_PRICE,
                                       client_order_id=client_order_id("BTCUSDT.part1", role)))
    write_bot_state(guards.state_path, "BTCUSDT.part1", SYM, "LONG", entry=below, qty=D("0.01"),
                    stop=stop_level, take_profit=tp_level)     # a bot placing reduce-only brackets, then dead
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        assert {o.order_id for o in watch.stops(SYM) + watch.take_profits(SYM)} == {o.order_id for o in old}
        await account.fill_part(entry, "0.01")                   # the entry fills further: 0.02
        await until(lambda: watch.amount(SYM) == D("0.02") and _fixed(watch, D("0.02")), 5, "quantities fixed")
        await settled_brackets(watch, SYM)
        assert any(o.client_order_id == entry.client_order_id for o in watch.of(SYM)), "the entry was cancelled"
    assert _fixed(watch, D("0.02"))
    assert {o.client_order_id[-2:] for o in watch.stops(SYM) + watch.take_profits(SYM)} == {"SX", "TX"}
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s


def _fixed(watch, qty) -> bool:
    exits = watch.stops(SYM) + watch.take_profits(SYM)
    return bool(exits) and all(o.close_position or o.remaining_qty == qty for o in exits)


async def test_partial_close_gets_reduce_only_quantities_fixed_before_the_old_ones_go(px, account, guards):
    sym = "ETHUSDT"
    trade_id, pos, stop, take = await bot_entry(account, guards.state_path, symbol=sym, qty="0.4")
    old = {}
    for role, kind, level in ((Role.STOP, OrderType.STOP_MARKET, stop), (Role.TAKE_PROFIT,
                                                                        OrderType.TAKE_PROFIT_MARKET, take)):
        old[role] = await account.place(symbol=sym, side=Side.SELL, type=kind, stop_price=level, quantity=D("0.4"),
                                        reduce_only=True, working_type=WorkingType.MARK_PRICE,
                                        client_order_id=client_order_id(trade_id, role))  # a reduce-only bot
    g = await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        assert {o.order_id for o in watch.of(sym)} == {o.order_id for o in old.values()}    # valid: untouched
        await account.place(symbol=sym, side=Side.SELL, type=OrderType.MARKET, quantity=D("0.1"),
                            reduce_only=True, client_order_id="manual-close-part")
        await until(lambda: not {o.order_id for o in watch.of(sym)} & {o.order_id for o in old.values()}, 5,
                    "the wrong-quantity exits replaced")
        await settled_brackets(watch, sym)
        (sl,), (tp,) = watch.stops(sym), watch.take_profits(sym)
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s
    assert (sl.client_order_id, sl.close_position, sl.stop_price) == (client_order_id(trade_id, Role.STOP_ALT),
                                                                      True, stop)
    assert (tp.client_order_id, tp.close_position) == (client_order_id(trade_id, Role.TAKE_PROFIT_ALT), True)
    repaired = [e for e in g.log_events() if e["event"] == "bracket.repaired"]
    assert len(repaired) == 2 and all("quantity 0.4 for a position of 0.3" in e["msg"] for e in repaired)


async def test_bot_killed_after_its_entry_fill_before_brackets_is_protected_within_two_seconds(px, account,
                                                                                                   guards):
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        trade_id, pos, stop, take = await bot_entry(account, guards.state_path, side=Side.SELL, qty="0.02")
        await settled_brackets(watch, SYM)
        (sl,), (tp,) = watch.stops(SYM), watch.take_profits(SYM)
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s
    assert (sl.side, sl.stop_price, sl.client_order_id) == (Side.BUY, stop, client_order_id(trade_id, Role.STOP))
    assert (tp.side, tp.stop_price) == (Side.BUY, take)


async def test_position_whose_stop_is_already_crossed_is_closed_at_market(px, account, guards):
    trade_id, pos, stop, _ = await bot_entry(account, guards.state_path)      # bot dead, guard not running
    await account.set_price(SYM, stop - 50)
    try:
        g = await guards.start()
        await until(lambda: _flat(account), 5, "the position closed")
        closed = [e for e in g.log_events() if e["event"] == "position.closed"]
        assert closed and "already crossed" in closed[0]["msg"] and closed[0]["level"] == "WARNING"
        await until(lambda: not _venue_orders(account), 5, "no leftover orders")
    finally:
        await account.release_price(SYM)


def _flat(account) -> bool:
    return is_flat(account.px, account.key)


def _venue_orders(account) -> list:
    return open_order_rows(account.px, account.key)


async def test_flat_symbol_leftover_exits_are_cancelled_and_entries_kept(px, account, guards):
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        trade_id, pos, stop, take = await bot_entry(account, guards.state_path, symbol="ETHUSDT", qty="0.2")
        await settled_brackets(watch, "ETHUSDT")
        mark = D(str((await account.ex.mark_price("ETHUSDT")).mark_price))
        resting = await account.place(symbol="ETHUSDT", side=Side.BUY, type=OrderType.LIMIT, quantity=D("0.1"),
                                      price=(mark * D("0.9")).quantize(D("0.01")), time_in_force=TimeInForce.GTC,
                                      client_order_id="user-limit-entry")
        await account.place(symbol="ETHUSDT", side=Side.SELL, type=OrderType.MARKET, quantity=D("0.2"),
                            reduce_only=True, client_order_id="manual-full-close")
        await until(lambda: [o.client_order_id for o in watch.of("ETHUSDT")] == [resting.client_order_id], 5,
                    "only the resting entry left")
        await watch.sampled(8)
        assert [o.client_order_id for o in watch.of("ETHUSDT")] == [resting.client_order_id]


async def test_two_guards_and_a_bot_acting_at_once_never_double(px, account, guards):
    await guards.start()
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        trade_id, pos, stop, take = await bot_entry(account, guards.state_path)
        try:             # the bot places its own brackets too, racing both guards with the same ids
            for role, kind, level in ((Role.STOP, OrderType.STOP_MARKET, stop),
                                      (Role.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET, take)):
                await account.place(symbol=SYM, side=Side.SELL, type=kind, stop_price=level, close_position=True,
                                    working_type=WorkingType.MARK_PRICE,
                                    client_order_id=client_order_id(trade_id, role))
        except Exception:    # noqa: BLE001 - a guard was first: the id rests already, which is the point
            pass
        await settled_brackets(watch, SYM)
        for _ in range(3):
            (sl,) = watch.stops(SYM)
            await account.cancel_as_venue(sl)
            await until(lambda: len(watch.stops(SYM)) == 1 and watch.stops(SYM)[0].order_id != sl.order_id, 5,
                        "the stop restored")
            await settled_brackets(watch, SYM)
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s


async def test_kill_switch_flattens_on_the_venues_margin_figures(px, account, guards):
    trade_id, pos, *_ = await bot_entry(account, guards.state_path, qty="0.02")
    acct = (await account.admin("GET", "/state"))["accounts"][account.key]
    ratio = D(acct["margin_balance"]) / D(acct["maint_margin"])
    await account.admin("POST", "/balance", balance=str((D(acct["maint_margin"]) * 50).quantize(D("0.01"))))
    g = await guards.start(env={"ASTER_KILL_SAFETY_MULTIPLE": "80"})
    await until(lambda: _flat(account) and not _venue_orders(account), 10, "flat after the kill-switch")
    status = g.status()
    assert ratio > 80 and status["kill_switch"]["triggered_ms"] and "80" in status["kill_switch"]["reason"]
    kill = [e for e in g.log_events() if e["event"] == "kill_switch"]
    assert kill and kill[0]["level"] == "ERROR" and kill[0]["activity"] is True
    closes = [e for e in kill if (parse_client_order_id(e.get("client_id", "")) or ("", None))[1] is Role.KILL]
    assert closes and parse_client_order_id(closes[0]["client_id"]) == (trade_id, Role.KILL)


async def test_cli_once_protects_and_flatten_closes_everything(px, account, guards):
    pos_trade, pos, stop, _ = await bot_entry(account, guards.state_path, qty="0.01")
    await bot_entry(account, guards.workdir / "other_state.json", symbol="ETHUSDT", side=Side.SELL, qty="0.1")
    once = guards.make()
    assert await asyncio.to_thread(once.run, "--once") == 0
    orders = _venue_orders(account)
    ids = {o["clientOrderId"] for o in orders}
    assert client_order_id(pos_trade, Role.STOP) in ids                                  # levels from the state
    assert client_order_id(trade_id_for_adopted("ETHUSDT"), Role.STOP) in ids            # unknown: computed
    assert await asyncio.to_thread(guards.make().run, "--flatten") == 0
    assert _flat(account) and not _venue_orders(account)


async def test_hedge_mode_positions_are_guarded_side_by_side(px, account, guards):
    await account.ex.set_position_mode(True)
    for side, ps in ((Side.BUY, PositionSide.LONG), (Side.SELL, PositionSide.SHORT)):
        await account.place(symbol=SYM, side=side, type=OrderType.MARKET, quantity=D("0.01"), position_side=ps,
                            client_order_id=f"hedge-entry-{ps.value.lower()}")
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        await until(lambda: len(watch.stops(SYM)) == 2 and len(watch.take_profits(SYM)) == 2, 10, "four exits")
        exits = {(o.position_side, o.side, o.placed_type, o.client_order_id) for o in watch.of(SYM)}
        assert exits == {
            (PositionSide.LONG, Side.SELL, OrderType.STOP_MARKET, "mr-BTCUSDT.gl-SL"),
            (PositionSide.LONG, Side.SELL, OrderType.TAKE_PROFIT_MARKET, "mr-BTCUSDT.gl-TP"),
            (PositionSide.SHORT, Side.BUY, OrderType.STOP_MARKET, "mr-BTCUSDT.gs-SL"),
            (PositionSide.SHORT, Side.BUY, OrderType.TAKE_PROFIT_MARKET, "mr-BTCUSDT.gs-TP")}
        short_stop = next(o for o in watch.stops(SYM) if o.position_side is PositionSide.SHORT)
        await account.cancel_as_venue(short_stop)
        await until(lambda: len(watch.stops(SYM)) == 2 and short_stop.order_id not in
                    {o.order_id for o in watch.stops(SYM)}, 5, "the short's stop restored")
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s
    assert all(not o.reduce_only or o.close_position for o in watch.of(SYM))


async def test_trailing_stop_chosen_by_the_strategy_is_kept_in_place_of_the_take_profit(px, account, guards):
    trade_id, pos, stop, take = await bot_entry(account, guards.state_path, symbol="ETHUSDT", qty="0.2")
    rules = (await account.ex.symbol_rules())["ETHUSDT"]
    activation = rules.round_price(pos.entry_price * D("1.01"))
    write_bot_state(guards.state_path, trade_id, "ETHUSDT", "LONG", entry=pos.entry_price, qty=pos.qty, stop=stop,
                    take_profit=take, trailing_callback=D("0.8"), trailing_activation=activation)
    await guards.start()
    async with ProtectionWatch(px, account.key) as watch:
        def trailing():
            return [o for o in watch.of("ETHUSDT") if o.placed_type is OrderType.TRAILING_STOP_MARKET]
        await until(lambda: len(watch.stops("ETHUSDT")) == 1 and len(trailing()) == 1, 10,
                    "a stop and a trailing stop")
        await watch.sampled(8)
        assert len(trailing()) == 1 and len(watch.stops("ETHUSDT")) == 1 and not watch.take_profits("ETHUSDT")
        (ts,) = trailing()
        assert (ts.client_order_id, ts.price_rate, ts.activate_price, ts.orig_qty, ts.reduce_only) == (
            client_order_id(trade_id, Role.TRAILING), D("0.8"), activation, D("0.2"), True)
        await account.cancel_as_venue(ts)
        await until(lambda: any(o.placed_type is OrderType.TRAILING_STOP_MARKET and o.order_id != ts.order_id
                                for o in watch.of("ETHUSDT")), 5, "the trailing stop restored")
    assert watch.worst < GAP_LIMIT_S, watch.max_gap_s
