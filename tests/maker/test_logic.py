"""The coordinator's rules as pure functions: phases, the exposure cap, maker prices and sizes, rebalancing."""
from __future__ import annotations

import itertools
from decimal import Decimal as D

from maker.logic import (
    Book, Cancel, CycleState, ExecView, Maker, Params, Resting, Taker, cycle_targets, decide, exposure_cap,
    max_qty, next_state, over_cap, passive_price, rebalance,
)

BOOK = Book(D("100000.0"), D("100000.1"), D("0.1"), D("0.001"))
P = Params()                       # the seed's defaults: step 0.002, offset 0.1, ratio 0.04
_n = itertools.count()


def ids(tag: str) -> str:
    return f"maker:{tag}.{next(_n)}"


def views(b: str, c: str, *, rb=(), rc=(), max_usd="5000") -> dict[str, ExecView]:
    return {"B": ExecView("B", D(b), D(max_usd), tuple(rb)), "C": ExecView("C", D(c), D(max_usd), tuple(rc))}


def test_targets_alternate_between_phases():
    assert cycle_targets(1, D("0.05"), D("0.04")) == {"B": D("0.05"), "C": D("-0.04")}
    assert cycle_targets(2, D("0.05"), D("0.04")) == {"B": D("-0.05"), "C": D("0.04")}


def test_max_qty_is_the_notional_limit_on_the_lot_grid():
    assert max_qty(D("5000"), D("100000"), D("0.001")) == D("0.050")
    assert max_qty(D("5000"), D("99999"), D("0.001")) == D("0.050")       # 0.0500005 floors to 0.050
    assert max_qty(D("5000"), D("100001"), D("0.001")) == D("0.049")
    assert max_qty(D("0"), D("100000"), D("0.001")) == 0


def test_phase_turns_only_when_both_are_within_one_step_of_their_targets():
    t = cycle_targets(1, D("0.05"), D("0.05"))
    s = CycleState(1, 0, 0)
    assert next_state(s, views("0.049", "-0.047"), t, P.step, 10) == s          # C still 0.003 away
    turned = next_state(s, views("0.049", "-0.049"), t, P.step, 10)
    assert (turned.phase, turned.since_ms, turned.turns) == (2, 10, 1)
    assert next_state(turned, views("-0.050", "0.0495"), cycle_targets(2, D("0.05"), D("0.05")), P.step, 20).phase == 1


def test_exposure_cap_is_four_percent_of_gross_but_at_least_one_step():
    assert exposure_cap({"B": D("0.05"), "C": D("-0.05")}, P.ratio, P.step) == D("0.004")
    assert exposure_cap({"B": D("0.001"), "C": D("0")}, P.ratio, P.step) == D("0.002")
    assert not over_cap({"B": D("0.002"), "C": D("0")}, P.ratio, P.step)          # one leg filled, other resting
    assert over_cap({"B": D("0.004"), "C": D("0")}, P.ratio, P.step)
    assert not over_cap({"B": D("0.05"), "C": D("-0.047")}, P.ratio, P.step)       # 0.003 < cap 0.00388
    assert over_cap({"B": D("0.05"), "C": D("-0.045")}, P.ratio, P.step)


def test_passive_price_never_crosses():
    assert passive_price("BUY", BOOK, D("0.1")) == D("100000.0")          # ask - 0.1 = the bid
    assert passive_price("SELL", BOOK, D("0.1")) == D("100000.1")         # bid + 0.1 = the ask
    assert passive_price("BUY", BOOK, D("0")) == D("100000.0")            # never at the ask
    wide = Book(D("100000.0"), D("100002.0"), D("0.1"), D("0.001"))
    assert passive_price("BUY", wide, D("0.15")) == D("100001.8")          # rounded away from the touch
    assert passive_price("SELL", wide, D("0.15")) == D("100000.2")


def test_cycle_round_places_one_step_each_toward_the_phase_targets():
    d = decide(CycleState(1, 0), BOOK, views("0", "0"), P, 1000, lambda: 1.5, ids)
    makers = [i for i in d.instructions if isinstance(i, Maker)]
    assert [(m.server, m.side, m.qty, m.price, m.delay_s, m.expire_s) for m in makers] == [
        ("B", "BUY", D("0.002"), D("100000.0"), 1.5, 30.0), ("C", "SELL", D("0.002"), D("100000.1"), 1.5, 30.0)]
    assert makers[0].client_id.startswith("maker:B.mk.") and makers[1].client_id.startswith("maker:C.mk.")
    assert d.targets == {"B": D("0.049"), "C": D("-0.049")}       # 5000 USD at the mid 100000.05


def test_resting_orders_count_toward_the_target_so_fills_never_pass_the_maximum():
    near = [Resting("maker:B.mk.1", "BUY", D("0.002"), D("1"))]
    d = decide(CycleState(1, 0), BOOK, views("0.046", "-0.049", rb=near), P, 0, lambda: 0.0, ids)
    b = [i for i in d.instructions if isinstance(i, Maker) and i.server == "B"]
    assert [m.qty for m in b] == [D("0.001")]                     # 0.046 + 0.002 resting + 0.001 = 0.049
    full = [Resting("maker:B.mk.1", "BUY", D("0.003"), D("1"))]
    d = decide(CycleState(1, 0), BOOK, views("0.046", "-0.049", rb=full), P, 0, lambda: 0.0, ids)
    assert not [i for i in d.instructions if isinstance(i, Maker) and i.server == "B"]


def test_phase_turn_cancels_the_orders_of_the_old_direction():
    left = [Resting("maker:B.mk.9", "BUY", D("0.001"), D("1"))]
    d = decide(CycleState(1, 0), BOOK, views("0.048", "-0.049", rb=left), P, 5000, lambda: 0.0, ids)
    assert d.state.phase == 2 and d.state.since_ms == 5000
    assert Cancel("B", "maker:B.mk.9") in d.instructions
    sides = {(i.server, i.side) for i in d.instructions if isinstance(i, Maker)}
    assert sides == {("B", "SELL"), ("C", "BUY")}


def test_rebalance_prefers_the_executor_whose_target_lies_that_way():
    t = cycle_targets(1, D("0.049"), D("0.049"))
    limits = {"B": D("0.049"), "C": D("0.049")}
    [tk] = rebalance(views("0.010", "-0.004"), t, limits, P, BOOK, ids)   # net +0.006 > cap 0.002
    assert isinstance(tk, Taker) and (tk.server, tk.side, tk.qty, tk.reduce_only) == ("C", "SELL", D("0.006"), False)
    # C has no room left short (position plus resting sells at its limit): B gives some back, reduce-only
    full = [Resting("maker:C.mk.1", "SELL", D("0.002"), D("1"))]
    [tk] = rebalance(views("0.055", "-0.047", rc=full), t, limits, P, BOOK, ids)
    assert isinstance(tk, Taker) and (tk.server, tk.side, tk.qty, tk.reduce_only) == ("B", "SELL", D("0.008"), True)
    assert rebalance(views("0.010", "-0.009"), t, limits, P, BOOK, ids) == []
    # C has room for part only: the rest goes to B at once, in the same round
    part = [Resting("maker:C.mk.1", "SELL", D("0.043"), D("1"))]
    tks = rebalance(views("0.010", "-0.004", rc=part), t, limits, P, BOOK, ids)
    assert [(k.server, k.side, k.qty, k.reduce_only) for k in tks] == [("C", "SELL", D("0.002"), False),
                                                                        ("B", "SELL", D("0.004"), True)]


def test_over_cap_round_sends_the_taker_and_holds_new_makers():
    d = decide(CycleState(1, 0), BOOK, views("0.010", "-0.002"), P, 0, lambda: 0.0, ids)
    assert [type(i) for i in d.instructions] == [Taker]
    assert d.net == D("0.008") and d.cap == D("0.002")


def test_unknown_executor_or_market_holds():
    v = views("0.010", "-0.010")
    d = decide(CycleState(1, 0), BOOK, {"B": v["B"], "C": None}, P, 0, lambda: 0.0, ids)
    assert d.mode == "holding" and "C" in d.reason and d.instructions == []
    d = decide(CycleState(1, 0), None, v, P, 0, lambda: 0.0, ids)
    assert d.mode == "holding" and d.instructions == []
    crossed = Book(D("100"), D("99"))
    assert decide(CycleState(1, 0), crossed, v, P, 0, lambda: 0.0, ids).mode == "holding"
    sick = {"B": v["B"], "C": ExecView("C", D("-0.010"), D("5000"), healthy=False)}
    assert decide(CycleState(1, 0), BOOK, sick, P, 0, lambda: 0.0, ids).instructions == []


def test_target_strategy_holds_inside_the_tolerance_band():
    tp = Params(strategy="target", targets=(("B", D("0.02")), ("C", D("-0.02"))), tolerance=D("0.002"))
    d = decide(CycleState(1, 0), BOOK, views("0.019", "-0.0185"), tp, 0, lambda: 0.0, ids)
    assert d.instructions == [] and d.state.phase == 1
    d = decide(CycleState(1, 0), BOOK, views("0.010", "-0.010"), tp, 0, lambda: 0.0, ids)
    assert {(m.server, m.side, m.qty) for m in d.instructions if isinstance(m, Maker)} == {
        ("B", "BUY", D("0.002")), ("C", "SELL", D("0.002"))}
    # a target beyond the maximum is clipped to it
    big = Params(strategy="target", targets=(("B", D("1")), ("C", D("-1"))))
    assert decide(CycleState(1, 0), BOOK, views("0", "0"), big, 0, lambda: 0.0, ids).targets == {
        "B": D("0.049"), "C": D("-0.049")}


def test_a_whole_cycle_with_perfect_fills_keeps_net_within_the_cap_and_limits():
    """Simulate fills of every maker order: B and C reach their extremes, the phase turns, and back."""
    pos = {"B": D(0), "C": D(0)}
    state, phases = CycleState(1, 0), []
    for k in range(200):
        d = decide(state, BOOK, views(str(pos["B"]), str(pos["C"])), P, k, lambda: 0.0, ids)
        state = d.state
        phases.append(state.phase)
        for i in d.instructions:
            if isinstance(i, (Maker, Taker)):
                pos[i.server] += i.qty if i.side == "BUY" else -i.qty
        assert all(abs(p) <= D("0.049") for p in pos.values())
        assert abs(pos["B"] + pos["C"]) <= exposure_cap(pos, P.ratio, P.step)
    assert state.turns >= 3 and 1 in phases and 2 in phases


def test_an_unreachable_executors_last_position_still_lets_the_other_rebalance():
    v = views("0.010", "-0.002")
    cut = {"B": ExecView("B", D("0.010"), D("5000"), healthy=False), "C": v["C"]}
    d = decide(CycleState(1, 0), BOOK, cut, P, 0, lambda: 0.0, ids)
    assert d.mode == "holding" and [(type(i), i.server) for i in d.instructions] == [(Taker, "C")]
