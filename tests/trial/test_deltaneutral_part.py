"""The operator's trial invariants on hand-made /admin/state snapshots (pure)."""
from __future__ import annotations

from decimal import Decimal as D

from trial.deltaneutral_part import DELTA, LONE, ONE_PAIR, judge
from trial.invariants import EpisodeTracker


def snap(long=None, short=None, mark="50000"):
    positions = []
    if long:
        positions.append({"symbol": "BTCUSDT", "positionSide": "LONG", "amount": long, "entryPrice": "50000"})
    if short:
        positions.append({"symbol": "BTCUSDT", "positionSide": "SHORT", "amount": f"-{short}", "entryPrice": "50000"})
    return {"venue": {"venue_time": 0}, "markets": {"BTCUSDT": {"mark": mark}}, "accounts": {"k": {"positions": positions}}}


MAX = D("225")        # CAPITAL 1000 x 1.5 % x 15


def test_a_pair_is_clean():
    assert judge(snap("0.004", "0.004"), MAX, D("0.8")) == {LONE: {}, DELTA: {}, ONE_PAIR: {}}
    assert judge(snap(), MAX, D("0.8")) == {LONE: {}, DELTA: {}, ONE_PAIR: {}}


def test_lone_leg_delta_and_second_pair():
    assert list(judge(snap("0.004"), MAX, D("0.8"))[LONE]) == [("LONG",)]
    assert list(judge(snap(None, "0.004"), MAX, D("0.8"))[LONE]) == [("SHORT",)]
    assert judge(snap("0.004", "0.003"), MAX, D("0.8"))[DELTA]               # 25 % apart
    assert not judge(snap("0.004", "0.004"), MAX, D("0.8"))[DELTA]
    assert set(judge(snap("0.008", "0.008"), MAX, D("0.8"))[ONE_PAIR]) == {("LONG",), ("SHORT",)}   # 400 > 225


def test_an_episode_longer_than_the_limit_is_one_violation():
    t = EpisodeTracker(5.0)
    for wall in (0.0, 2.0, 4.0):
        t.observe(wall, 0, judge(snap("0.004"), MAX, D("0.8"))[LONE])
    t.observe(4.5, 0, {})
    assert t.violations == 0
    for wall in (10.0, 16.0):
        t.observe(wall, 0, judge(snap("0.004"), MAX, D("0.8"))[LONE])
    t.finish()
    assert t.violations == 1


def test_the_report_has_the_operators_section():
    from trial.report import _operator
    lines = _operator({"operator": {"pairs": 3, "trades": 9, "volume": "1534.15", "close_reasons": ["lone_leg", "rotation"],
                                    "exit_code": 0, "faults": [{"kind": "operator_kill", "recovery_s": 7.46},
                                                               {"kind": "leg_liquidated", "other_leg_closed_s": 0.32}]}})
    text = "\n".join(lines)
    assert "3 pairs, 9 trades" in text and "adopted after 7.46 s" in text and "SHORT closed after 0.32 s" in text
    assert _operator({}) == []
