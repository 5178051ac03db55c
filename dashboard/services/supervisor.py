"""Supervision of the bot, the guard and the paper exchange as real child processes.

Children run in their own session (a Ctrl+C of the dashboard does not reach
them), write stdout/stderr to `<log dir>/<name>.out` (never a pipe, so they
survive the dashboard) and are recorded in `<run dir>/<name>.pid`. The dashboard
leaves them running when it stops; a restarted dashboard adopts them again when
pid, start time and command line still match. Stopping is SIGTERM to the child's
process group, then SIGKILL after `stop_timeout`. A child that dies on its own is
shown as crashed (or exited, for exit code 0) and, if enabled, restarted with an
exponential backoff.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from mraster.logs import get_logger

from mraster.procinfo import (
    PidFileProblem, PidRecord, ProcessIdentity, find_unrecorded, identity_of, is_alive, read_pid_file,
    remove_pid_file, signal_group, started_ms, write_pid_file,
)
from mraster.aio import cancel_and_wait

log = get_logger("dashboard.supervisor")

EXIT_CONFIG = 2  # mraster's exit code for a bad configuration: restarting cannot help
OUT_TAIL_BYTES = 4096
OUT_MAX_BYTES = 10_000_000   # a child's .out is rotated beyond this (checked every OUT_CHECK_S)
OUT_BACKUPS = 2              # <name>.out.1 (newest) .. <name>.out.2
OUT_CHECK_S = 10.0
# Children log to <name>.jsonl themselves; the dashboard gives them STDOUT_LEVEL_ENV=WARNING so the
# .out holds what a crash needs (tracebacks, last warnings), not a second copy of every line.


def rotate_out_file(path: Path, max_bytes: int, backups: int = OUT_BACKUPS) -> bool:
    """Copy-and-truncate `path` when it is over `max_bytes`: the child keeps writing to its own
    descriptor (opened for append, so it goes on at the new end). Returns whether it rotated."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except OSError:
        return False
    for i in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{i + 1}"))
    if backups > 0:
        shutil.copyfile(path, path.with_name(f"{path.name}.1"))
    os.truncate(path, 0)
    return True


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child. `restartable`: may be restarted automatically after a crash."""
    name: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    out_file: Path
    pid_file: Path
    restartable: bool = True


@dataclass(frozen=True)
class Backoff:
    """Delay before the n-th automatic restart in a row: initial * 2**(n-1), at most `maximum`.
    A run that lasted `stable_after` seconds resets the count."""
    initial: float = 1.0
    maximum: float = 60.0
    stable_after: float = 60.0

    def delay(self, consecutive_crashes: int) -> float:
        return min(self.maximum, self.initial * 2 ** max(0, consecutive_crashes - 1))


@dataclass
class _Child:
    spec: ChildSpec
    state: str = "stopped"          # stopped | running | stopping | crashed | exited
    proc: subprocess.Popen | None = None
    identity: ProcessIdentity | None = None
    started_ms: int = 0
    started_mono: float = 0.0
    adopted: bool = False
    stop_requested: bool = False
    last_exit_code: int | None = None
    last_exit_ms: int = 0
    restart_count: int = 0
    consecutive_crashes: int = 0
    restart_at: float | None = None  # monotonic time of a scheduled automatic restart
    message: str = ""
    out_tail: list[str] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SupervisorError(Exception):
    """A start or stop that could not be done; the message is for the user."""


class Supervisor:
    def __init__(self, specs: Mapping[str, ChildSpec], *, stop_timeout: float = 20.0,
                 backoff: Backoff = Backoff(), auto_restart: Callable[[], bool] = lambda: True,
                 poll_interval: float = 0.2, clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 out_max_bytes: int = OUT_MAX_BYTES, out_check_s: float = OUT_CHECK_S):
        self._children = {name: _Child(spec) for name, spec in specs.items()}
        self.stop_timeout = stop_timeout
        self.backoff = backoff
        self.auto_restart = auto_restart
        self.poll_interval = poll_interval
        self._clock = clock
        self._wall_ms = wall_ms
        self.out_max_bytes = out_max_bytes
        self.out_check_s = out_check_s
        self._out_checked = -1e9
        self._out_lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.notices: list[str] = []  # what the user must know after a dashboard restart

    # ------------------------------------------------------------------ lifecycle
    @property
    def names(self) -> list[str]:
        return list(self._children)

    def has(self, name: str) -> bool:
        return name in self._children

    def add(self, spec: ChildSpec) -> None:
        """Supervise one more child (an engine instance). Before `open`, it is adopted with the others;
        after, at once if a previous dashboard left it running."""
        if spec.name in self._children:
            raise SupervisorError(f"a process named {spec.name!r} is already supervised")
        child = self._children[spec.name] = _Child(spec)
        if self._task is not None:
            self._adopt(child)

    def replace_spec(self, spec: ChildSpec) -> None:
        """New environment for a child (e.g. another account): used from its next start on."""
        self._get(spec.name).spec = spec

    async def remove(self, name: str) -> None:
        """Stop supervising a child; refused while it runs (stop it first)."""
        child = self._get(name)
        async with child.lock:
            if child.state in ("running", "stopping") or child.restart_at is not None:
                raise SupervisorError(f"{name} is running: stop it before removing it")
            del self._children[name]

    async def open(self) -> None:
        """Adopt children a previous dashboard left running, then watch them."""
        for child in list(self._children.values()):
            self._adopt(child)
        self._task = asyncio.create_task(self._watch(), name="supervisor-watch")

    async def close(self) -> None:
        """Stop watching. Children keep running on purpose: stopping them is the user's call."""
        await cancel_and_wait(self._task)
        running = [c.spec.name for c in list(self._children.values()) if c.state in ("running", "stopping")]
        if running:
            log.info("dashboard.children_left_running",
                     f"dashboard stopping; left running: {', '.join(running)} (a new dashboard adopts them)",
                     children=running)

    # --------------------------------------------------------------------- status
    def status(self, name: str) -> dict[str, Any]:
        child = self._get(name)
        now = self._clock()
        running = child.state in ("running", "stopping")
        return {
            "name": name,
            "state": "restarting" if child.restart_at is not None else child.state,
            "pid": child.identity.pid if running and child.identity else None,
            "uptime_s": round(now - child.started_mono, 1) if running else None,
            "started_ms": child.started_ms if running else None,
            "last_exit_code": child.last_exit_code,
            "last_exit_ms": child.last_exit_ms or None,
            "restart_count": child.restart_count,
            "adopted": child.adopted and running,
            "auto_restart": bool(self.auto_restart()) and child.spec.restartable,
            "next_restart_in_s": round(max(0.0, child.restart_at - now), 1) if child.restart_at else None,
            "message": child.message,
            "out_file": str(child.spec.out_file),
            "out_tail": child.out_tail if child.state in ("crashed", "exited") else [],
        }

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {name: self.status(name) for name in self._children}

    def is_running(self, name: str) -> bool:
        return self._get(name).state in ("running", "stopping")

    # ------------------------------------------------------------------- actions
    async def start(self, name: str) -> dict[str, Any]:
        child = self._get(name)
        async with child.lock:
            if child.state in ("running", "stopping"):
                return self.status(name)
            child.restart_at = None
            child.consecutive_crashes = 0
            await self._spawn(child)
        return self.status(name)

    async def stop(self, name: str) -> dict[str, Any]:
        child = self._get(name)
        async with child.lock:
            child.restart_at = None
            if child.state not in ("running", "stopping"):
                if child.state in ("crashed", "exited"):
                    child.state, child.message = "stopped", "stopped by the user"
                return self.status(name)
            await self._terminate(child)
        return self.status(name)

    async def restart(self, name: str) -> dict[str, Any]:
        child = self._get(name)
        async with child.lock:
            child.restart_at = None
            if child.state in ("running", "stopping"):
                await self._terminate(child)
            child.restart_count += 1
            child.consecutive_crashes = 0
            await self._spawn(child)
        return self.status(name)

    # ------------------------------------------------------------------ internals
    def _get(self, name: str) -> _Child:
        try:
            return self._children[name]
        except KeyError:
            raise SupervisorError(f"unknown process {name!r}; known: {', '.join(self._children)}") from None

    async def _spawn(self, child: _Child) -> None:
        spec = child.spec
        spec.out_file.parent.mkdir(parents=True, exist_ok=True)
        spec.pid_file.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        async with self._out_lock:   # never two rotations of one file at once (watcher and start)
            await asyncio.to_thread(rotate_out_file, spec.out_file, self.out_max_bytes)
        with open(spec.out_file, "ab") as out:
            out.write(f"--- {stamp} mraster dashboard starts {spec.name}: {' '.join(spec.argv)}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    list(spec.argv), cwd=spec.cwd, env=dict(spec.env), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            except OSError as exc:
                child.state, child.message = "crashed", f"could not start: {exc}"
                log.error("process.start_failed", f"{spec.name} could not start: {exc}", child=spec.name,
                          activity=True)
                raise SupervisorError(f"{spec.name} could not start: {exc}") from None
        identity = await self._identity_after_exec(proc, spec.argv)
        child.proc, child.identity, child.adopted = proc, identity, False
        child.state, child.stop_requested, child.message, child.out_tail = "running", False, "", []
        child.started_ms, child.started_mono = self._wall_ms(), self._clock()
        # fsync off the event loop (the caller holds child.lock, so nothing else acts on this child)
        await asyncio.to_thread(write_pid_file, spec.pid_file,
                                PidRecord(spec.name, identity, child.started_ms, str(spec.cwd)))
        log.info("process.started", f"{spec.name} started (pid {proc.pid})", child=spec.name, pid=proc.pid,
                 activity=True)

    async def _identity_after_exec(self, proc: subprocess.Popen, argv: tuple[str, ...]) -> ProcessIdentity:
        """The child's identity for its pid file. Popen returns once exec has begun, and for a moment
        /proc/<pid>/cmdline can still be empty (the kernel sets the new arguments last): a pid file
        with an empty command line would make a later dashboard refuse to adopt the child."""
        deadline = self._clock() + 1.0
        while True:
            identity = identity_of(proc.pid)
            if identity is not None and identity.cmdline:
                return identity
            if proc.poll() is not None or self._clock() >= deadline:   # already gone: nothing to adopt
                return ProcessIdentity(proc.pid, identity.start_ticks if identity else -1, argv)
            await asyncio.sleep(0.005)

    def _alive(self, child: _Child) -> bool:
        if child.proc is not None:
            return child.proc.poll() is None
        return child.identity is not None and is_alive(child.identity)

    async def _terminate(self, child: _Child) -> None:
        """SIGTERM the group, wait up to stop_timeout, then SIGKILL. Caller holds child.lock."""
        name, identity = child.spec.name, child.identity
        child.stop_requested, child.state = True, "stopping"
        if identity is not None and self._alive(child):
            self._send(child, signal.SIGTERM)
            if not await self._wait_exit(child, self.stop_timeout):
                log.warning("process.killed", f"{name} ignored SIGTERM for {self.stop_timeout:g} s; sending SIGKILL",
                            child=name, pid=identity.pid, activity=True)
                self._send(child, signal.SIGKILL)
                if not await self._wait_exit(child, 10.0):
                    child.message = f"pid {identity.pid} did not die after SIGKILL"
                    raise SupervisorError(child.message)
                child.message = f"killed after ignoring SIGTERM for {self.stop_timeout:g} s"
            else:
                child.message = "stopped by the user"
        self._record_exit(child)
        child.state = "stopped"
        remove_pid_file(child.spec.pid_file)
        log.info("process.stopped", f"{name} stopped", child=name, exit_code=child.last_exit_code, activity=True)

    def _send(self, child: _Child, sig: signal.Signals) -> None:
        if child.proc is not None:
            try:
                os.killpg(child.proc.pid, sig)
            except ProcessLookupError:
                pass
            except PermissionError:
                child.proc.send_signal(sig)
        elif child.identity is not None:
            signal_group(child.identity, sig)

    async def _wait_exit(self, child: _Child, timeout: float) -> bool:
        deadline = self._clock() + timeout
        while self._alive(child):
            if self._clock() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _record_exit(self, child: _Child) -> None:
        # own children: the real exit status (negative = killed by that signal); adopted: unknown
        child.last_exit_code = child.proc.returncode if child.proc is not None else None
        child.last_exit_ms = self._wall_ms()
        child.proc = None

    def _read_out_tail(self, child: _Child) -> list[str]:
        try:
            with open(child.spec.out_file, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - OUT_TAIL_BYTES))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        return text.splitlines()[-20:]

    async def _watch(self) -> None:
        rounds = 0
        while True:
            rounds += 1
            try:
                await self._check_once()
                if rounds % 10 == 0:  # pick up children another process started (the bot starts
                    self._adopt_started_elsewhere()  # a paper exchange itself when none answers)
                if self._clock() - self._out_checked >= self.out_check_s:
                    self._out_checked = self._clock()
                    await self._rotate_outputs()
            except Exception as exc:  # the watcher must never die: log and go on
                log.exception("supervisor.error", f"supervisor check failed: {exc}")
            await asyncio.sleep(self.poll_interval)

    async def _rotate_outputs(self) -> None:
        """Bound every child's .out file (a copy of up to out_max_bytes runs in a worker thread)."""
        for child in list(self._children.values()):
            async with self._out_lock:
                rotated = await asyncio.to_thread(rotate_out_file, child.spec.out_file, self.out_max_bytes)
            if rotated:
                log.info("process.out_rotated", f"{child.spec.out_file.name} rotated (over "
                         f"{self.out_max_bytes} bytes)", child=child.spec.name)

    async def _check_once(self) -> None:
        now = self._clock()
        for child in list(self._children.values()):
            if child.lock.locked():
                continue
            if child.state == "running" and not self._alive(child):
                self._on_unexpected_exit(child, now)
            elif child.restart_at is not None and now >= child.restart_at:
                async with child.lock:
                    if child.restart_at is None or child.state in ("running", "stopping"):
                        continue
                    child.restart_at = None
                    child.restart_count += 1
                    log.info("process.auto_restart", f"restarting {child.spec.name} (attempt "
                             f"{child.consecutive_crashes})", child=child.spec.name, activity=True)
                    try:
                        await self._spawn(child)
                    except SupervisorError:
                        self._schedule_restart(child, self._clock())

    def _on_unexpected_exit(self, child: _Child, now: float) -> None:
        name = child.spec.name
        ran_for = now - child.started_mono
        self._record_exit(child)
        remove_pid_file(child.spec.pid_file)
        child.out_tail = self._read_out_tail(child)
        code = child.last_exit_code
        if code == 0:
            child.state, child.message = "exited", "exited by itself (exit code 0)"
            log.info("process.exited", f"{name} exited by itself with code 0", child=name, activity=True)
            return
        child.state = "crashed"
        shown = "unknown (adopted process)" if code is None else (
            f"signal {-code}" if code < 0 else f"exit code {code}")
        child.message = f"crashed after {ran_for:.1f} s ({shown})"
        log.error("process.crashed", f"{name} crashed: {shown}", child=name, exit_code=code,
                  ran_s=round(ran_for, 1), last_output=child.out_tail[-3:], activity=True)
        if ran_for >= self.backoff.stable_after:
            child.consecutive_crashes = 0
        if code == EXIT_CONFIG:
            child.message += ": the configuration is invalid; fix the settings, then start it again"
            return
        if child.spec.restartable and self.auto_restart():
            self._schedule_restart(child, now)

    def _schedule_restart(self, child: _Child, now: float) -> None:
        child.consecutive_crashes += 1
        delay = self.backoff.delay(child.consecutive_crashes)
        child.restart_at = now + delay
        child.message += f"; automatic restart in {delay:g} s"
        log.warning("process.restart_scheduled", f"{child.spec.name} restarts in {delay:g} s", child=child.spec.name,
                    delay_s=delay, activity=True)

    def _adopt_started_elsewhere(self) -> None:
        for child in list(self._children.values()):
            if child.state in ("running", "stopping") or child.restart_at is not None or child.lock.locked():
                continue
            try:
                record = read_pid_file(child.spec.pid_file)
            except PidFileProblem:
                continue
            if record is not None and is_alive(record.identity) and record.identity.cmdline == child.spec.argv:
                self._adopt(child)

    def _adopt(self, child: _Child) -> None:
        spec = child.spec
        try:
            record = read_pid_file(spec.pid_file)
        except PidFileProblem as exc:
            self._notice(spec.name, str(exc))
            return
        if record is None:
            strays = find_unrecorded(spec.argv, spec.cwd, {os.getpid()})
            if strays:
                self._notice(spec.name, f"a {spec.name} process runs without a pid file (pid "
                                        f"{', '.join(map(str, strays))}); not adopted: stop it yourself "
                                        f"(kill {' '.join(map(str, strays))}) before starting {spec.name} here")
            return
        current = identity_of(record.identity.pid)
        if current is None or not is_alive(record.identity):
            why = "no such process" if current is None else "that pid now belongs to another process"
            remove_pid_file(spec.pid_file)
            self._notice(spec.name, f"{spec.name} was recorded as pid {record.identity.pid} but it is gone ({why}); "
                                    "it is shown as stopped", level="info")
            return
        if current.cmdline != record.identity.cmdline:
            self._notice(spec.name, f"pid {record.identity.pid} from {spec.pid_file.name} runs another command "
                                    f"({' '.join(current.cmdline)[:120]}); not adopted")
            return
        child.identity, child.proc, child.adopted, child.state = current, None, True, "running"
        child.started_ms = started_ms(current) or record.started_ms or self._wall_ms()
        child.started_mono = self._clock() - max(0.0, (self._wall_ms() - child.started_ms) / 1000)
        child.message = f"adopted after a dashboard restart (pid {current.pid})"
        log.info("process.adopted", f"{spec.name} is still running (pid {current.pid}); adopted", child=spec.name,
                 pid=current.pid, activity=True)

    def _notice(self, name: str, text: str, level: str = "warning") -> None:
        child = self._children[name]
        child.message = text
        self.notices.append(text)
        getattr(log, level)("process.not_adopted", text, child=name, activity=True)
