"""Pure decisions: sizing (the seed's formula and the venue's filters), risk, decisions, balancing, pacing."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mraster.domain.rules import NoValidOrderError, SymbolRules
from mraster.engines.kinds.deltaneutral import KIND
from deltaneutral import plan
from deltaneutral.plan import Config, Leg, PairView

RULES = SymbolRules("BTCUSDT", tick_size=D("0.1"), step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"),
                    min_notional=D("5"))


def cfg(**over) -> Config:
    return Config.from_values({**KIND.defaults(), **over})


def pair(long_qty="0.01", short_qty="0.01", entry_l="50000", entry_s="50000", mark="50000", liq_l="47000",
         liq_s="53000", fees="0", funding="0") -> PairView:
    m = D(mark)
    lq, sq = D(long_qty), D(short_qty)
    long = Leg("LONG", lq, D(entry_l), m, D(liq_l), (m - D(entry_l)) * lq) if lq else None
    short = Leg("SHORT", sq, D(entry_s), m, D(liq_s), (D(entry_s) - m) * sq) if sq else None
    return PairView("BTCUSDT", long, short, D(fees), D(funding))


def test_seed_formula_and_defaults():
    c = cfg()
    assert (c.capital, c.leverage, c.pairs, c.hold_min) == (D("100.0"), 15, ("BTCUSDT",), 90.0)
    assert c.max_leg_notional == D("22.5")                  # 100 x 1.5 / 100 x 15


def test_leg_quantity_rounds_down_within_the_notional_and_varies_downward_only():
    c = cfg(CAPITAL_USDT=10_000)                            # 2250 USDT per leg
    assert plan.leg_quantity(c, RULES, D("50000")) == D("0.045")
    assert plan.leg_quantity(c, RULES, D("50000"), 1.0) == D("0.040")     # 10 % lower: 2025 -> 0.040
    assert plan.leg_quantity(c, RULES, D("50000"), 0.5) == D("0.042")


def test_a_leg_below_the_venue_minimum_is_refused_with_the_reason():
    c = cfg()                                               # 22.5 USDT at 50,000: under 0.001 BTC
    with pytest.raises(NoValidOrderError):
        plan.leg_quantity(c, RULES, D("50000"))
    assert "below the venue's minimum" in plan.size_problem(c, RULES, D("50000"))
    assert plan.size_problem(cfg(CAPITAL_USDT=1000), RULES, D("50000")) == ""


def test_risk_order_and_thresholds():
    c = cfg()
    assert plan.risk_reason(pair(), c) == ""
    assert plan.risk_reason(pair(short_qty="0"), c).startswith("lone_leg")
    assert plan.risk_reason(pair(long_qty="0"), c).startswith("lone_leg")
    assert plan.risk_reason(pair(liq_l="49100"), c).startswith("liquidation_buffer")     # 1.8 % < 2 %
    assert plan.risk_reason(pair(liq_l="48900"), c) == ""                                # 2.2 %
    # 500 USDT per leg; fees 5.1 = 1.02 % -> stop-loss; 4.9 -> held
    assert plan.risk_reason(pair(fees="5.1"), c).startswith("stop_loss")
    assert plan.risk_reason(pair(fees="4.9"), c) == ""
    # entries 0.9 % apart: the legs' PnL sum is -4.5 = 0.9 % (drift), fees none
    assert plan.risk_reason(pair(entry_l="50225", entry_s="49775"), cfg(STOP_LOSS_PCT=5)).startswith("drift: legs")
    assert plan.risk_reason(pair(short_qty="0.0099"), c).startswith("drift: notional")      # 1 % imbalance
    assert plan.risk_reason(pair(short_qty="0.00995"), c) == ""                              # 0.5 %


def test_metrics_hand_computed():
    m = plan.pair_metrics(pair(mark="51000", fees="0.4", funding="-0.1"))
    assert m.net_pnl == D("-0.5") and m.net_pnl_pct == D("-0.1")          # of 500 USDT
    assert m.net_delta_qty == 0 and m.imbalance_pct == 0
    assert m.liq_distance_pct == {"LONG": round(4000 / 51000 * 100, 4), "SHORT": round(2000 / 51000 * 100, 4)}


def test_decide_follows_the_seed_loop():
    c = cfg()
    empty = PairView("BTCUSDT", None, None)
    assert plan.decide(empty, c, 0, None).action == "open"
    assert plan.decide(empty, c, 0, None, "paused").action == "wait"
    assert plan.decide(pair(fees="9"), c, 0, 10, "paused").action == "close"        # closes even when blocked
    assert plan.decide(pair(), c, 5, 10).action == "hold"
    assert plan.decide(pair(), c, 10, 10).action == "rotate"
    assert plan.decide(pair(), c, 10, 10, "kill-switch").action == "hold"


def test_balance_legs_trims_the_larger_leg_on_the_step():
    assert plan.balance_legs(D("0.010"), D("0.010"), D("0.001")) == ("", 0)
    assert plan.balance_legs(D("0.012"), D("0.010"), D("0.001")) == ("LONG", D("0.002"))
    assert plan.balance_legs(D("0.010"), D("0.0125"), D("0.001")) == ("SHORT", D("0.002"))


def test_rotation_never_before_the_hold_time():
    c = cfg(ROTATION_JITTER_PCT=10)
    hold = 90 * 60_000
    assert plan.rotation_due(0, c, 0.0, False) == hold
    assert plan.rotation_due(0, c, 1.0, False) == int(hold * 1.1)
    assert plan.rotation_due(0, c, 1.0, True) == hold                   # behind the pace: no extra wait
    assert plan.rotation_due(0, c, 7.0, False) == int(hold * 1.1)       # clamped


def test_pacing_hand_computed():
    c = cfg()                                              # 15,000 target, 90 min holds
    noon = 12 * 3_600_000
    p = plan.pacing(D("3000"), c, D("250"), noon)          # one rotation = 4 x 250 = 1000
    assert (p.remaining, p.per_rotation, p.rotations_needed, p.rotations_left) == (D("12000"), D("1000"), 12, 8)
    assert p.expected_by_now == D("7500") and p.behind and not p.reachable
    p = plan.pacing(D("15000"), c, D("250"), noon)
    assert p.rotations_needed == 0 and p.reachable
