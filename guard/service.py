"""The guard process's loop: user-data events and a fallback timer drive checks; errors back off.

One task consumes the user stream and marks symbols for a check on every ORDER_TRADE_UPDATE and
ACCOUNT_UPDATE (a full check on every StreamResynced and MARGIN_CALL). The loop runs one check at a
time: marked symbols after a short debounce (events come in bursts), and a full check every
ASTER_GUARD_INTERVAL in case events were missed. A check that fails on a venue error is redone
after a backoff (rate limits and bans are waited out as the venue says); nothing but a stop request
ends the loop. The status file is written after every check and at least every interval.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from mraster.aio import cancel_and_wait
from mraster.domain.ids import Role
from mraster.domain.types import AccountUpdate, MarginCall, OrderUpdate, StreamResynced
from mraster.exchange.errors import AuthError, BannedError, ExchangeError, RateLimitedError, RetryableError
from mraster.exchange.interface import Exchange, UserStream
from mraster.logs import EventLogger, get_logger
from mraster.storage.atomic import write_json_atomic

from guard.executor import Executor
from guard.planner import Action, Flatten
from guard.reconcile import CheckReport, Reconciler
from guard.status import GuardStatus

DEBOUNCE_S = 0.05
DANGER_FACTOR = 1.5        # an isolated position within 1.5 x the kill threshold ...
DANGER_INTERVAL_S = 1.0    # ... has its symbol checked every second (positions 5 + its orders 1 weight)
AUTH_RETRY_S = 30.0
ONCE_ATTEMPTS = 6


class Backoff:
    """Exponential delays with jitter: 0.25 s doubling to `cap`, reset by a success."""

    def __init__(self, base: float = 0.25, cap: float = 10.0, rng: random.Random | None = None):
        self.base, self.cap, self.failures = base, cap, 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        delay = min(self.cap, self.base * 2 ** self.failures)
        self.failures += 1
        return delay * self.rng.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.failures = 0


class GuardService:
    def __init__(self, exchange: Exchange, settings: Any, *, mode: str, state_path: Path | str,
                 status_path: Path | str, use_stream: bool = True,
                 reload_settings: Callable[[], Any | None] | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, debounce_s: float = DEBOUNCE_S,
                 log: EventLogger | None = None, rng: random.Random | None = None, venue_label: str = "",
                 on_settings: Callable[[Any], None] | None = None, state_paths: list[Path] | None = None,
                 owners: Callable[[], Any] | None = None, rule: Callable[[], Any] | None = None):
        self.exchange = exchange
        self.settings = settings
        self.log = log or get_logger("guard")
        self.clock, self.monotonic = clock, monotonic
        self.debounce_s = debounce_s
        self.use_stream = use_stream
        self.reload_settings = reload_settings
        self.on_settings = on_settings                # passes changed settings on (e.g. the client's retries)
        self.venue_label = venue_label
        self.status_path = Path(status_path)
        self.status = GuardStatus(pid=os.getpid(), started_ms=self._wall_ms(), mode=mode, stream_enabled=use_stream)
        self.status.kill_switch.threshold = float(settings.kill_safety_multiple)
        self.executor = Executor(exchange, log=self.log, record=self._record, monotonic=monotonic)
        self.reconciler = Reconciler(exchange, settings, state_path=Path(state_path), executor=self.executor,
                                     log=self.log, monotonic=monotonic, state_paths=state_paths, owners=owners,
                                     rule=rule)
        self.backoff = Backoff(rng=rng)
        self._pending: set[str] = set()
        self._pending_since: float | None = None
        self._full_due = True
        self._sweep_due = True
        self._wake = asyncio.Event()
        self._stream: UserStream | None = None
        self._stream_ok = False
        self._ever_ok = False
        self._waiting_said = False
        self._written_at = float("-inf")
        self._last_problem = ""
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ run modes
    async def run(self, stop: asyncio.Event) -> None:
        """Guard until `stop` is set."""
        self.log.info("guard.started", f"guard watching {self.status.mode} account{self.venue_label}: events "
                      f"{'on' if self.use_stream else 'off'}, full check every {self.settings.guard_interval:g} s, "
                      f"kill-switch {self._kill_text()}", activity=True, mode=self.status.mode)
        tasks = [asyncio.create_task(self._relay(stop))]
        if self.use_stream:
            tasks.append(asyncio.create_task(self._consume(stop)))
        next_full, not_before = self.monotonic(), 0.0
        try:
            while not stop.is_set():
                self._wake.clear()
                now = self.monotonic()
                if now < not_before:              # backing off: events wait too; the heartbeat goes on
                    await self._wait(min(not_before - now, self.settings.guard_interval))
                    if self.monotonic() - self._written_at >= self.settings.guard_interval:
                        await self._write_status()
                    continue
                due_full = self._full_due or now >= next_full
                due_events = self._pending_since is not None and now >= self._pending_since + self.debounce_s
                if not (due_full or due_events):
                    timeout = next_full - now
                    if self._pending_since is not None:
                        timeout = min(timeout, self._pending_since + self.debounce_s - now)
                    await self._wait(timeout)
                    continue
                scope, sweep = self._take_work(due_full)
                try:
                    if scope is None:
                        self._reload()
                    report = await self.reconciler.check(scope, sweep=sweep)
                    self._after_check(report)
                    if scope is None:
                        next_full = self.monotonic() + self._full_interval(report)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:      # never exit on an error: back off and redo the work
                    not_before = self.monotonic() + self._on_error(exc)
                    self._give_back(scope, sweep)
                await self._write_status()
        finally:
            await cancel_and_wait(*tasks)
            await self._write_status()
            self.log.info("guard.stopped", "guard stopped", activity=True)

    async def run_once(self, flatten: Flatten | None = None) -> CheckReport:
        """One full check (every symbol's orders), retried over transient errors; then the status file."""
        last: Exception | None = None
        for _ in range(ONCE_ATTEMPTS):
            try:
                report = await self.reconciler.check(None, sweep=True, flatten=flatten)
                self._after_check(report)
                await self._write_status()
                return report
            except RetryableError as exc:
                last = exc
                delay = self._on_error(exc)
                await self._write_status()
                await asyncio.sleep(min(delay, 30.0))
        raise RuntimeError(f"no check completed after {ONCE_ATTEMPTS} attempts: {last}")

    async def flatten(self) -> CheckReport:
        return await self.run_once(Flatten(Role.CLOSE, "flatten requested", "flatten", every_order=True))

    # ------------------------------------------------------------------ scheduling
    def schedule(self, symbol: str, delay: float = 0.0) -> None:
        """Check `symbol` after the debounce (plus `delay`); an earlier request wins."""
        self._pending.add(symbol)
        at = self.monotonic() + delay
        self._pending_since = at if self._pending_since is None else min(self._pending_since, at)
        self._wake.set()

    def schedule_full(self, sweep: bool = False) -> None:
        self._full_due = True
        self._sweep_due = self._sweep_due or sweep
        self._wake.set()

    def _take_work(self, full: bool) -> tuple[frozenset[str] | None, bool]:
        if full:
            sweep = self._sweep_due
            self._full_due = self._sweep_due = False
            self._pending.clear()
            self._pending_since = None
            return None, sweep
        scope = frozenset(self._pending)
        self._pending.clear()
        self._pending_since = None
        return scope, False

    def _give_back(self, scope: frozenset[str] | None, sweep: bool) -> None:
        if scope is None:
            self._full_due = True
            self._sweep_due = self._sweep_due or sweep
        else:
            self._pending |= scope
            self._pending_since = self._pending_since or self.monotonic()

    async def _wait(self, timeout: float) -> None:
        """Until an event (or a stop request) or the timeout."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()

    # ------------------------------------------------------------------ events
    async def _consume(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            stream = self.exchange.user_stream()
            self._stream = stream
            try:
                async for event in stream:
                    failures = 0
                    self.on_event(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("guard.stream_failed", f"user stream failed ({type(exc).__name__}: {exc}); the "
                                 "timer keeps checking, the stream is reopened", error=str(exc))
                self.status.note_error(self._wall_ms(), f"user stream: {exc}")
            finally:
                self._stream_ok, self._stream = False, None
                with contextlib.suppress(Exception):
                    await stream.close()
            failures += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), min(30.0, 0.5 * 2 ** failures))

    def on_event(self, event: Any) -> None:
        if isinstance(event, OrderUpdate):
            if not self.executor.is_echo(event.order):
                self.schedule(event.order.symbol)
        elif isinstance(event, AccountUpdate):
            for change in event.positions:
                self.schedule(change.symbol)
        elif isinstance(event, StreamResynced):
            self._stream_ok = True
            self.log.info("guard.stream_synced", f"user stream (re)connected ({event.reason}): full check",
                          reason=event.reason)
            self.schedule_full(sweep=True)
        elif isinstance(event, MarginCall):
            self.log.warning("guard.margin_call", "margin call from the venue: checking the kill-switch now")
            self.schedule_full()

    # ------------------------------------------------------------------ outcomes
    def _after_check(self, report: CheckReport) -> None:
        self._ever_ok = True
        self._waiting_said = False
        self.backoff.reset()
        st = self.status
        st.checks_total += 1
        st.last_check_ms = self._wall_ms()
        st.update_positions(report.views, report.scope)
        if report.scope is None:
            sm = report.safety_multiple
            st.kill_switch.safety_multiple = None if sm is None else round(float(sm), 6)
        if report.killed:
            st.kill_switch.triggered_ms, st.kill_switch.reason = self._wall_ms(), report.killed
        st.kill_switch.positions = [m.to_json() for m in report.margins]
        threshold = Decimal(str(self.settings.kill_safety_multiple))
        if threshold > 0 and not report.killed:       # near the switch: look every second, not every interval
            for m in report.margins:
                if m.safety_multiple <= threshold * Decimal(str(DANGER_FACTOR)):
                    self.schedule(m.symbol, DANGER_INTERVAL_S)
        if report.latch is not None:
            st.kill_switch.latch = report.latch.to_json()
        for problem in report.problems:     # said at ERROR when it changes, not at every check
            say = self.log.debug if problem == self._last_problem else self.log.error
            say("guard.unsettled", f"repairs did not settle: {problem}; retrying at the next check")
            st.note_error(self._wall_ms(), problem)
        self._last_problem = report.problems[-1] if report.problems else ""

    def _full_interval(self, report: CheckReport) -> float:
        """ASTER_GUARD_INTERVAL; one second while the account-wide margin multiple is within
        DANGER_FACTOR x the kill threshold (cross positions near liquidation)."""
        threshold = Decimal(str(self.settings.kill_safety_multiple))
        sm = report.safety_multiple
        if threshold > 0 and sm is not None and sm <= threshold * Decimal(str(DANGER_FACTOR)):
            return min(float(self.settings.guard_interval), DANGER_INTERVAL_S)
        return float(self.settings.guard_interval)

    def _on_error(self, exc: Exception) -> float:
        """Log the error, note it in the status, and return how long to wait before the next try."""
        text = f"{type(exc).__name__}: {exc}"
        self.status.note_error(self._wall_ms(), text)
        if isinstance(exc, BannedError):
            delay = max(1.0, (exc.until_ms - self.exchange.now_ms()) / 1000.0)
            self.log.error("guard.banned", f"the venue banned our IP; no request until the ban ends in {delay:.0f} s",
                           wait_s=round(delay, 1), activity=True)
            return delay
        if isinstance(exc, RateLimitedError):
            delay = max(exc.retry_after, self.backoff.next())
            self.log.warning("guard.rate_limited", f"rate limited; waiting {delay:.1f} s", wait_s=round(delay, 2))
            return delay
        if isinstance(exc, AuthError):
            self.log.error("guard.auth", f"the venue refused our keys ({exc}); check ASTER_API_KEY/ASTER_API_SECRET "
                           f"(retrying every {AUTH_RETRY_S:.0f} s)", activity=True)
            return AUTH_RETRY_S
        delay = self.backoff.next()
        if isinstance(exc, RetryableError) and not self._ever_ok:
            if not self._waiting_said:
                self.log.warning("guard.waiting", f"the venue{self.venue_label} does not answer yet ({exc}); "
                                 "waiting for it (in paper mode the bot or the dashboard starts the paper exchange)",
                                 activity=True)
                self._waiting_said = True
            return min(delay, 2.0)
        if isinstance(exc, ExchangeError):
            self.log.warning("guard.error", f"check failed: {text}; retrying in {delay:.1f} s", error=text,
                             wait_s=round(delay, 2))
        else:
            self.log.exception("guard.error", f"check failed on an unexpected error: {text}; retrying in "
                               f"{delay:.1f} s", error=text)
        return delay

    def _record(self, action: Action, what: str) -> None:
        self.status.note_action(self._wall_ms(), action.symbol, action.event, what)

    async def _write_status(self) -> None:
        """The status file, written (atomic: fsync, rename) in a worker thread: a slow disk never holds
        up the event loop, so events and repairs go on while it writes. One write at a time."""
        st = self.status
        st.heartbeat_ms = self._wall_ms()
        self._written_at = self.monotonic()
        stream = self._stream
        st.stream_connected = bool(stream is not None and getattr(stream, "connected", self._stream_ok))
        st.stream_age_s = stream.age_s if stream is not None else None
        data = st.to_json()
        async with self._write_lock:
            try:
                await asyncio.to_thread(write_json_atomic, self.status_path, data)
            except OSError as exc:
                self.log.error("guard.status_unwritable", f"cannot write {self.status_path}: {exc}")

    def _reload(self) -> None:
        if self.reload_settings is None:
            return
        fresh = self.reload_settings()
        if fresh is None:
            return
        self.settings = fresh
        self.reconciler.settings = fresh
        if self.on_settings is not None:
            self.on_settings(fresh)
        self.status.kill_switch.threshold = float(fresh.kill_safety_multiple)

    def _kill_text(self) -> str:
        t = self.settings.kill_safety_multiple
        return f"at safety multiple {t:g}" if t > 0 else "off"

    def _wall_ms(self) -> int:
        return int(self.clock() * 1000)
