"""The momentum engine's loop (seed `core/main.py`): every second, cache -> closed bars -> signals ->
decisions -> orders, then the status file.

Per tick:
1. each symbol takes the bar the market cache saw close (REST fills a missed bar) and, once per new bar,
   is judged by the shared signal (momentum/signal.py);
2. with trading on: positions are read when the engine holds any or wants to enter; a symbol the venue
   shows flat has its sibling exits cancelled, its trade closed in the journal and its cooldown started;
   missing exits are re-armed; the margin kill-switch is checked on the account's safety multiple;
   from ASTER_FORCE_EXIT_UTC open positions are closed; entries pass `admit` (schedule, kill-switch latch,
   one position per symbol, cooldown) and go out as IOC at the touch, exits armed on the fill;
3. with trading off: the signals are logged, nothing is sent.
The engine only cancels or closes orders whose client id it owns (`mraster.domain.ownership`).
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Protocol

from mraster.domain.ownership import OrderIds
from mraster.domain.rules import SymbolRules
from mraster.domain.types import Kline, Position
from mraster.exchange.errors import ExchangeError
from mraster.exchange.interface import Exchange
from mraster.exchange.market_cache import SymbolSnapshot
from mraster.logs import get_logger
from mraster.signals.momentum_params import SymbolParams, load_params, params_digest
from mraster.storage.atomic import CorruptFileError

from momentum.bars import MINUTE_MS, Bars
from momentum.config import EngineConfig
from momentum.orders import schedule_phase
from momentum.signal import BarSignal, Quote, judge
from momentum.state import SymbolState, load_state, save_state

log = get_logger("momentum")
GAP_GRACE_MS = 3_000            # a bar not seen closed this long after its end is fetched over REST
STALE_SIGNAL_MS = 10_000        # a bar judged later than this after its close (or two ticks) is not acted on


class Cache(Protocol):
    def snapshot(self, symbol: str) -> SymbolSnapshot: ...
    def venue_now_ms(self) -> int: ...


@dataclass
class SymbolRun:
    symbol: str
    bars: Bars
    params: SymbolParams
    params_source: str = "defaults"
    signal: BarSignal | None = None
    judged_open: int | None = None          # open time of the last bar judged
    fresh_side: int = 0                     # the side of a bar judged this tick (entries act on it once)
    last_action: str = ""
    signal_ms: int = 0                      # venue ms the fresh signal was judged
    signal_t: float = 0.0                   # perf_counter of that moment (signal-to-entry latency)


@dataclass
class Decision:
    symbol: str
    side: int
    action: str                             # enter, skip:<why>, dry
    detail: dict[str, Any] = field(default_factory=dict)


class Engine:
    def __init__(self, client: Exchange, cache: Cache, cfg: EngineConfig, *, settings: Any = None,
                 journal: Any = None, entries_blocked: Callable[[], str] | None = None,
                 fire_latch: Callable[[str, dict[str, Any]], None] | None = None,
                 now_ms: Callable[[], int] | None = None, gate: Any = None):
        self.client, self.cache, self.cfg = client, cache, cfg
        self.settings, self.journal = settings, journal
        self.ids = OrderIds(cfg.instance)
        self.entries_blocked = entries_blocked or (lambda: "")
        self.fire_latch = fire_latch
        self.gate = gate                        # the account's risk gate (mraster/safety/gate.py), shared by engines
        self.now_ms = now_ms or cache.venue_now_ms
        assert cfg.defaults is not None
        self.defaults = cfg.defaults
        self.file_params: dict[str, SymbolParams] = {}
        self.params_problem = ""
        self._params_stamp: tuple[int, int] | None = None
        self.runs = {s: SymbolRun(s, Bars(256), cfg.defaults) for s in cfg.symbols}
        self.states: dict[str, SymbolState] = {s: SymbolState() for s in cfg.symbols}
        self.rules: dict[str, SymbolRules] = {}
        self.taker_fee_bps = cfg.taker_fee_bps
        self.forced: dict[str, int] = {}        # symbol -> side: a signal forced for the next tick (tests, ops)
        self.decisions: list[Decision] = []
        self.latencies_ms: list[float] = []     # signal judged -> entry acknowledged by the venue (ms)
        self.kill: dict[str, Any] = {}
        self.phase = "open"
        self.problems: list[str] = []
        self.started_wall = time.time()
        self.ticks = 0
        self.tick_ms = 0.0
        self._stop = asyncio.Event()
        self._gap_tried_ms: dict[str, int] = {}
        self._gap_tasks: dict[str, asyncio.Task[None]] = {}
        self._last_now = 0
        self._intervals: deque[int] = deque(maxlen=15)
        self.tick_venue_ms = 0
        from momentum.trading import Trading           # the order side, kept in its own module
        self.trading = Trading(self)

    # ------------------------------------------------------------------ parameters
    def reload_params(self) -> None:
        """Re-read the parameter file when it changed; a bad file keeps the previous parameters (reported)."""
        path = self.cfg.params_file
        try:
            st = path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._params_stamp:
            return
        self._params_stamp = stamp
        try:
            loaded = load_params(path)
        except CorruptFileError as exc:
            self.params_problem = str(exc)
            log.error("momentum.params_invalid", f"parameter file rejected, previous parameters kept: {exc}")
            return
        self.params_problem = ""
        self.file_params = loaded or {}
        for sym, run in self.runs.items():
            p = self.file_params.get(sym, self.defaults)
            if p != run.params:
                run.params = p
                run.judged_open = None          # judged again with the new parameters at the next bar
            run.params_source = "file" if sym in self.file_params else "defaults"
            run.bars.ensure_cap(max(256, 2 * p.warmup_bars))
        log.info("momentum.params", f"parameters loaded from {path}" if loaded else "no parameter file: defaults",
                 symbols=sorted(self.file_params))

    def config_of(self, sym: str) -> dict[str, Any]:
        run = self.runs[sym]
        p = run.params
        cd = p.cooldown_min if p.cooldown_min is not None else self.cfg.cooldown_min
        return {**p.to_json(), "cooldown_min": cd, "source": run.params_source,
                "config_id": p.config_id or f"p-{params_digest(p)}"}

    def cooldown_ms(self, sym: str) -> int:
        p = self.runs[sym].params
        return (p.cooldown_min if p.cooldown_min is not None else self.cfg.cooldown_min) * MINUTE_MS

    # ------------------------------------------------------------------ start
    async def start(self) -> None:
        self.reload_params()
        states, problem = load_state(self.cfg.state_path)
        if problem:
            self.problems.append(problem)
            log.error("momentum.state_corrupt", problem)
        for s in self.cfg.symbols:
            self.states[s] = states.get(s, SymbolState())
        self.rules = await self.client.symbol_rules()
        unknown = [s for s in self.cfg.symbols if s not in self.rules]
        if unknown:
            raise ValueError(f"the venue does not list {', '.join(unknown)}")
        await asyncio.gather(*(self.seed_bars(s) for s in self.cfg.symbols))
        if self.cfg.enable_trading:
            await self.trading.setup()
        self.save()

    async def seed_bars(self, sym: str) -> None:
        run = self.runs[sym]
        limit = min(1500, max(run.params.warmup_bars, self.defaults.warmup_bars) + 5)
        try:
            klines = await self.client.klines(sym, "1m", limit=limit)
        except ExchangeError as exc:
            log.warning("momentum.seed_failed", f"{sym}: closed bars not seeded ({exc}); the stream fills them",
                        symbol=sym)
            return
        now = self.now_ms()
        run.bars.extend(k for k in klines if k.close_time < now)

    # ------------------------------------------------------------------ one tick
    def _quote(self, snap: SymbolSnapshot) -> Quote | None:
        b = snap.latest_bbo
        if b is None or b.bid_price <= 0 or b.ask_price <= 0:
            return None
        rate = snap.latest_funding.funding_rate if snap.latest_funding is not None else 0.0
        return Quote(b.bid_price, b.ask_price, rate)

    def update_symbol(self, sym: str, now: int) -> bool:
        """Take the newest closed bar from the cache and judge it once. True when bars are missing (the
        caller fetches them over REST and calls again)."""
        run = self.runs[sym]
        snap = self.cache.snapshot(sym)
        closed: Kline | None = snap.latest_closed_kline_1m
        run.fresh_side = 0
        missing = False
        if closed is not None and (run.bars.last_open is None or closed.open_time == run.bars.last_open + MINUTE_MS):
            run.bars.add(closed)
        elif closed is not None and closed.open_time > (run.bars.last_open or 0):
            missing = True                      # bars in between were missed
        last = run.bars.last_open
        if last is not None and now - (last + 2 * MINUTE_MS) > GAP_GRACE_MS:
            missing = True                      # the next bar closed a while ago and was not seen
        if not missing and last is not None and last != run.judged_open:
            run.judged_open = last
            run.signal = judge(run.bars, run.params, self._quote(snap))
            # acted on only while fresh: a bar that closed long ago (fetched after a gap, a restart) is shown
            fresh = now - (last + MINUTE_MS) <= max(STALE_SIGNAL_MS, 2 * self.tick_venue_ms)
            run.fresh_side = run.signal.side if fresh else 0
            run.signal_ms, run.signal_t = now, time.perf_counter()
        forced = self.forced.pop(sym, 0)
        if forced:
            run.fresh_side, run.signal_ms, run.signal_t = forced, now, time.perf_counter()
        return missing

    async def fill_gap(self, sym: str) -> None:
        run = self.runs[sym]
        now = self.now_ms()
        if now - self._gap_tried_ms.get(sym, -GAP_GRACE_MS * 2) < 2 * GAP_GRACE_MS:
            return                              # at most one REST fill per symbol every few seconds
        self._gap_tried_ms[sym] = now
        need = max(3, (self.now_ms() - (run.bars.last_open or 0)) // MINUTE_MS + 2)
        try:
            klines = await self.client.klines(sym, "1m", limit=int(min(need, 1500)))
        except ExchangeError as exc:
            log.warning("momentum.gap_fill_failed", f"{sym}: missed bars not fetched ({exc})", symbol=sym)
            return
        now = self.now_ms()
        run.bars.extend(k for k in klines if k.close_time < now)

    def decide_cache(self, now: int) -> list[str]:
        """Step 1 for every symbol (pure over the cache): the symbols whose bars need a REST fill."""
        return [s for s in self.cfg.symbols if self.update_symbol(s, now)]

    async def tick(self) -> list[Decision]:
        t0 = time.perf_counter()
        now = self.now_ms()
        if self._last_now:                      # venue ms per tick (a fast paper market runs many per second)
            self._intervals.append(max(0, now - self._last_now))
            self.tick_venue_ms = sorted(self._intervals)[len(self._intervals) // 2]     # median of the last 15
        self._last_now = now
        self.reload_params()
        gaps = self.decide_cache(now)
        for s in gaps:                          # fetched beside the loop: a slow venue never stalls a tick
            task = self._gap_tasks.get(s)
            if task is None or task.done():
                self._gap_tasks[s] = asyncio.create_task(self.fill_gap(s), name=f"momentum-gap-{s}")
        self.phase = schedule_phase(now, self.cfg.halt_min, self.cfg.force_min)
        decisions: list[Decision] = []
        if self.cfg.enable_trading:
            decisions = await self.trading.step(now)
        else:
            for s, run in self.runs.items():
                if run.fresh_side:
                    d = Decision(s, run.fresh_side, "dry", {"signal": run.signal.to_json() if run.signal else None})
                    decisions.append(d)
                    run.last_action = f"dry {'LONG' if d.side > 0 else 'SHORT'} signal (trading off, nothing sent)"
                    log.info("momentum.signal", f"{s}: {'LONG' if d.side > 0 else 'SHORT'} signal (dry: nothing sent)",
                             symbol=s, signal=d.detail.get("signal"))
        self.decisions = (self.decisions + decisions)[-200:]
        self.ticks += 1
        self.tick_ms = (time.perf_counter() - t0) * 1000
        return decisions

    # ------------------------------------------------------------------ run
    def stop(self) -> None:
        self._stop.set()

    async def aclose(self) -> None:
        """End the background bar fetches."""
        tasks = [t for t in self._gap_tasks.values() if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> int:
        """Until stopped or --poll-time elapsed; a tick every `tick_s` on the wall clock."""
        await self.start()
        deadline = time.monotonic() + self.cfg.poll_time if self.cfg.poll_time > 0 else None
        log.info("momentum.start", f"{self.cfg.instance}: {len(self.cfg.symbols)} symbol(s), trading "
                 f"{'on' if self.cfg.enable_trading else 'off (dry)'}", symbols=list(self.cfg.symbols))
        nxt = time.monotonic()
        while not self._stop.is_set():
            try:
                await self.tick()
            except ExchangeError as exc:
                log.warning("momentum.tick_failed", f"tick failed: {exc}; next tick retries")
            await asyncio.to_thread(self.write_status)
            if deadline is not None and time.monotonic() >= deadline:
                log.info("momentum.poll_time", f"--poll-time {self.cfg.poll_time:g} s reached: stopping cleanly")
                break
            nxt += self.cfg.tick_s
            delay = max(0.0, nxt - time.monotonic())
            if delay == 0.0:
                nxt = time.monotonic()
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
        await self.aclose()
        self.save()
        self.write_status(final=True)
        return 0

    # ------------------------------------------------------------------ files
    def save(self) -> None:
        save_state(self.cfg.state_path, self.cfg.instance, self.states)

    def write_status(self, final: bool = False) -> None:
        from momentum.status import build_status
        from mraster.storage.atomic import write_json_atomic
        try:
            write_json_atomic(self.cfg.status_path, build_status(self, final), indent=None)
        except OSError as exc:
            log.warning("momentum.status_unwritten", f"status file not written: {exc}")

    def held_position(self, positions: list[Position], sym: str) -> Position | None:
        for p in positions:
            if p.symbol == sym and not p.is_flat:
                return p
        return None

    def touch(self, sym: str) -> tuple[Decimal, Decimal] | None:
        snap = self.cache.snapshot(sym)
        b = snap.latest_bbo
        if b is None or b.bid_price <= 0 or b.ask_price <= 0:
            return None
        return Decimal(str(b.bid_price)), Decimal(str(b.ask_price))
