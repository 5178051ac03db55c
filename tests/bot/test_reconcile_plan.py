"""Pure reconciliation planning and exit-reason classification."""
from __future__ import annotations

from decimal import Decimal as D

from mraster.domain.ids import Role, client_order_id
from mraster.domain.types import Order, OrderStatus, OrderType, Position, PositionSide, Side
from bot.runtime.reconcile_plan import (Adopt, Keep, Protect, ResolvePending, TradeGone, classify_exit,
                                        plan_reconcile, protective_orders, weighted_price)
from mraster.state.model import Trade

TID = "BTCUSDT.abc123"


def trade(status="open", side="LONG", qty="1", **kw):
    return Trade(trade_id=kw.pop("trade_id", TID), symbol=kw.pop("symbol", "BTCUSDT"), side=side, status=status,
                 qty=D(qty), entry_price=D(100), stop_price=D(98), take_profit_price=D(104), **kw)


def pos(amount="1", symbol="BTCUSDT"):
    return Position(symbol, PositionSide.BOTH, D(amount), D(100), mark_price=D(101))


def order(role, side=Side.SELL, kind=OrderType.STOP_MARKET, status=OrderStatus.NEW, cid=None, oid=1, **kw):
    return Order(symbol=kw.pop("symbol", "BTCUSDT"), order_id=oid,
                 client_order_id=cid if cid is not None else client_order_id(TID, role), side=side, type=kind,
                 status=status, orig_qty=D(0), close_position=kw.pop("close_position", True), **kw)


STOP = order(Role.STOP)
TP = order(Role.TAKE_PROFIT, kind=OrderType.TAKE_PROFIT_MARKET, oid=2)


def test_protected_trade_is_kept():
    plan = plan_reconcile({TID: trade()}, [pos()], [STOP, TP])
    assert plan.actions == [Keep(TID, pos(), qty_changed=False)]


def test_partial_close_updates_qty_and_missing_bracket_is_protected():
    plan = plan_reconcile({TID: trade()}, [pos("0.4")], [STOP])
    assert plan.of(Keep)[0].qty_changed
    assert plan.of(Protect) == [Protect(TID, pos("0.4"), (Role.TAKE_PROFIT,))]


def test_brackets_placed_by_someone_else_count():
    foreign_stop = order(Role.STOP, cid="web_123", reduce_only=True, close_position=False)
    assert not plan_reconcile({TID: trade()}, [pos()], [foreign_stop, TP]).of(Protect)
    # an entry-side or non-reducing order is no protection
    wrong_side = order(Role.STOP, side=Side.BUY)
    plain = order(Role.STOP, close_position=False, cid="x")
    stops, _ = protective_orders("BTCUSDT", Side.BUY, "BOTH", [wrong_side, plain])
    assert stops == []


def test_closed_by_stop_while_down_is_gone():
    plan = plan_reconcile({TID: trade()}, [], [])
    assert plan.actions == [TradeGone(TID)]


def test_flip_closes_the_old_trade_and_adopts_the_new_position():
    plan = plan_reconcile({TID: trade()}, [pos("-2")], [])
    assert plan.of(TradeGone)[0].why.startswith("position flipped")
    assert plan.of(Adopt)[0].position.amount == D(-2)


def test_unknown_position_is_adopted_with_its_existing_orders():
    short_stop = order(Role.STOP, side=Side.BUY, cid="", symbol="ETHUSDT")
    plan = plan_reconcile({}, [pos("-3", "ETHUSDT")], [short_stop])
    (a,) = plan.of(Adopt)
    assert a.position.symbol == "ETHUSDT" and a.existing_stop == short_stop and a.existing_take_profit is None


def test_pending_trade_is_resolved_with_or_without_position():
    assert plan_reconcile({TID: trade("pending")}, [], []).actions == [ResolvePending(TID, None)]
    plan = plan_reconcile({TID: trade("pending")}, [pos()], [])
    assert plan.actions == [ResolvePending(TID, pos())]       # the position is not adopted twice


def test_classify_exit_reasons():
    t = trade()
    filled = dict(status=OrderStatus.FILLED)
    assert classify_exit(t, [order(Role.STOP, **filled)])[0] == "stop"
    assert classify_exit(t, [order(Role.TAKE_PROFIT, **filled)])[0] == "take_profit"
    assert classify_exit(trade(fasttp_count=1), [order(Role.TAKE_PROFIT, **filled)])[0] == "fasttp"
    assert classify_exit(t, [order(Role.CLOSE, **filled)])[0] == "closed"
    assert classify_exit(t, [order(Role.KILL, **filled)])[0] == "kill"
    assert classify_exit(t, [order(Role.STOP, cid="web_abc", **filled)])[0] == "manual"
    assert classify_exit(t, [order(Role.STOP, cid="autoclose-1700000", **filled),
                             order(Role.STOP, **filled)])[0] == "liquidation"
    assert classify_exit(t, [order(Role.STOP, cid="adl_autoclose", **filled)])[0] == "adl"
    # the order that made the last closing fill decides
    assert classify_exit(t, [order(Role.CLOSE, **filled), order(Role.STOP, **filled)])[0] == "stop"
    assert classify_exit(t, [])[0] == "unknown"


def test_weighted_price():
    assert weighted_price([(D(100), D(1)), (D(110), D(3))]) == D("107.5")
    assert weighted_price([]) is None


def test_trade_whose_close_failed_is_closed_again_while_its_position_lasts():
    from bot.runtime.reconcile_plan import CloseAgain
    failed = trade(close_requested="stop would trigger")
    plan = plan_reconcile({TID: failed}, [pos()], [])
    assert plan.actions == [Keep(TID, pos(), qty_changed=False), CloseAgain(TID, pos(), "stop would trigger"),
                            Protect(TID, pos(), (Role.STOP, Role.TAKE_PROFIT))]
    assert plan_reconcile({TID: failed}, [], []).actions == [TradeGone(TID)]          # flat: finalised


def test_sequenced_ids_are_still_our_stops_and_give_the_exit_reason():
    later = order(Role.STOP, cid=client_order_id(TID, Role.STOP, 2))
    stops, _ = protective_orders("BTCUSDT", Side.BUY, "BOTH", [later])
    assert stops == [later]
    closed = order(Role.CLOSE, kind=OrderType.MARKET, status=OrderStatus.FILLED, cid=client_order_id(TID, Role.CLOSE, 1))
    assert classify_exit(trade(), [closed])[0] == "closed"
