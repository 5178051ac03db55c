"""The decision step of a cycle, without I/O: market facts in, scan records and entry plans out.

Order for each symbol (the first that applies is the recorded reason):
no_data / stale_data / warming_up -> position_open -> no_signal -> htf_disagree -> spread -> wickiness
-> funding -> edge. Survivors are candidates, taken best edge first through: max_open_symbol /
max_open_global -> setup_failed (the symbol's margin type or leverage refused, cycle.py) -> the policy
(policy_skip) -> sizing (equity_fraction, size; the cap checked at the worst fill price). The policy is
asked only for candidates that could really be entered, so it never learns from a trade
the limits would have refused anyway.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from mraster.domain.rules import SymbolRules, to_decimal
from mraster.domain.sizing import SizeDecision, SizingParams, SizingRejected, open_slots, size_position
from mraster.domain.types import BookTicker, MarkPrice, Side
from mraster.signals.blockers import EdgeEstimateValue, FilterParams, costs_in_r, heuristic_edge, heuristic_win_prob, screen
from mraster.signals.signals import SignalRow
from bot.runtime.policy_gate import GateDecision

DEFAULT_TAKER_FEE = 0.0004


@dataclass(slots=True)
class SymbolMarket:
    """What the cycle knows about one symbol."""
    symbol: str
    rules: SymbolRules
    signal: SignalRow | None
    book: BookTicker | None
    mark: MarkPrice | None
    liquidity_rank: float = 0.0
    data_problem: str | None = None      # "no_data" when candles could not be had, "stale_data" when too old
    data_detail: str = ""


@dataclass(slots=True)
class ScanRecord:
    symbol: str
    decision: str = "skip"               # "enter" or "skip"
    reason: str = ""
    side: int = 0
    rsi: float = float("nan")
    htf_rsi: float = float("nan")
    atr: float = float("nan")
    close: float = float("nan")
    spread: float = float("nan")
    funding: float = float("nan")
    wickiness: float = float("nan")
    edge: float = float("nan")
    edge_source: str = ""
    arm: str = ""
    policy_arm: str = ""
    scores: dict[str, Any] = field(default_factory=dict)
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), 8)
        return {"decision": self.decision, "reason": self.reason, "side": self.side, "rsi": num(self.rsi),
                "htf_rsi": num(self.htf_rsi), "atr": num(self.atr), "close": num(self.close),
                "spread": num(self.spread), "funding": num(self.funding), "wickiness": num(self.wickiness),
                "edge": num(self.edge), "edge_source": self.edge_source, "arm": self.arm,
                "policy_arm": self.policy_arm, "scores": self.scores, "detail": self.detail}


@dataclass(slots=True)
class Candidate:
    market: SymbolMarket
    record: ScanRecord
    ctx: Any                             # ml_policy SignalContext
    edge: EdgeEstimateValue
    decision: GateDecision | None = None  # set once the policy was asked


@dataclass(slots=True)
class EntryPlan:
    symbol: str
    side: Side
    price: Decimal                       # reference price: ask for a long, bid for a short
    atr: float
    size: SizeDecision
    decision: GateDecision
    ctx: Any
    record: ScanRecord
    rules: SymbolRules
    signal: SignalRow


def make_context(m: SymbolMarket, side: int, spread: float, funding: float, reward_risk: float) -> Any:
    from ml_policy.context import SignalContext
    s = m.signal
    assert s is not None
    return SignalContext(symbol=m.symbol, side=side, time_ms=s.time_ms, rsi=s.rsi, htf_rsi=s.htf_rsi,
                         atr_frac=s.atr / s.close if s.close > 0 else float("nan"), spread_frac=spread,
                         funding_rate=funding, wickiness=s.wickiness, recent_vol=s.recent_vol,
                         liquidity_rank=m.liquidity_rank, reward_risk=reward_risk)


def edge_for(m: SymbolMarket, estimate: Any, params: FilterParams, taker_fee: float) -> EdgeEstimateValue:
    """The policy's alpha estimate when it is confident, otherwise the documented heuristic."""
    s = m.signal
    assert s is not None and m.book is not None
    if estimate is not None and getattr(estimate, "confident", False) and estimate.expected_r is not None:
        return EdgeEstimateValue(float(estimate.expected_r), "alpha", float(estimate.win_prob or float("nan")),
                                 getattr(estimate, "message", ""))
    stop_distance = params.sl_mult * s.atr
    cost = costs_in_r(s.close, m.book.ask_price - m.book.bid_price, taker_fee, stop_distance)
    edge = heuristic_edge(s.rsi, params.reward_risk, cost)
    note = getattr(estimate, "message", "") if estimate is not None else "policy unavailable"
    return EdgeEstimateValue(float(edge), "heuristic", float(heuristic_win_prob(s.rsi, params.reward_risk)),
                             f"costs {cost:.3f} R; {note}".strip("; "))


def screen_symbols(markets: Iterable[SymbolMarket], params: FilterParams, busy_symbols: set[str],
                   estimate: Any, taker_fees: Mapping[str, float]) -> tuple[dict[str, ScanRecord], list[Candidate]]:
    """Records for every symbol and the candidates that passed every blocker (best edge first).
    `estimate(ctx)` returns the policy's EdgeEstimate or None."""
    records: dict[str, ScanRecord] = {}
    candidates: list[Candidate] = []
    for m in markets:
        rec = ScanRecord(m.symbol)
        records[m.symbol] = rec
        s = m.signal
        if m.data_problem or s is None:
            rec.reason = m.data_problem or "no_data"
            rec.detail = m.data_detail
            continue
        rec.rsi, rec.htf_rsi, rec.atr, rec.close, rec.wickiness = s.rsi, s.htf_rsi, s.atr, s.close, s.wickiness
        rec.side = s.side
        spread = m.book.spread_fraction if m.book is not None else float("nan")
        funding = m.mark.funding_rate if m.mark is not None else float("nan")
        rec.spread, rec.funding = spread, funding
        if not s.warmed_up or htf_missing(s):
            rec.reason = "warming_up"
            continue
        if m.symbol in busy_symbols:
            rec.reason = "position_open"
            continue
        reason = screen(s.side, s.aligned, s.raw_side, spread, s.wickiness,
                        funding if math.isfinite(funding) else 0.0, params)
        if reason is not None:
            rec.reason = reason
            continue
        ctx = make_context(m, s.side, spread, funding if math.isfinite(funding) else 0.0, params.reward_risk)
        edge = edge_for(m, estimate(ctx), params, taker_fees.get(m.symbol, DEFAULT_TAKER_FEE))
        rec.edge, rec.edge_source = edge.edge_r, edge.source
        if not (edge.edge_r >= params.min_edge_r):
            rec.reason = "edge"
            rec.detail = edge.detail
            continue
        rec.reason = "candidate"
        candidates.append(Candidate(m, rec, ctx, edge))
    candidates.sort(key=lambda c: (-c.edge.edge_r, c.market.liquidity_rank, c.market.symbol))
    return records, candidates


def htf_missing(s: SignalRow) -> bool:
    """A raw signal whose alignment could not be judged (no HTF RSI yet) is still warming up."""
    return s.raw_side != 0 and not s.aligned and not math.isfinite(s.htf_rsi)


def cap_price(side: Side, price: Decimal, rules: SymbolRules, market_order: bool, band: float) -> Decimal:
    """The highest price an entry may fill at, which the notional cap is checked against.

    A LIMIT_IOC buy cannot fill above its limit (the same price `trading.entry_request` sends), a hard
    bound. A MARKET buy, and a sell of either kind (it fills higher if the market rises before it
    arrives), get the slippage allowance ASTER_ENTRY_BAND beyond the price read this cycle."""
    factor = to_decimal(1 + band)
    if side is Side.BUY and not market_order:
        return rules.round_price(price * factor, "down")
    return price * factor


def choose_entries(candidates: list[Candidate], *, open_symbols: list[str], max_global: int, max_per_symbol: int,
                   decide: Any, sizing: SizingParams, sl_mult: float, equity: Decimal | None,
                   margin_used: Decimal, market_order: bool, entry_band: float = 0.0,
                   setup_refused: Mapping[str, str] | None = None) -> list[EntryPlan]:
    """Walk the candidates best-first; `decide(ctx) -> GateDecision` is the policy; `setup_refused` maps
    the symbols whose margin type or leverage the venue refused to the reason."""
    plans: list[EntryPlan] = []
    taken = list(open_symbols)
    margin = margin_used
    for c in candidates:
        rec, m = c.record, c.market
        limit = open_slots(taken, m.symbol, max_global, max_per_symbol)
        if limit:
            rec.reason = limit
            continue
        if setup_refused and m.symbol in setup_refused:
            rec.reason, rec.detail = "setup_failed", setup_refused[m.symbol]
            continue
        d: GateDecision = decide(c.ctx)
        c.decision = d
        rec.arm, rec.policy_arm, rec.scores = d.arm, d.policy_arm, d.scores
        if d.arm == "SKIP":
            rec.reason = "policy_skip"
            continue
        side = Side.BUY if c.ctx.side > 0 else Side.SELL
        assert m.book is not None and m.signal is not None
        price = to_decimal(m.book.ask_price if side is Side.BUY else m.book.bid_price)
        try:
            size = size_position(equity=equity, price=price, stop_distance=to_decimal(sl_mult * m.signal.atr),
                                 bucket=d.arm, rules=m.rules, params=sizing, margin_in_use=margin,
                                 market=market_order,
                                 worst_price=cap_price(side, price, m.rules, market_order, entry_band))
        except SizingRejected as exc:
            rec.reason, rec.detail = exc.reason, str(exc)
            continue
        rec.decision, rec.reason = "enter", "enter"
        rec.detail = "; ".join(size.notes)
        plans.append(EntryPlan(m.symbol, side, price, m.signal.atr, size, d, c.ctx, rec, m.rules, m.signal))
        taken.append(m.symbol)
        margin += size.margin
    return plans
