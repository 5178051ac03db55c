"""The invariant monitor: polls the venue and the dashboard while the trial runs.

Three loops in one asyncio task group:
- venue (every `poll_s`, ~150 ms): `GET /admin/state` of the trading account -> stop gaps,
  duplicate slots, positions seen, equity samples;
- dashboard (every 250 ms): process statuses (who runs, pids, restart counts), the processes'
  own heartbeats (state file, guard status file), and dashboard_config.json, re-validated with
  `load_settings` whenever it changes;
- heavy reads (every 5 s): /api/state, /api/config, /api/config/audit, /api/logs, only to look
  for secrets in what the dashboard serves.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mraster.settings import SettingsError
from mraster.state.store import read_state_readonly
from trial.clients import DashboardClient, VenueAdmin
from trial.invariants import EpisodeTracker, duplicates, duplicates_by_type, parse_account, unprotected
from trial.params import TrialParams
from trial.workdir import WorkDir

PROCESSES = ("bot", "guard", "paper")


@dataclass
class KillRecord:
    """A process the trial killed (or restarted) and what it took to see it back."""
    name: str
    pid: int
    wall: float
    venue_ms: int
    restart_count_before: int
    event_index: int
    how: str = "SIGKILL"
    new_pid: int | None = None
    dashboard_seen: float | None = None    # the dashboard shows it running again, new pid, count raised
    heartbeat_seen: float | None = None    # the new process itself reports (state file, status file, /paper/info)
    restart_count_after: int | None = None

    @property
    def recovered(self) -> bool:
        return self.dashboard_seen is not None and self.heartbeat_seen is not None

    @property
    def recovery_s(self) -> float | None:
        if not self.recovered:
            return None
        return max(self.dashboard_seen, self.heartbeat_seen) - self.wall   # type: ignore[type-var]


@dataclass
class ConfigWatch:
    versions: int = 0
    violations: list[str] = field(default_factory=list)
    last_sig: tuple | None = None
    last_hash: str = ""


class Monitor:
    def __init__(self, work: WorkDir, params: TrialParams, dashboard: DashboardClient, venue: VenueAdmin):
        self.work, self.params, self.dashboard, self.venue = work, params, dashboard, venue
        self.stop_gaps = EpisodeTracker(params.stop_gap_limit_s)
        self.duplicates = EpisodeTracker(params.duplicate_grace_s)
        self.equity: list[tuple[int, float, float]] = []      # (venue ms, wall s, margin balance)
        self.latest: dict[str, Any] | None = None
        self.latest_wall = 0.0
        self.venue_polls = self.venue_failures = 0
        self.longest_poll_gap_s = 0.0
        self.max_positions_seen = 0
        self.clock_steps_back: list[tuple[float, int]] = []   # (wall s, ms the venue clock went back)
        self.statuses: dict[str, dict[str, Any]] = {}
        self.bot_heartbeat: tuple[int, int] = (0, 0)          # (pid, wall ms)
        self.guard_heartbeat: tuple[int, int] = (0, 0)
        self.paper_started_ms = 0
        self.kills: list[KillRecord] = []
        self.config = ConfigWatch()
        self.errors: list[str] = []
        self.observe_errors: list[str] = []
        self._stop = asyncio.Event()
        self.second_account: str | None = None               # the momentum engine's account, checked as well
        self.second_latest: dict[str, Any] | None = None
        self.second_positions_seen = 0

    # ------------------------------------------------------------------ loops
    async def run(self) -> None:
        await asyncio.gather(self._loop(self.params.poll_s, self.poll_venue),
                             self._loop(0.25, self.poll_dashboard),
                             self._loop(5.0, self.poll_dashboard_pages))

    def stop(self) -> None:
        self._stop.set()

    async def _loop(self, period: float, step: Any) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await step()
            except Exception as exc:  # a monitor that dies would report nothing: note and go on
                if len(self.errors) < 200:
                    self.errors.append(f"{step.__name__}: {type(exc).__name__}: {exc}")
            wait = period - (time.monotonic() - started)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.01, wait))
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ venue
    async def poll_venue(self) -> None:
        try:
            snap = await self.venue.state()
            second = await self.venue.state(self.second_account) if self.second_account else None
        except Exception:
            self.venue_failures += 1
            raise
        wall = time.time()
        if self.latest_wall:
            self.longest_poll_gap_s = max(self.longest_poll_gap_s, wall - self.latest_wall)
        self.venue_polls += 1
        try:
            self.observe(snap, wall, second)
        except Exception as exc:   # a snapshot the checks cannot read is a check not made: it fails the run
            if len(self.observe_errors) < 200:
                self.observe_errors.append(f"{type(exc).__name__}: {exc}")
            raise

    def observe(self, snap: dict[str, Any], wall: float, second: dict[str, Any] | None = None) -> None:
        venue_ms = int(snap["venue"]["venue_time"])
        account = snap["accounts"].get(self.venue.account, {})
        positions, orders = parse_account(account)
        gaps, dups = unprotected(positions, orders), duplicates(positions, orders)
        if second is not None and self.second_account:      # the momentum engine's account, keys apart
            pos2, ord2 = parse_account(second["accounts"].get(self.second_account, {}))
            gaps.update({("momentum",) + k: f"momentum: {v}" for k, v in unprotected(pos2, ord2).items()})
            dups.update({("momentum",) + k: f"momentum: {v}" for k, v in duplicates_by_type(pos2, ord2).items()})
            self.second_positions_seen = max(self.second_positions_seen, len(pos2))
            self.second_latest = second
        self.stop_gaps.observe(wall, venue_ms, gaps)
        self.duplicates.observe(wall, venue_ms, dups)
        self.max_positions_seen = max(self.max_positions_seen, len(positions))
        if self.latest and venue_ms < int(self.latest["venue"]["venue_time"]):
            self.clock_steps_back.append((round(wall, 3), int(self.latest["venue"]["venue_time"]) - venue_ms))
        if account and (not self.equity or wall - self.equity[-1][1] >= 1.0):
            self.equity.append((venue_ms, wall, float(Decimal(account["margin_balance"]))))
        self.latest, self.latest_wall = snap, wall

    def observed_venue_ms(self) -> int:
        """Venue time of the last snapshot (0 before the first)."""
        return int(self.latest["venue"]["venue_time"]) if self.latest else 0

    def venue_ms(self) -> int:
        """Venue time now, extrapolated from the last snapshot."""
        if not self.latest:
            return 0
        elapsed = time.time() - self.latest_wall
        return int(self.latest["venue"]["venue_time"] + elapsed * 1000 * self.params.speed)

    # -------------------------------------------------------------- dashboard
    async def poll_dashboard(self) -> None:
        data = await self.dashboard.processes()
        self.statuses = data.get("processes", {})
        self._read_heartbeats()
        self._check_kills()
        self.check_config()

    async def poll_dashboard_pages(self) -> None:
        for path in ("/api/state", "/api/config", "/api/config/audit", "/api/logs?limit=200"):
            await self.dashboard.request("GET", path)

    def _read_heartbeats(self) -> None:
        state = read_state_readonly(self.work.path / "aster_state.json")
        if state is not None:
            self.bot_heartbeat = (int(state.pid or 0), int(getattr(state, "heartbeat_wall_ms", 0) or 0))
        try:
            status = json.loads((self.work.run_dir / "guard_status.json").read_text())
            self.guard_heartbeat = (int(status.get("pid") or 0), int(status.get("heartbeat_ms") or 0))
        except (OSError, ValueError):
            pass
        if self.latest:
            self.paper_started_ms = int(self.latest["venue"].get("started") or 0)

    def heartbeat_of(self, name: str) -> tuple[int, int]:
        """(pid, wall ms) the process itself last reported; the paper exchange reports no pid."""
        if name == "bot":
            return self.bot_heartbeat
        if name == "guard":
            return self.guard_heartbeat
        return 0, self.paper_started_ms

    def _check_kills(self) -> None:
        now = time.time()
        for k in self.kills:
            if k.recovered:
                continue
            st = self.statuses.get(k.name, {})
            if (k.dashboard_seen is None and st.get("state") == "running" and st.get("pid")
                    and st.get("pid") != k.pid and int(st.get("restart_count") or 0) > k.restart_count_before):
                k.dashboard_seen, k.new_pid = now, int(st["pid"])
                k.restart_count_after = int(st.get("restart_count") or 0)
            pid, beat_ms = self.heartbeat_of(k.name)
            if (k.heartbeat_seen is None and beat_ms > k.wall * 1000
                    and (k.name == "paper" or (pid and pid == k.new_pid))):
                k.heartbeat_seen = now

    def record_kill(self, record: KillRecord) -> None:
        self.kills.append(record)

    # ----------------------------------------------------------------- config
    def check_config(self) -> None:
        """Re-validate dashboard_config.json each time it changes on disk."""
        path = self.work.config_file
        try:
            st = path.stat()
        except FileNotFoundError:
            self.config.violations.append("dashboard_config.json disappeared")
            return
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self.config.last_sig:
            return
        self.config.last_sig = sig
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.config.last_hash:
            return
        self.config.last_hash = digest
        self.config.versions += 1
        try:
            self.work.load_settings()
        except SettingsError as exc:
            self.config.violations.append(f"version {self.config.versions}: {exc}")

    def config_hash(self) -> str:
        return hashlib.sha256(self.work.config_file.read_bytes()).hexdigest()

    # ----------------------------------------------------------------- health
    def health_problems(self) -> list[str]:
        """Why the system is not yet back to normal (empty when it is)."""
        out = []
        now_ms = time.time() * 1000
        for name in PROCESSES:
            if self.statuses.get(name, {}).get("state") != "running":
                out.append(f"{name} is {self.statuses.get(name, {}).get('state', 'unknown')}")
        ages = (("bot", self.params.loop_sleep_s * 3 + 15), ("guard", self.params.guard_interval_s * 3 + 5))
        for name, max_age_s in ages:
            pid, beat = self.heartbeat_of(name)
            st = self.statuses.get(name, {})
            if pid != st.get("pid") or now_ms - beat > max_age_s * 1000:
                out.append(f"{name} heartbeat missing or stale")
        if time.time() - self.latest_wall > 2.0:
            out.append("venue not answering")
        elif self.latest and self.latest["venue"].get("faults"):
            out.append(f"faults active: {self.latest['venue']['faults']}")
        if self.stop_gaps.open:
            out.append(f"{len(self.stop_gaps.open)} position(s) without a stop")
        if self.duplicates.open:
            out.append("duplicate orders resting")
        out += [f"{k.name} not back yet" for k in self.kills if not k.recovered]
        return out

    async def wait_healthy(self, timeout: float) -> list[str]:
        """Wait until healthy; returns the remaining problems when the timeout ran out."""
        deadline = time.monotonic() + timeout
        while True:
            problems = self.health_problems()
            if not problems or time.monotonic() >= deadline:
                return problems
            await asyncio.sleep(0.2)

    # ---------------------------------------------------------------- results
    def position_count(self) -> int:
        if not self.latest:
            return 0
        return len(parse_account(self.latest["accounts"].get(self.venue.account, {}))[0])

    def snapshot_orders(self) -> tuple[list, list]:
        if not self.latest:
            return [], []
        return parse_account(self.latest["accounts"].get(self.venue.account, {}))
