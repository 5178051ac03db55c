"""One scan cycle: reconcile, universe, candles, signals, decisions, entries, FastTP, state, summary."""
from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable

from mraster.domain.sizing import SizingParams, margin_in_use
from mraster.exchange.errors import ExchangeError
from mraster.signals.indicators import atr as atr_series
from mraster.logs import get_logger
from mraster.signals.blockers import FilterParams
from mraster.signals.signals import SignalParams, latest_signals
from mraster.signals.universe import UniverseParams, select_universe
from mraster.safety import control
from mraster.safety.killswitch import entries_blocked
from bot.runtime.caps import enforce_notional_cap
from bot.runtime.context import Runtime
from bot.runtime.decide import DEFAULT_TAKER_FEE, ScanRecord, SymbolMarket, choose_entries, screen_symbols
from bot.runtime.fasttp_action import fasttp_pass
from bot.runtime.operator import QuietWatch, expired, finish_forced, forced_plan
from bot.runtime.reconcile import reconcile
from bot.runtime.setup import ensure_symbol_setup
from bot.runtime.trading import enter

log = get_logger("bot.cycle")
FEE_TTL_S = 3600.0
QUIET_REASONS = {"no_signal", "no_data", "warming_up"}
Critical = Callable[[Awaitable[Any]], Awaitable[Any]]


@dataclass
class CycleResult:
    cycle: int
    scanned: int = 0
    candidates: int = 0
    entries: int = 0
    skips: dict[str, int] = field(default_factory=dict)
    closed: int = 0
    adopted: int = 0
    fasttp: int = 0
    duration_ms: int = 0
    signal_ms: float = 0.0
    weight_used: int = 0
    weight_limit: int = 0
    kline_requests: int = 0
    equity: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FeeBook:
    """The account's taker fee, read from the venue at most once an hour (one symbol stands for the tier)."""

    def __init__(self) -> None:
        self.rate = DEFAULT_TAKER_FEE
        self._read_at = -math.inf

    async def taker(self, rt: Runtime, symbol: str | None) -> float:
        if symbol and time.monotonic() - self._read_at > FEE_TTL_S:
            try:
                _, taker = await rt.exchange.commission_rate(symbol)
                self.rate = float(taker)
            except ExchangeError as exc:
                log.warning("fees.unavailable", f"taker fee not read ({exc}); using {self.rate}")
            self._read_at = time.monotonic()
        return self.rate


async def atr_from_candles(rt: Runtime, symbol: str) -> float | None:
    bars = await rt.market.candles.closed(symbol, rt.settings.interval, rt.settings.klines, rt.now_ms())
    if len(bars) < 15:
        return None
    c = rt.market.candles.arrays(symbol, rt.settings.interval)
    value = float(atr_series(c.high, c.low, c.close, 14)[-1])
    return value if math.isfinite(value) and value > 0 else None


async def read_equity(rt: Runtime) -> Decimal | None:
    """Equity (total margin balance) from the account; None when it cannot be read (no entries then)."""
    try:
        acct = await rt.exchange.account()
    except ExchangeError as exc:
        log.warning("account.unavailable", f"account not read ({exc}); no entries this cycle")
        return None
    rt.state.equity = {"wallet": str(acct.total_wallet_balance), "margin_balance": str(acct.total_margin_balance),
                       "available": str(acct.available_balance), "upnl": str(acct.total_unrealized_profit)}
    rt.add_equity_point(float(acct.total_margin_balance))
    return acct.total_margin_balance


async def run_cycle(rt: Runtime, fees: FeeBook, critical: Critical, stopping: Callable[[], bool]) -> CycleResult:
    started = time.perf_counter()
    s = rt.settings
    st = rt.state
    st.cycle += 1
    res = CycleResult(cycle=st.cycle)
    kline_requests_before = rt.market.candles.requests
    rules, equity, tickers = await asyncio.gather(rt.market.rules(), read_equity(rt), rt.market.tickers())
    res.equity = None if equity is None else float(equity)

    report = await critical(reconcile(rt, rules, lambda sym: atr_from_candles(rt, sym)))
    res.closed, res.adopted = len(report.closed), len(report.adopted)

    universe = select_universe(tickers, rules, UniverseParams.from_settings(s), st.cycle)
    open_symbols = rt.open_symbols()
    forced = control.pending_force(s)
    if forced is not None and (expired(rt, forced) or forced.problem()):
        finish_forced(rt, forced, "refused", forced.problem() or "the request expired before the bot saw it")
        forced = None
    scanned = list(universe.symbols) + ([forced.symbol] if forced and forced.symbol not in universe.symbols
                                        and forced.symbol in rules else [])
    wanted = scanned + [x for x in open_symbols if x not in scanned]
    now = rt.now_ms()
    (candles, problems), (books, marks), taker = await asyncio.gather(
        rt.market.fetch_candles(wanted, s.interval, s.htf_interval, s.klines, now), rt.market.books_and_marks(),
        fees.taker(rt, universe.symbols[0] if universe.symbols else None))
    t_sig = time.perf_counter()
    params = SignalParams.from_settings(s)
    have = [sym for sym in scanned if (pair := candles.get(sym)) is not None and pair[0]]
    signals = dict(zip(have, latest_signals([(rt.market.candles.arrays(sym, s.interval),
                                              rt.market.candles.arrays(sym, s.htf_interval)) for sym in have], params)))
    stale = rt.market.stale_symbols(have, (s.interval, s.htf_interval), now, s.stale_grace_s)
    report_stale(rt, stale)
    markets = [SymbolMarket(sym, rules[sym], signals.get(sym), books.get(sym), marks.get(sym),
                            universe.liquidity_rank.get(sym, 1.0),
                            "stale_data" if sym in stale else
                            None if sym in signals else ("no_data" if sym in problems or sym not in candles
                                                         else "warming_up"), stale.get(sym, ""))
               for sym in scanned]
    forced_market = next((m for m in markets if forced and m.symbol == forced.symbol), None)
    markets = [m for m in markets if m.symbol in universe.symbols]
    fparams = FilterParams.from_settings(s)
    records, candidates = screen_symbols(markets, fparams, set(open_symbols), rt.policy.estimate,
                                         {m.symbol: taker for m in markets})
    res.signal_ms = round((time.perf_counter() - t_sig) * 1000.0, 3)
    res.scanned, res.candidates = len(markets), len(candidates)

    blocked = entries_blocked(s)   # THE entry check of the kill-switch latch (mraster/safety/killswitch.py)
    paused = control.entries_paused(s)      # the dashboard's pause: no new entries, the rest goes on
    if stopping() or equity is None or blocked or paused:
        for c in candidates:
            c.record.reason = "stopping" if stopping() else ("kill_switch" if blocked else
                                                             "account_unavailable" if equity is None else "paused")
            c.record.detail = paused if c.record.reason == "paused" else c.record.detail
        candidates = []
    plans = choose_entries(candidates, open_symbols=open_symbols, max_global=s.max_open_global,
                           max_per_symbol=s.max_open_per_symbol, decide=rt.policy.decide,
                           sizing=SizingParams.from_settings(s), sl_mult=s.sl_atr_mult, equity=equity,
                           margin_used=margin_in_use(report.positions), market_order=s.entry_order == "MARKET",
                           entry_band=s.entry_band,
                           setup_refused=await setup_candidates(rt, candidates,
                                                                len(open_symbols) < s.max_open_global))
    if forced is not None:
        refusal = "the bot is stopping" if stopping() else blocked or (
            "the account could not be read" if equity is None else "")
        plan, why = (None, refusal) if refusal else forced_plan(
            rt, forced, forced_market, equity, margin_in_use(report.positions) + sum(p.size.margin for p in plans))
        if plan is None or plan.symbol in {p.symbol for p in plans}:
            finish_forced(rt, forced, "refused", why or f"{forced.symbol}: this cycle already enters there")
        else:
            trade, outcome = await critical(enter(rt, plan))
            if outcome == "enter":
                await critical(enforce_notional_cap(rt, trade, plan.rules))
                res.entries += 1
            finish_forced(rt, forced, outcome, plan.record.detail if outcome == "enter" else outcome,
                          trade.trade_id if trade is not None else "")
    planned = {p.symbol: p for p in plans}
    for c in candidates:             # decisions that opened nothing still go to the policy's event log
        if c.decision is not None and c.market.symbol not in planned:
            key = f"sig-{c.market.symbol}-{c.ctx.time_ms}"
            rt.policy.record_decision(rt.journal.conn, key, now, c.ctx, c.decision)   # SKIP: reward 0
    for plan in plans:
        if stopping():
            plan.record.decision, plan.record.reason = "skip", "stopping"
            continue
        trade, outcome = await critical(enter(rt, plan))
        if outcome == "enter":
            await critical(enforce_notional_cap(rt, trade, plan.rules))
        plan.record.reason = outcome
        plan.record.decision = "enter" if trade is not None else "skip"
        if trade is not None:
            res.entries += 1

    prices = {sym: m.mark_price for sym, m in marks.items()}
    res.fasttp = await critical(fasttp_pass(rt, {k: v[0] for k, v in candles.items()}, prices, rules))

    for rec in records.values():
        _log_decision(rec)
    res.skips = dict(Counter(r.reason for r in records.values() if r.decision != "enter"))
    rt.quiet = rt.quiet or QuietWatch()
    quiet = rt.quiet.observe(res.entries, records)
    if quiet:
        log.info("entries.none", quiet, skips=res.skips, activity=True)
    res.kline_requests = rt.market.candles.requests - kline_requests_before
    status = rt.exchange.status()
    res.weight_used, res.weight_limit = status.used_weight_1m, status.weight_limit_1m
    res.duration_ms = int((time.perf_counter() - started) * 1000)
    st.universe = list(universe.symbols)
    st.last_scan = {"cycle": st.cycle, "time_ms": now, "summary": res.to_json(),
                    "reconcile": report.to_json(), "symbols": {k: r.to_json() for k, r in records.items()},
                    "excluded": dict(universe.excluded), "rotated_in": list(universe.rotated_in)}
    st.client = asdict(status)
    st.policy = rt.policy.summary()
    st.ai_hints = rt.policy.hints()
    return res


async def setup_candidates(rt: Runtime, candidates: list[Any], room: bool) -> dict[str, str]:
    """Margin type and leverage for every candidate symbol not set up yet (only when a slot is free);
    symbol -> problem for those the venue refused (their entries wait, setup.py)."""
    if not room:
        return {}
    symbols = list(dict.fromkeys(c.market.symbol for c in candidates))
    problems = await asyncio.gather(*(ensure_symbol_setup(rt, sym) for sym in symbols))
    return {sym: p for sym, p in zip(symbols, problems) if p}


def report_stale(rt: Runtime, stale: dict[str, str]) -> None:
    """Every symbol blocked by stale data, with its age, logged each cycle: as a warning (activity feed)
    when the set of such symbols changes, as info while it stays the same."""
    was = set(rt.stale_symbols)
    rt.stale_symbols = dict(stale)
    if not stale:
        if was:
            log.info("data.fresh", "candles fresh again; entries allowed on " + ", ".join(sorted(was)),
                     symbols=sorted(was), activity=True)
        return
    text = "; ".join(f"{sym}: {why}" for sym, why in sorted(stale.items()))
    emit = log.warning if set(stale) != was else log.info
    emit("data.stale", f"no entries on stale data (exits and protection go on): {text}", symbols=sorted(stale),
         detail=stale, activity=set(stale) != was)


def _log_decision(rec: ScanRecord) -> None:
    fields = rec.to_json()
    fields.pop("decision")
    fields.pop("reason")
    msg = f"{rec.symbol}: {rec.decision} ({rec.reason})"
    if rec.decision != "enter":
        fields["group"] = "skip"       # one line per symbol and cycle: the logs page folds them
    if rec.reason in QUIET_REASONS:
        log.debug("decision", msg, symbol=rec.symbol, decision=rec.decision, reason=rec.reason, **fields)
    else:
        log.info("decision", msg, symbol=rec.symbol, decision=rec.decision, reason=rec.reason, **fields)
