"""Properties of the planner over generated venues: it settles, it never cancels an entry, and a
position that had a stop keeps one at every step of the repair."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings, strategies as st

from mraster.domain.ids import Role, client_order_id, trade_id_for_adopted
from mraster.domain.types import OrderType, PositionSide, Side, WorkingType
from guard.classify import Slot, is_exit_order, slot_of
from guard.planner import ActionKind, Intent, Plan, Snapshot, plan

from tests.guard.builders import RULES, apply_plan, order, pos

D = Decimal
SYMBOLS = ("BTCUSDT", "ETHUSDT")
TRADES = {"BTCUSDT": "BTCUSDT.lq3k2x1a", "ETHUSDT": trade_id_for_adopted("ETHUSDT")}
ROLES = [Role.STOP, Role.STOP_ALT, Role.TAKE_PROFIT, Role.TAKE_PROFIT_ALT, Role.FAST_TP, Role.ENTRY]


@st.composite
def venues(draw):
    positions, intents = [], {}
    for symbol in SYMBOLS:
        if draw(st.booleans()):
            qty = draw(st.sampled_from(["0.5", "1", "0.25"]))
            long = draw(st.booleans())
            positions.append(pos(symbol=symbol, amount=qty if long else "-" + qty, entry="100", mark="100"))
            stop, take = (D("95"), D("110")) if long else (D("105"), D("90"))
            intents[(symbol, PositionSide.BOTH)] = Intent(TRADES[symbol], stop=stop, take_profit=take)
    orders = []
    for i in range(draw(st.integers(0, 7))):
        symbol = draw(st.sampled_from(SYMBOLS))
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        otype = draw(st.sampled_from([OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.LIMIT]))
        sell_stop = (side is Side.SELL) == (otype is OrderType.STOP_MARKET)
        level = "95" if sell_stop else "105"
        flag = draw(st.sampled_from(["close", "reduce", "none"]))
        cid = draw(st.one_of(st.just(f"manual-{i}"), st.sampled_from(ROLES).map(
            lambda r, s=symbol: client_order_id(TRADES[s], r))))
        if any(o.symbol == symbol and o.client_order_id == cid for o in orders):
            continue          # the venue keeps client ids unique among open orders
        orders.append(order(symbol=symbol, cid=cid, side=side, type=otype, stop=level if otype.is_conditional else "0",
                            qty="0" if flag == "close" else draw(st.sampled_from(["0.5", "1", "0.3"])),
                            close_position=flag == "close" and otype is not OrderType.LIMIT,
                            reduce_only=flag == "reduce",
                            wt=draw(st.sampled_from([WorkingType.MARK_PRICE, WorkingType.CONTRACT_PRICE])),
                            time=i))
    return positions, orders, intents


def stops_on_exit_side(positions, orders):
    out = {}
    for p in positions:
        out[p.symbol] = [o for o in orders if o.symbol == p.symbol and is_exit_order(o) and o.side is p.exit_side
                         and slot_of(o) is Slot.STOP]
    return out


def step_by_step(positions, orders, p: Plan):
    """Apply the plan one action at a time, yielding the venue after each."""
    for action in p.actions:
        positions, orders = apply_plan(positions, orders, Plan(actions=(action,), views=()))
        yield positions, orders


@settings(max_examples=300, deadline=None, derandomize=True)
@given(venues())
def test_repairs_settle_keep_entries_and_never_leave_a_gap(venue):
    positions, orders, intents = venue
    entries = {o.order_id for o in orders if not is_exit_order(o)}
    for _ in range(4):
        p = plan(Snapshot(tuple(positions), tuple(orders), intents, RULES))
        if p.done:
            break
        had_stop = {s for s, found in stops_on_exit_side(positions, orders).items() if found}
        for positions, orders in step_by_step(positions, orders, p):
            now = stops_on_exit_side(positions, orders)
            assert all(now[s] for s in had_stop if s in now), "a stop disappeared before its replacement"
    assert p.done, p.actions
    assert entries <= {o.order_id for o in orders}, "an entry order was cancelled"
    for view in p.views:
        assert view.protected and view.take_profit.ok
        exits = [o for o in orders if o.symbol == view.position.symbol and is_exit_order(o)
                 and o.side is view.position.exit_side and slot_of(o) is not None]
        assert sum(slot_of(o) is Slot.STOP for o in exits) == 1
        assert sum(slot_of(o) is Slot.PROFIT for o in exits) == 1
    flat = set(SYMBOLS) - {p.symbol for p in positions}
    assert not [o for o in orders if o.symbol in flat and is_exit_order(o)]
    assert all(a.kind is not ActionKind.CLOSE for a in p.actions)
