"""The production schedule without systemd (issue 21 item 6): the dashboard runs the jobs of
`mraster.schedule.JOBS` at their times, each as a child process (`python -m ops ...`), and keeps
each job's next run, last result and log for the Ops page.

The clock is injected and `tick()` does one pass, so tests drive the schedule without waiting. The
switch is ASTER_OPS_SCHEDULE_ENABLE (live). The daily batch stops the trading engines (the bot and every
engine instance) through the supervisor before its child runs and the 00:00 restart starts them
again; the guard keeps running all along, so open positions stay watched while the files are loaded.
Job state survives a dashboard restart (`<run dir>/ops/jobs.json`, written atomically; a corrupt file
is set aside).
"""
from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mraster.logs import get_logger
from mraster.schedule import JOBS, Job
from mraster.storage.atomic import CorruptFileError, read_json_checked, write_json_atomic

log = get_logger("dashboard.ops")
LOG_TAIL = 200
UNDER_SYSTEMD = "MRASTER_OPS_UNDER_SYSTEMD"   # set by the main unit `mraster deploy systemd` writes
NOT_TRADING = ("guard", "paper")   # children the daily batch leaves running (protection, the paper venue)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def default_argv(job: Job, python: str = sys.executable) -> list[str]:
    args = list(job.args[1:])            # JOBS hold `ops <job> ...`; the package runs as `python -m ops`
    if job.name == "daily-batch":
        args += ["--engines", "none"]    # the dashboard stops and starts its own children
    return [python, "-m", "ops", *args]


class OpsError(Exception):
    pass


class OpsScheduler:
    def __init__(self, run_dir: Path, cwd: Path, env: Mapping[str, str], settings: Callable[[], Any],
                 supervisor: Any, *, clock: Callable[[], datetime] = utc_now,
                 argv: Callable[[Job], Sequence[str]] = default_argv, jobs: Sequence[Job] = JOBS,
                 interval: float = 15.0, notifier: Any = None):
        self.dir = run_dir / "ops"
        self.status_file = self.dir / "jobs.json"
        self.cwd, self.env, self.settings, self.supervisor = cwd, dict(env), settings, supervisor
        self.clock, self.argv, self.jobs, self.interval = clock, argv, {j.name: j for j in jobs}, interval
        self.state: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.running: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.Task[None] | None = None
        # under systemd the timers and the notifier unit do this work: never twice
        self.under_systemd = self.env.get(UNDER_SYSTEMD) == "1"
        self.notifier = None if self.under_systemd else notifier   # Supervisor of the `ops notify` child
        self._load()
        now = self.clock()
        self.next_run = {name: job.calendar.next_after(now) for name, job in self.jobs.items()}

    # ------------------------------------------------------------------ persistence
    def _load(self) -> None:
        try:
            data = read_json_checked(self.status_file)
        except CorruptFileError as exc:
            self.notes.append(str(exc))
            data = None
        jobs = (data or {}).get("jobs", {}) if isinstance(data, dict) else {}
        self.state = {k: v for k, v in jobs.items() if isinstance(v, dict)}
        self.engines_stopped: list[str] = list((data or {}).get("engines_stopped", [])) if isinstance(data, dict) else []

    def _save(self) -> None:
        write_json_atomic(self.status_file, {"jobs": self.state, "engines_stopped": self.engines_stopped})

    def log_file(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    # ------------------------------------------------------------------ views
    @property
    def enabled(self) -> bool:
        return bool(self.settings().ops_schedule_enable) and not self.under_systemd

    def overview(self) -> dict[str, Any]:
        jobs = []
        for name, job in self.jobs.items():
            st = self.state.get(name, {})
            jobs.append({"name": name, "description": job.description, "when": job.calendar.describe(),
                         "command": "mraster " + " ".join(job.args),
                         "next_run": self.next_run[name].isoformat() if self.enabled else None,
                         "running": name in self.running, "last": st or None})
        notifier = self.notifier.status("notify") if self.notifier is not None else None
        return {"enabled": self.enabled, "under_systemd": self.under_systemd, "now": self.clock().isoformat(),
                "jobs": jobs, "notes": self.notes[-5:],
                "engines_stopped": self.engines_stopped,
                "notifier": {"state": notifier["state"], "pid": notifier["pid"], "message": notifier["message"],
                             "events": self.settings().notify_events} if notifier else None}

    def log_tail(self, name: str, lines: int = LOG_TAIL) -> list[str]:
        self._job(name)
        path = self.log_file(name)
        if not path.is_file():
            return []
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 64_000))
            text = fh.read().decode("utf-8", errors="replace")
        return text.splitlines()[-lines:]

    def _job(self, name: str) -> Job:
        job = self.jobs.get(name)
        if job is None:
            raise OpsError(f"unknown job {name!r}; known: {', '.join(self.jobs)}")
        return job

    # ------------------------------------------------------------------ scheduling
    async def tick(self) -> list[str]:
        """One pass: start every job whose time has come (when the switch is on); returns their names.
        While the switch is off, next runs follow the clock, so turning it on never fires a backlog."""
        await self.sync_notifier()
        now = self.clock()
        started = []
        for name, job in self.jobs.items():
            if not self.enabled:
                self.next_run[name] = job.calendar.next_after(now)
                continue
            if now >= self.next_run[name]:
                self.next_run[name] = job.calendar.next_after(now)
                if name in self.running:
                    self._finish(name, {"trigger": "schedule", "ok": False, "skipped": True,
                                        "message": "still running from before: this run skipped"})
                    continue
                self.start(name, "schedule")
                started.append(name)
        return started

    async def sync_notifier(self) -> None:
        """The notifier child runs while ASTER_NOTIFY_EVENTS names any kind (a live setting)."""
        if self.notifier is None:
            return
        wanted = self.settings().notify_events != "none"
        running = self.notifier.is_running("notify")
        if wanted and not running and self.notifier.status("notify")["state"] != "restarting":
            await self.notifier.start("notify")
        elif not wanted and running:
            await self.notifier.stop("notify")

    def start(self, name: str, trigger: str) -> None:
        self._job(name)
        if name in self.running:
            raise OpsError(f"{name} is already running")
        self.running[name] = asyncio.create_task(self._run(name, trigger), name=f"ops-{name}")

    async def wait(self, name: str) -> None:
        task = self.running.get(name)
        if task is not None:
            await asyncio.shield(task)

    async def _run(self, name: str, trigger: str) -> None:
        started = self.clock()
        record: dict[str, Any] = {"trigger": trigger, "started": started.isoformat()}
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            with self.log_file(name).open("w", encoding="utf-8") as out:
                out.write(f"{name} started {started.isoformat()} ({trigger})\n")
                out.flush()
                record.update(await self._execute(name, out))
        except Exception as exc:   # the scheduler keeps running whatever one job does
            record.update({"ok": False, "exit_code": None, "message": f"{type(exc).__name__}: {exc}"})
            log.exception("ops.job_failed", f"ops job {name} failed: {exc}", job=name)
        finally:
            self.running.pop(name, None)
            self._finish(name, record)

    def _finish(self, name: str, record: dict[str, Any]) -> None:
        record.setdefault("finished", self.clock().isoformat())
        self.state[name] = record
        self._save()
        (log.info if record.get("ok") else log.warning)(
            "ops.job", f"ops job {name}: {'ok' if record.get('ok') else 'FAILED'} {record.get('message', '')}".rstrip(),
            job=name, ok=bool(record.get("ok")), trigger=record.get("trigger"), activity=not record.get("ok"))

    async def _execute(self, name: str, out: Any) -> dict[str, Any]:
        if name == "daily-restart":
            started = []
            for engine in self.engines_stopped:
                if self.supervisor.has(engine) and not self.supervisor.is_running(engine):
                    await self.supervisor.start(engine)
                    started.append(engine)
            self.engines_stopped = []
            message = f"started {', '.join(started)}" if started else "nothing to start (no engine was stopped)"
            out.write(message + "\n")
            return {"ok": True, "exit_code": 0, "message": message}
        if name == "daily-batch":
            for engine in [n for n in self.supervisor.names if n not in NOT_TRADING]:   # the bot, every instance
                if self.supervisor.is_running(engine):
                    await self.supervisor.stop(engine)
                    self.engines_stopped.append(engine)
                    out.write(f"stopped {engine} (started again by daily-restart at 00:00 UTC)\n")
            self._save()
            out.flush()
        argv = list(self.argv(self._job(name)))
        proc = await asyncio.create_subprocess_exec(*argv, cwd=str(self.cwd), env=self.env, stdout=out,
                                                    stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        timeout = float(self.settings().ops_job_timeout)
        try:
            code = await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return {"ok": False, "exit_code": None, "message": f"stopped after {timeout:.0f} s (ASTER_OPS_JOB_TIMEOUT)"}
        except asyncio.CancelledError:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        tail = self.log_tail(name, 3)
        return {"ok": code == 0, "exit_code": code, "message": tail[-1] if tail else ""}

    # ------------------------------------------------------------------ reports
    async def report_html(self, mode: str, day: str = "") -> str:
        """The report as one HTML page (charts inline), built by the same command the timers run."""
        if mode not in ("prod", "backtest"):
            raise OpsError(f"unknown report {mode!r}: prod or backtest")
        if day and not (len(day) == 10 and day[4] == "-" and day[7] == "-" and day.replace("-", "").isdigit()):
            raise OpsError(f"date {day!r}: expected YYYY-MM-DD")
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.dir / f"report-{mode}.html"
        argv = [sys.executable, "-m", "ops", "report", "--mode", mode, "--format", "html", "--out", str(target)]
        if day:
            argv += ["--date", day]
        proc = await asyncio.create_subprocess_exec(*argv, cwd=str(self.cwd), env=self.env,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 300)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise OpsError("the report took longer than 300 s") from None
        if proc.returncode != 0:
            lines = err.decode("utf-8", errors="replace").strip().splitlines()
            raise OpsError(lines[-1] if lines else f"report exited {proc.returncode}")
        return target.read_text(encoding="utf-8")

    # ------------------------------------------------------------------ lifecycle
    async def autostart(self, services: Any) -> str:
        """With ASTER_OPS_AUTOSTART, start trading as the Start button does (the guard, then the bot;
        live only after the venue accepted the credentials). A refusal is logged, never fatal."""
        if not self.settings().ops_autostart:
            return ""
        from dashboard.actions import start_trading
        try:
            await start_trading(services, with_guard=True)
        except Exception as exc:
            log.error("ops.autostart_failed", f"ASTER_OPS_AUTOSTART: trading not started: {exc}", activity=True)
            return f"failed: {exc}"
        log.info("ops.autostart", "ASTER_OPS_AUTOSTART: guard and bot started", activity=True)
        return "started"

    async def open(self) -> None:
        if self.notifier is not None:
            await self.notifier.open()
        self._loop = asyncio.create_task(self._run_loop(), name="ops-scheduler")

    async def _run_loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:
                log.exception("ops.tick_failed", f"ops scheduler: {exc}")
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        tasks = [t for t in (self._loop, *self.running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self.notifier is not None:
            await self.notifier.close()


def child_env(config_file: Path, dotenv_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"ASTER_CONFIG_FILE": str(config_file), "ASTER_DOTENV_FILE": str(dotenv_file),
                "PYTHONUNBUFFERED": "1"})
    return env
