"""Carries out the fault schedule against the running processes, one fault at a time.

Before each fault the executor waits for its nominal time and for the system to be back to
normal (every process running and reporting, no fault active, every position with a stop). A
fault that cannot be carried out (e.g. no exit order to cancel) is recorded as not done.
Processes are killed only when their pid's working directory is this trial's work directory.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from trial.clients import ApiError, DashboardClient, VenueAdmin
from trial.hunter import EntryHunter
from trial.invariants import STOP_TYPES
from trial.monitor import KillRecord, Monitor
from trial.params import TrialParams
from trial.schedule import (
    ADMIN, BOT_ENTRY_KILL, BOT_KILL, CONFIG_BURST, DISK_FULL, GUARD_KILL, PAPER_RESTART, VENUE_CANCEL, FaultEvent,
)
from trial.workdir import WorkDir

BRACKET_ROLES = ("SL", "SX", "TP", "TX", "TS", "RX")


@dataclass
class FaultRecord:
    index: int
    kind: str
    description: str
    nominal_s: float
    window_s: float = 0.0           # how long the fault stayed in force (admin faults)
    started_s: float = 0.0          # wall seconds after trading started
    wall: float = 0.0
    venue_ms: int = 0
    done: bool = False
    outcome: str = ""
    waited_s: float = 0.0           # waiting for the system to be back to normal before this fault
    not_healthy: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class FaultExecutor:
    def __init__(self, work: WorkDir, params: TrialParams, monitor: Monitor, dashboard: DashboardClient,
                 venue: VenueAdmin, start_bot: Callable[[], Awaitable[Any]]):
        self.work, self.params, self.monitor = work, params, monitor
        self.dashboard, self.venue, self.start_bot = dashboard, venue, start_bot
        self.records: list[FaultRecord] = []
        self.config: dict[str, Any] = {k: v for k, v in work.config.items() if not k.startswith("_")}
        self.t0 = 0.0                   # wall time trading started

    def elapsed(self) -> float:
        return time.time() - self.t0

    async def run(self, events: list[FaultEvent],
                  on_done: Callable[[FaultRecord], None] = lambda rec: None) -> list[FaultRecord]:
        self.t0 = time.time()
        prev_end = 0.0
        for ev in events:
            rec = FaultRecord(ev.index, ev.kind, ev.describe(), ev.at_s, ev.window_s)
            self.records.append(rec)
            first = ev.kind == BOT_ENTRY_KILL and ev.params.get("first_entry")
            if not first:
                # the nominal time, and never closer than the quiet gap to the previous fault's end,
                # even when waiting for recovery pushed that one late
                quiet_from = (prev_end - self.t0 + self.params.faults.min_gap_s) if prev_end else 0.0
                await asyncio.sleep(max(0.0, ev.at_s - self.elapsed(), quiet_from - self.elapsed()))
                began = time.monotonic()
                rec.not_healthy = await self.monitor.wait_healthy(self.params.recovery_timeout_s)
                rec.waited_s = round(time.monotonic() - began, 2)
            rec.started_s, rec.wall, rec.venue_ms = round(self.elapsed(), 2), time.time(), self.monitor.venue_ms()
            try:
                await self.execute(ev, rec)
            except Exception as exc:    # a fault that failed to happen is reported, the trial goes on
                rec.done, rec.outcome = False, f"could not be carried out: {type(exc).__name__}: {exc}"
            prev_end = time.time()
            on_done(rec)
        return self.records

    async def execute(self, ev: FaultEvent, rec: FaultRecord) -> None:
        handler = {BOT_KILL: self._kill, GUARD_KILL: self._kill, BOT_ENTRY_KILL: self._entry_kill,
                   PAPER_RESTART: self._paper_restart, ADMIN: self._admin, VENUE_CANCEL: self._venue_cancel,
                   CONFIG_BURST: self._config_burst, DISK_FULL: self._disk_full}[ev.kind]
        await handler(ev, rec)

    # ----------------------------------------------------------------- kills
    def _ours(self, pid: int) -> bool:
        """Only processes running in this trial's work directory are ever signalled."""
        try:
            return Path(os.readlink(f"/proc/{pid}/cwd")).resolve() == self.work.path
        except OSError:
            return False

    def _kill_pid(self, name: str, pid: int, ev: FaultEvent, restart_count: int, how: str = "SIGKILL") -> KillRecord:
        if not pid or not self._ours(pid):
            raise RuntimeError(f"{name} pid {pid} is not a process of this trial")
        os.kill(pid, signal.SIGKILL)
        record = KillRecord(name, pid, time.time(), self.monitor.venue_ms(), restart_count, ev.index, how)
        self.monitor.record_kill(record)
        return record

    async def _kill(self, ev: FaultEvent, rec: FaultRecord) -> None:
        name = "bot" if ev.kind == BOT_KILL else "guard"
        st = await self.dashboard.status(name)
        record = self._kill_pid(name, int(st.get("pid") or 0), ev, int(st.get("restart_count") or 0))
        open_now = self.monitor.position_count()
        rec.done, rec.outcome = True, f"{name} pid {record.pid} killed with {open_now} position(s) open"
        rec.details = {"pid": record.pid}

    async def _entry_kill(self, ev: FaultEvent, rec: FaultRecord) -> None:
        """Kill at an entry fill; retried at the next entries until it lands before the brackets."""
        deadline = time.monotonic() + self.params.faults.hunt_timeout_s
        attempts: list[dict[str, Any]] = []
        first = bool(ev.params.get("first_entry"))
        while time.monotonic() < deadline:
            st = self.monitor.statuses.get("bot", {})
            restart_count = int(st.get("restart_count") or 0)
            hunter = EntryHunter(self.work.log_dir / "bot.jsonl", self._bot_pid, deadline - time.monotonic())
            hunter.start()
            if first and not attempts:
                await self.start_bot()
            await asyncio.to_thread(hunter.join)
            if hunter.result is None:
                break
            k = hunter.result
            record = KillRecord("bot", k.pid, k.wall, self.monitor.venue_ms(), restart_count, ev.index,
                                "SIGKILL right after an entry fill")
            self.monitor.record_kill(record)
            sent = bracket_orders_sent(self.work.path / "aster_journal.sqlite", k.trade_id)
            attempts.append({"trade_id": k.trade_id, "symbol": k.symbol, "pid": k.pid, "brackets_sent": sent,
                             "landed": not sent, "wall": k.wall, "venue_ms": record.venue_ms})
            if not sent:
                break
            await self.monitor.wait_healthy(self.params.recovery_timeout_s)
        rec.details = {"attempts": attempts}
        landed = [a for a in attempts if a["landed"]]
        if landed:
            a = landed[0]
            rec.done, rec.outcome = True, (f"bot pid {a['pid']} killed after the entry fill of {a['trade_id']}, before "
                                           f"any bracket was sent (attempt {len(attempts)})")
        elif attempts:
            rec.done, rec.outcome = True, (f"bot killed at {len(attempts)} entry fill(s), but each time it had already "
                                           "sent a bracket: the window was missed")
        else:
            if first:
                await self.start_bot()
            await self._kill(FaultEvent(ev.index, BOT_KILL, ev.at_s), rec)
            rec.outcome = "no entry within the hunt window; " + rec.outcome
        rec.details["landed"] = bool(landed)

    def _bot_pid(self) -> int:
        """The bot's pid from its pid file (called from the hunter thread at the kill moment)."""
        try:
            pid = int(json.loads((self.work.run_dir / "bot.pid").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return 0
        return pid if self._ours(pid) else 0

    async def _paper_restart(self, ev: FaultEvent, rec: FaultRecord) -> None:
        st = await self.dashboard.status("paper")
        pid, count = int(st.get("pid") or 0), int(st.get("restart_count") or 0)
        if ev.params["mode"] == "kill":
            self._kill_pid("paper", pid, ev, count)
            rec.outcome = f"paper exchange pid {pid} killed"
        else:
            record = KillRecord("paper", pid, time.time(), self.monitor.venue_ms(), count, ev.index,
                                "POST /api/paper/restart")
            self.monitor.record_kill(record)
            await self.dashboard.act("paper", "restart")
            rec.outcome = f"paper exchange pid {pid} restarted through the dashboard"
        rec.done, rec.details = True, {"pid": pid}

    # ----------------------------------------------------------------- venue
    async def _admin(self, ev: FaultEvent, rec: FaultRecord) -> None:
        fault, value = ev.params["fault"], ev.params["value"]
        answer = await self.venue.set_faults({fault: value})
        rec.done = True
        rec.details = {"answer": answer}
        if ev.window_s:
            await asyncio.sleep(ev.window_s)
            await self.venue.clear_faults()
        rec.outcome = f"{fault}={value}" + (f", cleared after {ev.window_s:g} s" if ev.window_s else "") + (
            f"; {answer.get('ws_dropped', 0)} WebSocket(s) dropped" if fault == "ws_disconnect" else "")

    async def _venue_cancel(self, ev: FaultEvent, rec: FaultRecord) -> None:
        want_stop = ev.params["target"] == "stop"
        deadline = time.monotonic() + max(30.0, self.params.faults.hunt_timeout_s)
        while True:
            positions, orders = self.monitor.snapshot_orders()
            cands = sorted((o for o in orders if any(o.exits(p) for p in positions)
                            and (not want_stop or o.type in STOP_TYPES)), key=lambda o: o.order_id)
            if cands:
                order = cands[min(len(cands) - 1, int(ev.params["pick"] * len(cands)))]
                try:
                    await self.venue.end_order(order.symbol, order.order_id, ev.params["status"])
                except ApiError as exc:
                    if time.monotonic() < deadline:     # gone meanwhile (filled, replaced): pick again
                        await asyncio.sleep(self.params.poll_s * 2)
                        continue
                    raise exc
                rec.done = True
                rec.outcome = (f"venue set {order.client_id or order.order_id} ({order.type} {order.symbol}) "
                               f"{ev.params['status']}")
                rec.details = {"symbol": order.symbol, "order_id": order.order_id, "client_id": order.client_id,
                               "type": order.type, "stop": order.type in STOP_TYPES}
                return
            if time.monotonic() >= deadline:
                rec.outcome = "no open position with " + ("a stop" if want_stop else "an exit order") + " to cancel"
                return
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ disk
    async def _disk_full(self, ev: FaultEvent, rec: FaultRecord) -> None:
        """The bot's disk is full for the window: RLIMIT_FSIZE of its process set to 1 byte (prlimit), so
        every write that grows a file fails with EFBIG (state file, journal, logs). Then lifted."""
        st = await self.dashboard.status("bot")
        pid = int(st.get("pid") or 0)
        if not pid or not self._ours(pid):
            raise RuntimeError(f"bot pid {pid} is not a process of this trial")
        inf = resource.RLIM_INFINITY
        before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, before[1]))
        open_now = self.monitor.position_count()
        try:
            await asyncio.sleep(ev.window_s)
        finally:
            try:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (before[0], before[1]) if before[0] != 1 else (inf, inf))
                lifted = True
            except ProcessLookupError:        # the bot was restarted meanwhile: the new process has no limit
                lifted = False
        rec.done = True
        rec.outcome = (f"bot pid {pid} could not grow any file for {ev.window_s:g} s ({open_now} position(s) open)"
                       + ("" if lifted else "; it had exited before the limit was lifted"))
        rec.details = {"pid": pid, "lifted": lifted}

    # ---------------------------------------------------------------- config
    async def _config_burst(self, ev: FaultEvent, rec: FaultRecord) -> None:
        results = []
        for req in ev.params["requests"]:
            body = dict(req["body"])
            if req["method"] == "PUT":
                body = {**self.config, **body}
            before = self.monitor.config_hash()
            status, answer = await self.dashboard.request(req["method"], "/api/config", body)
            after = self.monitor.config_hash()
            self.monitor.check_config()
            entry = {"method": req["method"], "changes": req["body"], "valid": req["valid"], "status": status,
                     "written": before != after}
            if req["valid"]:
                entry["ok"] = status == 200
                if status == 200:
                    self.config.update(req["body"])
            else:
                errors = answer.get("errors", {}) if isinstance(answer, dict) else {}
                entry["ok"] = status == 422 and before == after
                entry["errors"] = sorted(errors)
            results.append(entry)
        rec.details = {"requests": results}
        rec.done = True
        bad = [r for r in results if not r["ok"]]
        rec.outcome = (f"{sum(r['valid'] for r in results)} valid applied, "
                       f"{sum(not r['valid'] for r in results)} invalid refused with 422, nothing written"
                       if not bad else f"{len(bad)} request(s) not answered as expected")


def bracket_orders_sent(journal: Path, trade_id: str) -> bool:
    """True when the bot's journal shows a stop or take-profit sent for `trade_id` (read-only)."""
    try:
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return True
    try:
        rows = conn.execute("SELECT role FROM orders WHERE trade_id=? AND action='place'", (trade_id,)).fetchall()
    except sqlite3.Error:
        return True
    finally:
        conn.close()
    return any(r[0] in BRACKET_ROLES for r in rows)
