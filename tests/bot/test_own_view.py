"""A scanner instance's view of a shared account (pure): its own trades' positions, positions given to it,
and only orders it may touch; plans built on it never name another owner's order or position."""
from __future__ import annotations

import random
from decimal import Decimal as D

from mraster.domain.ids import Role, client_order_id, trade_id_for_entry
from mraster.domain.ownership import owner_of
from mraster.domain.types import Order, OrderStatus, OrderType, Position, PositionSide, Side
from mraster.state.model import Trade
from bot.runtime.reconcile_plan import Adopt, Protect, may_touch, own_view, plan_reconcile

SYMBOLS = [f"S{i}USDT" for i in range(8)]


def position(sym: str, amount: str = "1") -> Position:
    return Position(sym, PositionSide.BOTH, D(amount), D("100"), mark_price=D("100"))


def stop(sym: str, cid: str) -> Order:
    return Order(sym, abs(hash(cid)) % 10**9, cid, Side.SELL, OrderType.STOP_MARKET, OrderStatus.NEW, D(0),
                 stop_price=D("90"), close_position=True)


def test_may_touch():
    assert may_touch("scan2", "scan2:BTCUSDT.x1-SL") and not may_touch("scan2", "mr-BTCUSDT.x1-SL")
    assert not may_touch("scan2", "byhand") and may_touch("scanner", "byhand")
    assert may_touch("scanner", "mr-BTCUSDT.x1-SL") and not may_touch("scanner", "mk1:BTCUSDT.q.a")


def test_random_accounts_never_let_an_instance_act_on_anothers_position_or_order():
    rng = random.Random(2024)
    for _ in range(400):
        me = rng.choice(["scanner", "scan2"])
        owners, positions, orders, trades = {}, [], [], {}
        for i, sym in enumerate(SYMBOLS):
            who = rng.choice(["scanner", "scan2", "mk1", None])
            if rng.random() < 0.7:
                positions.append(position(sym, rng.choice(["1", "-1"])))
                owners[(sym, "BOTH")] = who
            if who == me and rng.random() < 0.6:
                tid = trade_id_for_entry(sym, 1_790_000_000_000 + i, me)
                trades[tid] = Trade(trade_id=tid, symbol=sym, side="LONG", status="open", qty=D("1"))
            inst = who or "scanner"
            for _k in range(rng.randrange(3)):
                cid = (client_order_id(trade_id_for_entry(sym, 1 + i, inst), Role.STOP) if who
                       else f"hand{rng.randrange(999)}")
                orders.append(stop(sym, cid))
        mine, seen = own_view(me, trades, positions, orders, owners)
        plan = plan_reconcile(trades, mine, seen)
        others = {k[0] for k, w in owners.items() if w not in (me, None) or (w is None and me != "scanner")}
        mine_syms = {t.symbol for t in trades.values()}
        for a in plan.of(Adopt) + plan.of(Protect):
            assert a.position.symbol not in others - mine_syms
        for o in seen:
            owner = owner_of(o.client_order_id)
            assert owner == me or (owner is None and me == "scanner")
        for a in plan.of(Adopt):
            for o in (a.existing_stop, a.existing_take_profit):
                assert o is None or may_touch(me, o.client_order_id)
