"""The guard's scope, pure: which positions it protects and which orders it may touch."""
from __future__ import annotations

import random
from decimal import Decimal

from mraster.domain.types import OrderType, Side, WorkingType
from guard.planner import ActionKind, Intent, Snapshot, plan
from guard.scope import ScopeRule, order_owner, split

from tests.guard.builders import order, pos

D = Decimal
OWNERS = {("BTCUSDT", "BOTH"): "keep", ("ETHUSDT", "BOTH"): "mk1", ("SOLUSDT", "BOTH"): None}
RULE = ScopeRule(manual="leave", scopes={"keep": "protect", "mk1": "leave"})


def view():
    positions = [pos("BTCUSDT", "0.1", "30000", "30000"), pos("ETHUSDT", "1", "2000", "2000"),
                 pos("SOLUSDT", "10", "100", "100")]
    orders = [order("ETHUSDT", "mk1:ETHUSDT.ask.a1", type=OrderType.TAKE_PROFIT_MARKET, stop="2100"),
              order("ETHUSDT", "byhand-eth", stop="1500"),
              order("SOLUSDT", "byhand-sol", stop="90"),
              order("XRPUSDT", "mk1:XRPUSDT.x.a2", stop="0.4"),        # leftover exits on a flat symbol
              order("ADAUSDT", "keep:ADAUSDT.k1-SL", stop="0.3"),
              order("DOTUSDT", "manualstop", stop="5")]
    return positions, orders


def test_only_the_protected_owners_positions_and_orders_are_seen():
    positions, orders = view()
    kept, seen, left = split(RULE, positions, orders, OWNERS)
    assert [p.symbol for p in kept] == ["BTCUSDT"]
    assert {(p.symbol, o) for p, o in left} == {("ETHUSDT", "mk1"), ("SOLUSDT", None)}
    assert [o.client_order_id for o in seen] == ["keep:ADAUSDT.k1-SL"]


def test_the_plan_brackets_only_the_protected_position_and_cancels_only_its_leftovers():
    positions, orders = view()
    kept, seen, _ = split(RULE, positions, orders, OWNERS)
    intents = {("BTCUSDT", p.position_side): Intent("keep:BTCUSDT.gb", stop=D("29000"), take_profit=D("31000"))
               for p in kept}
    result = plan(Snapshot(tuple(kept), tuple(seen), intents, working_type=WorkingType.CONTRACT_PRICE))
    places = [a for a in result.actions if a.kind is ActionKind.PLACE]
    cancels = [a for a in result.actions if a.kind is ActionKind.CANCEL]
    assert {a.symbol for a in places} == {"BTCUSDT"}
    assert all(a.request.client_order_id.startswith("keep:BTCUSDT.gb-") for a in places)
    assert [a.order.client_order_id for a in cancels] == ["keep:ADAUSDT.k1-SL"]


def test_manual_protect_and_instance_filter():
    positions, orders = view()
    rule = ScopeRule(manual="protect", only=frozenset({"keep"}), scopes={"keep": "protect", "mk1": "protect"})
    kept, seen, left = split(rule, positions, orders, OWNERS)
    assert [p.symbol for p in kept] == ["BTCUSDT", "SOLUSDT"] and [(p.symbol, o) for p, o in left] == [("ETHUSDT", "mk1")]
    assert {o.client_order_id for o in seen} == {"byhand-sol", "keep:ADAUSDT.k1-SL", "manualstop"}
    waiting = split(rule, positions, orders, OWNERS, waiting=[("SOLUSDT", "BOTH")])
    assert [p.symbol for p in waiting[0]] == ["BTCUSDT"]


def test_the_guards_own_stable_ids_count_as_nobodys_and_everything_is_todays_guard():
    assert order_owner("mr-SOLUSDT.gb-SL") is None and order_owner("mr-SOLUSDT.lq3k2x1a-SL") == "scanner"
    assert order_owner("scan2:SOLUSDT.gb-SL") == "scan2"
    assert ScopeRule().everything and not RULE.everything
    positions, orders = view()
    kept, seen, left = split(ScopeRule(), positions, orders, OWNERS)
    assert len(kept) == 3 and len(seen) == len(orders) and not left


def test_random_views_never_show_a_left_positions_orders():
    rng = random.Random(99)
    for _ in range(300):
        symbols = [f"S{i}USDT" for i in range(6)]
        owners = {(s, "BOTH"): rng.choice(["a", "b", None]) for s in symbols}
        positions = [pos(s, rng.choice(["1", "-1"])) for s in symbols if rng.random() < 0.6]
        orders = [order(rng.choice(symbols), rng.choice(["a:X.q.1", "b:Y.q.2", "hand", "mr-S1USDT.gb-SL"]),
                        side=rng.choice([Side.BUY, Side.SELL])) for _ in range(8)]
        rule = ScopeRule(manual=rng.choice(["protect", "leave"]), scopes={"a": "protect", "b": "leave"})
        kept, seen, left = split(rule, positions, orders, owners)
        left_symbols = {p.symbol for p, _ in left}
        assert not [o for o in seen if o.symbol in left_symbols]
        assert all(rule.protects(owners[(p.symbol, "BOTH")]) for p in kept)
        assert not [p for p in kept if owners[(p.symbol, "BOTH")] == "b"]
