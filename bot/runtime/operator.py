"""What a person asks of the running bot from the dashboard (mraster/safety/control.py), and what the
bot tells them back when it does not trade.

- pause: no new entries while the dashboard's pause file says so; reconciliation, brackets and FastTP go on.
- forced entry: one entry on a named symbol and side, through the normal entry path (`decide.size_position`
  sizing, symbol setup, `trading.enter` with its stop and take-profit); refused with a reason when a
  position is open there, the kill-switch or the disk forbid entries, the market data is missing or no
  size fits. Handled at most once per request id; a request older than FORCE_TTL_MS expires.
- quiet entries: when no entry was made for QUIET_CYCLES cycles while signals fired, one activity
  line says so with the dominant skip reasons (so "why doesn't it trade?" has an answer).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

from mraster.domain.sizing import SizingParams, SizingRejected, size_position
from mraster.domain.rules import to_decimal
from mraster.domain.types import Side
from mraster.logs import get_logger
from mraster.safety import control
from mraster.signals.blockers import FilterParams
from bot.runtime.context import Runtime
from bot.runtime.decide import EntryPlan, ScanRecord, SymbolMarket, cap_price, make_context
from bot.runtime.policy_gate import GateDecision

log = get_logger("bot.operator")
FORCE_TTL_MS = 300_000
QUIET_CYCLES = 10
SIGNAL_REASONS_IGNORED = {"no_signal", "no_data", "warming_up", "stale_data", "position_open"}


def forced_plan(rt: Runtime, req: control.ForceRequest, market: SymbolMarket | None, equity: Any,
                margin_used: Any) -> tuple[EntryPlan | None, str]:
    """The entry plan of a forced request, or (None, why not)."""
    s = rt.settings
    if market is None or market.signal is None or market.book is None:
        return None, f"{req.symbol}: no market data (candles, book) for it this cycle"
    if req.symbol in rt.open_symbols():
        return None, f"{req.symbol}: a position is already open there"
    atr = market.signal.atr
    if not (isinstance(atr, float) and math.isfinite(atr) and atr > 0):
        return None, f"{req.symbol}: no ATR yet, so no stop distance"
    side = Side.BUY if req.side == "LONG" else Side.SELL
    price = to_decimal(market.book.ask_price if side is Side.BUY else market.book.bid_price)
    market_order = s.entry_order == "MARKET"
    try:
        size = size_position(equity=equity, price=price, stop_distance=to_decimal(s.sl_atr_mult * atr),
                             bucket=req.bucket, rules=market.rules, params=SizingParams.from_settings(s),
                             margin_in_use=margin_used, market=market_order,
                             worst_price=cap_price(side, price, market.rules, market_order, s.entry_band))
    except SizingRejected as exc:
        return None, f"sizing refused ({exc.reason}): {exc}"
    rec = ScanRecord(req.symbol, decision="enter", reason="forced", side=1 if side is Side.BUY else -1,
                     atr=atr, close=market.signal.close, detail=f"forced entry {req.id} by {req.by or 'the dashboard'}")
    funding = market.mark.funding_rate if market.mark is not None else 0.0
    ctx = make_context(market, rec.side, market.book.spread_fraction, funding if math.isfinite(funding) else 0.0,
                       FilterParams.from_settings(s).reward_risk)
    decision = GateDecision(arm=req.bucket, policy_arm="FORCED", shadow=True, scores={},
                            detail={"forced": req.id, "by": req.by})
    return EntryPlan(req.symbol, side, price, atr, size, decision, ctx, rec, market.rules, market.signal), ""


def finish_forced(rt: Runtime, req: control.ForceRequest, outcome: str, detail: str, trade_id: str = "") -> None:
    control.write_result(control.result_path(rt.settings), req.id, outcome, detail, trade_id, rt.wall_ms())
    emit = log.info if outcome == "enter" else log.warning
    emit("entry.forced", f"forced entry {req.side} {req.symbol} ({req.bucket}): {outcome}"
         + (f" - {detail}" if detail else ""), symbol=req.symbol, outcome=outcome, request=req.id,
         trade_id=trade_id, activity=True)


def expired(rt: Runtime, req: control.ForceRequest) -> bool:
    return rt.wall_ms() - req.requested_ms > FORCE_TTL_MS


class QuietWatch:
    """Counts cycles without an entry while signals fire; says why every QUIET_CYCLES such cycles."""

    def __init__(self, every: int | None = None):
        self.every = QUIET_CYCLES if every is None else every
        self.cycles = 0
        self.reasons: Counter[str] = Counter()

    def observe(self, entries: int, records: dict[str, ScanRecord]) -> str:
        """Feed one cycle; returns the activity text when it is time to say something ("" otherwise)."""
        fired = [r.reason for r in records.values()
                 if r.decision != "enter" and r.reason not in SIGNAL_REASONS_IGNORED]
        if entries or not fired:
            if entries:
                self.cycles, self.reasons = 0, Counter()
            return ""
        self.cycles += 1
        self.reasons.update(fired)
        if self.cycles < self.every:
            return ""
        top = ", ".join(f"{reason} {n}" for reason, n in self.reasons.most_common(3))
        text = (f"no entry for {self.cycles} cycles while signals fired ({sum(self.reasons.values())} skipped); "
                f"mostly: {top}")
        self.cycles, self.reasons = 0, Counter()
        return text
