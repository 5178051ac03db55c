"""The pure planner: every repair case of the rule, one by one, and the ordering that keeps a stop."""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.ids import Role, client_order_id, trade_id_for_adopted
from mraster.domain.types import OrderType, PositionSide, Side, WorkingType
from guard.classify import ExitKind
from guard.planner import ActionKind, Flatten, Intent, Snapshot, plan

from tests.guard.builders import RULES, apply_plan, order, pos

D = Decimal
TRADE = "BTCUSDT.lq3k2x1a"
SL = client_order_id(TRADE, Role.STOP)
SX = client_order_id(TRADE, Role.STOP_ALT)
TP = client_order_id(TRADE, Role.TAKE_PROFIT)
INTENT = {("BTCUSDT", PositionSide.BOTH): Intent(TRADE, stop=D("29000"), take_profit=D("32000"))}


def snap(positions, orders, intents=None, **kw) -> Snapshot:
    return Snapshot(positions=tuple(positions), open_orders=tuple(orders),
                    intents=INTENT if intents is None else intents, rules=RULES, **kw)


def good_brackets(qty_close=True):
    return [order(cid=SL, stop="29000"), order(cid=TP, type=OrderType.TAKE_PROFIT_MARKET, stop="32000")]


def kinds(p):
    return [(a.kind, a.request.type if a.request else None, a.request.client_order_id if a.request else
             a.order.client_order_id if a.order else None) for a in p.actions]


def test_protected_position_needs_nothing():
    p = plan(snap([pos()], good_brackets()))
    assert p.done
    (view,) = p.views
    assert view.protected and view.stop.order.client_order_id == SL and view.take_profit.ok


def test_missing_stop_and_take_profit_are_placed_stop_first_as_close_position():
    p = plan(snap([pos()], []))
    assert kinds(p) == [(ActionKind.PLACE, OrderType.STOP_MARKET, SL),
                        (ActionKind.PLACE, OrderType.TAKE_PROFIT_MARKET, TP)]
    stop, take = (a.request for a in p.actions)
    assert stop.side is Side.SELL and stop.close_position and stop.quantity is None and not stop.reduce_only
    assert stop.stop_price == D("29000") and take.stop_price == D("32000")
    assert stop.working_type is WorkingType.MARK_PRICE
    assert p.actions[0].event == "bracket.placed" and "no stop" in p.actions[0].reason
    assert not p.views[0].protected


def test_stop_cancelled_by_venue_is_restored_with_its_id():
    p = plan(snap([pos()], good_brackets()[1:]))
    assert kinds(p) == [(ActionKind.PLACE, OrderType.STOP_MARKET, SL)]


def test_missing_take_profit_is_restored():
    p = plan(snap([pos()], good_brackets()[:1]))
    assert kinds(p) == [(ActionKind.PLACE, OrderType.TAKE_PROFIT_MARKET, TP)]


def test_short_position_gets_buy_exits_on_the_right_sides():
    intents = {("BTCUSDT", PositionSide.BOTH): Intent(TRADE, stop=D("31000"), take_profit=D("28000"))}
    p = plan(snap([pos(amount="-0.5")], [], intents))
    assert [(a.request.side, a.request.stop_price) for a in p.actions] == [(Side.BUY, D("31000")),
                                                                           (Side.BUY, D("28000"))]


def test_duplicate_stops_keep_ours_for_this_trade_and_cancel_the_rest():
    other_trade = client_order_id("BTCUSDT.lq0000001", Role.STOP)
    orders = [order(cid="manual-1", stop="29000", time=1), order(cid=other_trade, stop="29000", time=2),
              order(cid=SL, stop="29000", time=3), good_brackets()[1]]
    p = plan(snap([pos()], orders))
    assert {a.order.client_order_id for a in p.actions} == {"manual-1", other_trade}
    assert all(a.kind is ActionKind.CANCEL and a.event == "bracket.cancelled" for a in p.actions)
    assert "keeping " + SL in p.actions[0].reason
    assert p.views[0].stop.order.client_order_id == SL


def test_duplicates_prefer_a_valid_order_then_the_primary_id_then_the_intended_price():
    orders = [order(cid=SX, stop="29000", time=1), order(cid=SL, stop="28000", time=2), good_brackets()[1]]
    p = plan(snap([pos()], orders))
    assert [a.order.client_order_id for a in p.actions] == [SL]       # the level the bot intends wins
    orders = [order(cid=SX, stop="29000", time=1), order(cid=SL, stop="29000", time=2), good_brackets()[1]]
    p = plan(snap([pos()], orders))
    assert [a.order.client_order_id for a in p.actions] == [SX]       # same level: the primary id wins
    foreign = [order(cid="a", stop="28500", time=1), order(cid="b", stop="29000", time=2), good_brackets()[1]]
    p = plan(snap([pos()], foreign))
    assert [a.order.client_order_id for a in p.actions] == ["a"]      # nearer the intended 29000 wins
    stale = [order(cid=SL, stop="29000", wt=WorkingType.CONTRACT_PRICE, time=1),
             order(cid=SX, stop="29000", time=2), good_brackets()[1]]
    p = plan(snap([pos()], stale))
    assert [a.order.client_order_id for a in p.actions] == [SL]       # valid SX kept, wrong-type SL goes


def test_wrong_quantity_after_partial_close_is_replaced_before_the_old_stop_is_cancelled():
    old = order(cid=SL, stop="29100", close_position=False, reduce_only=True, qty="0.8")
    p = plan(snap([pos(amount="0.5")], [old, good_brackets()[1]]))
    (a,) = p.actions
    assert a.kind is ActionKind.PLACE and a.event == "bracket.repaired"
    assert a.request.client_order_id == SX and a.request.close_position and a.request.stop_price == D("29100")
    assert a.replaces == (old,) and a.cancel_before == ()
    assert "quantity 0.8 for a position of 0.5" in a.reason


def test_partial_entry_fill_grows_position_and_take_profit_quantity_is_fixed():
    tp = order(cid=TP, type=OrderType.TAKE_PROFIT_MARKET, stop="32000", close_position=False, reduce_only=True,
               qty="0.2")
    p = plan(snap([pos(amount="0.5")], [good_brackets()[0], tp]))
    (a,) = p.actions
    assert a.request.type is OrderType.TAKE_PROFIT_MARKET and a.request.client_order_id.endswith("-TX")
    assert a.replaces == (tp,) and a.request.stop_price == D("32000")


def test_close_position_orders_need_no_quantity_fix():
    assert plan(snap([pos(amount="0.123")], good_brackets())).done


def test_partly_executed_reduce_only_exit_counts_its_remaining_quantity():
    stop = order(cid=SL, close_position=False, reduce_only=True, qty="0.8", executed="0.3")
    assert plan(snap([pos(amount="0.5")], [stop, good_brackets()[1]])).done


def test_wrong_side_after_flip_places_new_exits_then_cancels_old_ones():
    adopted = trade_id_for_adopted("BTCUSDT")
    old_sl = order(cid=client_order_id(adopted, Role.STOP), side=Side.SELL, stop="29000")
    old_tp = order(cid=client_order_id(adopted, Role.TAKE_PROFIT), side=Side.SELL,
                   type=OrderType.TAKE_PROFIT_MARKET, stop="32000")
    intents = {("BTCUSDT", PositionSide.BOTH): Intent(adopted, stop=D("31000"), take_profit=D("28000"),
                                                      source="computed")}
    p = plan(snap([pos(amount="-0.5")], [old_sl, old_tp], intents))
    assert [a.kind for a in p.actions] == [ActionKind.PLACE, ActionKind.PLACE, ActionKind.CANCEL, ActionKind.CANCEL]
    assert [a.request.client_order_id[-2:] for a in p.actions[:2]] == ["SX", "TX"]   # primary ids still held
    assert all(a.request.side is Side.BUY for a in p.actions[:2])
    assert "wrong side" in p.actions[2].reason


def test_flat_symbol_cancels_leftover_exits_but_never_an_entry():
    entry = order(cid=client_order_id(TRADE, Role.ENTRY), side=Side.BUY, type=OrderType.LIMIT, stop="0",
                  close_position=False, qty="0.5")
    breakout = order(cid="user-entry", side=Side.BUY, type=OrderType.STOP_MARKET, stop="31000",
                     close_position=False, qty="0.5")
    leftovers = good_brackets() + [order(cid="fasttp", type=OrderType.LIMIT, close_position=False,
                                         reduce_only=True, qty="0.1")]
    p = plan(snap([], [entry, breakout] + leftovers))
    assert {a.order.client_order_id for a in p.actions} == {SL, TP, "fasttp"}
    assert all(a.kind is ActionKind.CANCEL and "leftover" in a.reason for a in p.actions)


def test_stop_level_already_crossed_closes_at_market_and_places_nothing():
    p = plan(snap([pos(mark="28950")], []))
    (a,) = p.actions
    assert a.kind is ActionKind.CLOSE and a.event == "position.closed"
    r = a.request
    assert r.type is OrderType.MARKET and r.reduce_only and r.side is Side.SELL and r.quantity == D("0.5")
    assert r.client_order_id == client_order_id(TRADE, Role.CLOSE)
    assert "stop level 29000 already crossed" in a.reason


def test_take_profit_already_reached_closes_at_market():
    p = plan(snap([pos(mark="32001")], good_brackets()[:1]))
    assert [a.kind for a in p.actions] == [ActionKind.CLOSE]
    assert "take-profit level 32000 already reached" in p.actions[0].reason


def test_contract_price_working_type_leaves_the_crossing_check_to_the_venue():
    p = plan(snap([pos(mark="28950")], [], working_type=WorkingType.CONTRACT_PRICE))
    assert [a.kind for a in p.actions] == [ActionKind.PLACE, ActionKind.PLACE]
    stop = p.actions[0]
    assert stop.request.working_type is WorkingType.CONTRACT_PRICE
    assert [r.type for r in stop.on_would_trigger] == [OrderType.MARKET]
    assert stop.would_trigger_event == "position.closed"


def test_wrong_working_type_is_repaired():
    wrong = order(cid=SL, stop="29000", wt=WorkingType.CONTRACT_PRICE)
    (a,) = plan(snap([pos()], [wrong, good_brackets()[1]])).actions
    assert a.event == "bracket.repaired" and a.replaces == (wrong,) and "working type" in a.reason


def test_missing_levels_are_asked_for_not_guessed():
    p = plan(snap([pos()], [], intents={}))
    assert p.actions == () and p.needs_levels == {("BTCUSDT", PositionSide.BOTH)}
    assert p.views[0].trade_id == trade_id_for_adopted("BTCUSDT")


def test_existing_brackets_of_an_adopted_position_need_no_levels():
    orders = [order(cid="s"), order(cid="t", type=OrderType.TAKE_PROFIT_MARKET, stop="33000")]
    p = plan(snap([pos()], orders, intents={}))
    assert p.done and not p.needs_levels


def test_levels_off_the_tick_grid_are_rounded_away_for_the_stop_and_toward_entry_for_the_tp():
    intents = {("BTCUSDT", PositionSide.BOTH): Intent(TRADE, stop=D("29000.07"), take_profit=D("32000.09"))}
    p = plan(snap([pos()], [], intents))
    assert [a.request.stop_price for a in p.actions] == [D("29000.0"), D("32000.0")]
    intents = {("BTCUSDT", PositionSide.BOTH): Intent(TRADE, stop=D("31000.01"), take_profit=D("28000.01"))}
    p = plan(snap([pos(amount="-1")], [], intents))
    assert [a.request.stop_price for a in p.actions] == [D("31000.1"), D("28000.1")]


def test_an_exit_like_order_that_is_not_reduce_only_is_not_counted_nor_cancelled():
    plain = order(cid="plain", close_position=False, qty="0.5")
    p = plan(snap([pos()], [plain, good_brackets()[1]]))
    assert kinds(p) == [(ActionKind.PLACE, OrderType.STOP_MARKET, SL)]


def test_partial_exits_and_market_exits_are_left_alone_while_the_position_is_open():
    ft = order(cid=client_order_id(TRADE, Role.FAST_TP), type=OrderType.TAKE_PROFIT_MARKET, stop="31000",
               close_position=False, reduce_only=True, qty="0.2")
    lim = order(cid="manual-limit", type=OrderType.LIMIT, close_position=False, reduce_only=True, qty="0.1")
    assert plan(snap([pos()], good_brackets() + [ft, lim])).done


def test_hedge_mode_exits_belong_to_their_position_side():
    long_t, short_t = "BTCUSDT.aaa", "BTCUSDT.bbb"
    intents = {("BTCUSDT", PositionSide.LONG): Intent(long_t, stop=D("29000"), take_profit=D("32000")),
               ("BTCUSDT", PositionSide.SHORT): Intent(short_t, stop=D("31000"), take_profit=D("28000"))}
    positions = [pos(side=PositionSide.LONG), pos(amount="-0.2", side=PositionSide.SHORT)]
    hedge_sl = order(cid=client_order_id(long_t, Role.STOP), close_position=True, position_side=PositionSide.LONG)
    p = plan(snap(positions, [hedge_sl], intents))
    placed = [a.request for a in p.actions]
    assert [(r.position_side, r.side, r.type) for r in placed] == [
        (PositionSide.SHORT, Side.BUY, OrderType.STOP_MARKET), (PositionSide.LONG, Side.SELL,
                                                               OrderType.TAKE_PROFIT_MARKET),
        (PositionSide.SHORT, Side.BUY, OrderType.TAKE_PROFIT_MARKET)]
    assert not any(r.reduce_only for r in placed)
    orphan = order(cid="orphan", side=Side.BUY, position_side=PositionSide.SHORT, stop="31000")
    p = plan(snap(positions[:1], [orphan], intents))
    assert [a.order.client_order_id for a in p.actions if a.kind is ActionKind.CANCEL] == ["orphan"]


def test_trailing_stop_chosen_by_strategy_replaces_a_take_profit():
    intents = {("BTCUSDT", PositionSide.BOTH): Intent(TRADE, stop=D("29000"), take_profit=D("32000"),
                                                      trailing_callback=D("0.8"), trailing_activation=D("31000"),
                                                      profit_kind=ExitKind.TRAILING)}
    tp = good_brackets()[1]
    (a,) = plan(snap([pos()], [good_brackets()[0], tp], intents)).actions
    r = a.request
    assert r.type is OrderType.TRAILING_STOP_MARKET and r.client_order_id == client_order_id(TRADE, Role.TRAILING)
    assert r.callback_rate == D("0.8") and r.activation_price == D("31000") and r.quantity == D("0.5")
    assert r.reduce_only and a.replaces == (tp,)
    assert [x.activation_price for x in a.on_would_trigger] == [None]
    passed = plan(snap([pos(mark="31500")], [good_brackets()[0]], intents)).actions[0].request
    assert passed.activation_price is None


def test_flatten_cancels_everything_then_closes_in_market_lot_chunks():
    positions = [pos(amount="250"), pos(symbol="ETHUSDT", amount="-3", entry="2000", mark="2000")]
    f = Flatten(Role.KILL, "margin safety multiple 1.1 <= 1.2", "kill_switch")
    p = plan(snap(positions, good_brackets(), flatten=f))
    assert [(a.kind, a.symbol, a.request.quantity if a.request else None) for a in p.actions] == [
        (ActionKind.CANCEL_ALL, "BTCUSDT", None), (ActionKind.CLOSE, "BTCUSDT", D("120")),
        (ActionKind.CLOSE, "BTCUSDT", D("120")), (ActionKind.CLOSE, "BTCUSDT", D("10")),
        (ActionKind.CANCEL_ALL, "ETHUSDT", None), (ActionKind.CLOSE, "ETHUSDT", D("3"))]
    assert p.actions[1].request.client_order_id == client_order_id(TRADE, Role.KILL)
    assert p.actions[-1].request.side is Side.BUY and all(a.event == "kill_switch" for a in p.actions)


def test_scope_limits_planning_to_symbols_whose_orders_are_known():
    positions = [pos(), pos(symbol="ETHUSDT", entry="2000", mark="2000")]
    p = plan(snap(positions, [], scope=frozenset({"ETHUSDT"})))
    assert {a.symbol for a in p.actions} == set() and p.needs_levels == {("ETHUSDT", PositionSide.BOTH)}
    assert [v.position.symbol for v in p.views] == ["ETHUSDT"]


def test_both_ids_held_uses_the_reserve_pair_then_frees_a_duplicate_never_an_entry():
    sl = order(cid=SL, stop="29000", close_position=False, reduce_only=True, qty="0.9", time=1)
    sx = order(cid=SX, stop="29000", close_position=False, reduce_only=True, qty="0.7", time=2)
    p = plan(snap([pos()], [sl, sx, good_brackets()[1]]))
    reserve = client_order_id(trade_id_for_adopted("BTCUSDT"), Role.STOP)
    assert [(a.kind, a.request.client_order_id if a.request else a.order.client_order_id) for a in p.actions] == [
        (ActionKind.PLACE, reserve), (ActionKind.CANCEL, SX)]
    assert p.actions[0].replaces == (sl,) and p.actions[0].cancel_before == ()
    held = [order(cid=client_order_id(trade_id_for_adopted("BTCUSDT"), r), stop="29000", order_id=90 + i)
            for i, r in enumerate((Role.STOP, Role.STOP_ALT))]
    p = plan(snap([pos()], [sl, sx] + held + [good_brackets()[1]]))
    place = p.actions[0]
    assert place.request.client_order_id == SX and place.cancel_before == (sx,) and place.replaces == (sl,)
    assert [a.order.order_id for a in p.actions[1:]] == [90, 91]      # the sx cancel is not repeated
    entries = [order(cid=c, type=OrderType.LIMIT, side=Side.BUY, close_position=False, qty="1", stop="0")
               for c in (TP, client_order_id(TRADE, Role.TAKE_PROFIT_ALT),
                         client_order_id(trade_id_for_adopted("BTCUSDT"), Role.TAKE_PROFIT),
                         client_order_id(trade_id_for_adopted("BTCUSDT"), Role.TAKE_PROFIT_ALT))]
    p = plan(snap([pos()], [good_brackets()[0]] + entries))
    assert p.actions == () and "nothing placed" in p.blocked[0]


def test_plan_is_deterministic():
    orders = [order(cid="a", order_id=1), order(cid="b", order_id=2), order(cid=SL, order_id=3)]
    assert plan(snap([pos()], orders)) == plan(snap([pos()], orders))


@pytest.mark.parametrize("amount,mark", [("0.5", "30000"), ("-0.5", "30000"), ("0.5", "28000")])
def test_acting_on_a_plan_settles_in_few_rounds(amount, mark):
    positions = [pos(amount=amount, mark=mark)]
    intents = {("BTCUSDT", PositionSide.BOTH): Intent(TRADE, stop=D("29000") if amount[0] != "-" else D("31000"),
                                                      take_profit=D("32000") if amount[0] != "-" else D("28000"))}
    orders = [order(cid=SL, side=Side.BUY), order(cid="dup", stop="29500"),
              order(cid=TP, type=OrderType.TAKE_PROFIT_MARKET, reduce_only=True, close_position=False, qty="9")]
    for _ in range(3):
        p = plan(snap(positions, orders, intents))
        if p.done:
            break
        positions, orders = apply_plan(positions, orders, p)
    assert p.done


def test_flatten_on_request_also_cancels_orders_of_symbols_without_a_position():
    entry = order(symbol="ETHUSDT", cid="resting-entry", side=Side.BUY, type=OrderType.LIMIT, stop="0",
                  close_position=False, qty="1")
    f = Flatten(Role.CLOSE, "flatten requested", "flatten", every_order=True)
    p = plan(snap([pos()], [entry], flatten=f))
    assert [(a.kind, a.symbol) for a in p.actions] == [(ActionKind.CANCEL_ALL, "BTCUSDT"),
                                                       (ActionKind.CLOSE, "BTCUSDT"),
                                                       (ActionKind.CANCEL_ALL, "ETHUSDT")]
    kill = Flatten(Role.KILL, "margin", "kill_switch")
    assert {a.symbol for a in plan(snap([pos()], [entry], flatten=kill)).actions} == {"BTCUSDT"}


def test_exits_of_another_engine_instance_are_left_to_it():
    """The momentum engine's stop, take-profit and trailing stop (ids `<instance>:...`) are its own: the
    guard neither culls one of the two profit-side orders nor replaces anything, on its position or after
    it (an instance only touches what it owns); the scanner's positions are guarded as before."""
    mom = [order(symbol="ETHUSDT", cid="mom1:ETHUSDT.SL.a", stop="1990", qty="0.1", close_position=False,
                 reduce_only=True),
           order(symbol="ETHUSDT", cid="mom1:ETHUSDT.TP.a", type=OrderType.TAKE_PROFIT_MARKET, stop="2020",
                 qty="0.1", close_position=False, reduce_only=True, wt=WorkingType.CONTRACT_PRICE),
           order(symbol="ETHUSDT", cid="mom1:ETHUSDT.TR.a", type=OrderType.TRAILING_STOP_MARKET, stop="0",
                 qty="0.1", close_position=False, reduce_only=True, wt=WorkingType.CONTRACT_PRICE,
                 price_rate="0.1", activate="2003")]
    eth = pos(symbol="ETHUSDT", amount="0.1", entry="2000", mark="2000")
    p = plan(snap([pos(), eth], good_brackets() + mom))
    assert p.done and [v.position.symbol for v in p.views] == ["BTCUSDT"]
    leftover = plan(snap([pos()], good_brackets() + mom))          # ETH flat: its engine cleans up, not the guard
    assert leftover.done
    scanner_only = plan(snap([pos()], []))                           # unchanged for the scanner's position
    assert [a.kind for a in scanner_only.actions] == [ActionKind.PLACE, ActionKind.PLACE]
    # a second scanner instance's brackets (`scan2:<trade>-<role>`) stay the guard's to keep: a duplicate
    # stop of its position is still cancelled
    s2 = [order(symbol="ETHUSDT", cid="scan2:ETHUSDT.lq3k2x1b-SL", stop="1990"),
          order(symbol="ETHUSDT", cid="scan2:ETHUSDT.lq3k2x1b-SX", stop="1991")]
    p2 = plan(snap([eth], s2, intents={}))
    assert any(a.kind is ActionKind.CANCEL for a in p2.actions)
