"""The decision step without I/O: blockers in order, edge source, limits, policy and sizing."""
from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace


from mraster.domain.sizing import SizingParams
from mraster.domain.types import BookTicker, MarkPrice
from bot.runtime.decide import SymbolMarket, choose_entries, screen_symbols
from bot.runtime.policy_gate import GateDecision
from mraster.signals import FilterParams, SignalRow

from tests.bot.conftest import make_rules

FP = FilterParams()


def row(side=1, rsi=70.0, htf=60.0, atr=1.0, close=100.0, wick=0.5, aligned=True):
    return SignalRow(rsi=rsi, htf_rsi=htf, atr=atr, wickiness=wick, recent_vol=0.01, ret1=0.0, ret3=0.0,
                     raw_side=side, aligned=aligned, side=side if aligned else 0, close=close, time_ms=123)


def market(sym, sig=None, bid=99.99, ask=100.01, funding=0.0001, rank=0.0, problem=None):
    return SymbolMarket(sym, make_rules(sym, tick="0.01"), sig,
                        BookTicker(sym, bid, 1.0, ask, 1.0), MarkPrice(sym, 100.0, 100.0, funding, 0, 0), rank, problem)


def no_estimate(ctx):
    return None


def test_each_symbol_gets_exactly_one_reason():
    markets = [market("A", problem="no_data"), market("B", row(atr=float("nan"))),
               market("C", row(side=0, rsi=50.0)), market("D", row(aligned=False)),
               market("E", row(), bid=99.0, ask=101.0), market("F", row(wick=0.99)),
               market("G", row(), funding=0.002), market("H", row(rsi=52.0)), market("I", row()),
               market("J", row(side=-1, rsi=30.0, htf=40.0), funding=0.002), market("K", row(htf=float("nan"),
                                                                                          aligned=False))]
    records, cands = screen_symbols(markets, FP, {"I"}, no_estimate, {})
    assert {s: r.reason for s, r in records.items()} == {
        "A": "no_data", "B": "warming_up", "C": "no_signal", "D": "htf_disagree", "E": "spread",
        "F": "wickiness", "G": "funding", "H": "edge", "I": "position_open", "J": "candidate", "K": "warming_up"}
    assert [c.market.symbol for c in cands] == ["J"] and cands[0].edge.source == "heuristic"
    assert cands[0].ctx.side == -1 and cands[0].ctx.funding_rate == 0.002 and cands[0].ctx.spread_frac > 0


def test_alpha_estimate_replaces_the_heuristic_when_confident():
    confident = SimpleNamespace(confident=True, expected_r=0.01, win_prob=0.4, message="alpha")
    records, cands = screen_symbols([market("A", row())], FP, set(), lambda ctx: confident, {})
    assert records["A"].reason == "edge" and records["A"].edge_source == "alpha" and records["A"].edge == 0.01
    learning = SimpleNamespace(confident=False, expected_r=None, win_prob=None, message="learning: 3 of 30")
    records, cands = screen_symbols([market("A", row())], FP, set(), lambda ctx: learning, {})
    assert records["A"].edge_source == "heuristic" and "learning" in records["A"].detail + cands[0].edge.detail


def test_candidates_ranked_by_edge_then_limits_policy_and_sizing():
    markets = [market("A", row(rsi=60.0)), market("B", row(rsi=80.0)), market("C", row(rsi=70.0)),
               market("D", row(rsi=65.0))]
    _, cands = screen_symbols(markets, FP, set(), no_estimate, {})
    assert [c.market.symbol for c in cands] == ["B", "C", "D", "A"]
    asked = []

    def decide(ctx):
        asked.append(ctx.symbol)
        return GateDecision("SKIP" if ctx.symbol == "C" else "L", "L", False, {"L": {"score": 1.0}})
    plans = choose_entries(cands, open_symbols=["Z"], max_global=3, max_per_symbol=1, decide=decide,
                           sizing=SizingParams(), sl_mult=1.3, equity=D(10000), margin_used=D(0),
                           market_order=True)
    assert [p.symbol for p in plans] == ["B", "D"]
    assert asked == ["B", "C", "D"]                 # A never reaches the policy: the global limit is hit
    reasons = {c.market.symbol: c.record.reason for c in cands}
    assert reasons == {"B": "enter", "C": "policy_skip", "D": "enter", "A": "max_open_global"}
    b = plans[0]
    assert b.price == D("100.01") and b.size.qty > 0 and b.decision.arm == "L"


def test_sizing_rejection_is_a_reason_not_an_entry():
    _, cands = screen_symbols([market("A", row())], FP, set(), no_estimate, {})
    plans = choose_entries(cands, open_symbols=[], max_global=3, max_per_symbol=1,
                           decide=lambda ctx: GateDecision("M", "M", True), sl_mult=1.3, equity=D(100),
                           sizing=SizingParams(equity_fraction=0.01), margin_used=D(0), market_order=True)
    assert plans == [] and cands[0].record.reason == "equity_fraction"
