"""Harness: a real `mraster guard` child process, for tests, benchmarks and trials.

    with PaperExchange(tmp_path / "venue") as px, GuardProcess(tmp_path / "guard", px) as guard:
        guard.wait_checked()
        ...
        guard.status()          # the parsed guard_status.json
        guard.log_events()      # the parsed guard.jsonl lines

The child runs `python -m guard` in `workdir` with a clean ASTER_* environment pointed at the paper
exchange (its state file, run and log directories inside `workdir`). Output goes to
`<workdir>/guard.out`, never a pipe.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from mraster.childproc import ChildProcess, clean_environ

START_DEADLINE_S = 20.0


class GuardProcessError(RuntimeError):
    """The guard child died or did not do what was awaited in time (message has its output)."""


class GuardProcess:
    def __init__(self, workdir: Path | str, venue: Any, *, interval: float = 1.0, stream: bool = True,
                 api_key: str | None = None, api_secret: str | None = None, args: Iterable[str] = (),
                 env: Mapping[str, str] | None = None):
        self.workdir = Path(workdir)
        self.venue = venue                     # a paper.testing.PaperExchange (started)
        self.interval, self.stream = interval, stream
        self.api_key, self.api_secret = api_key, api_secret
        self.args = list(args)
        self.extra_env = dict(env or {})
        self._child: ChildProcess | None = None

    @property
    def proc(self):
        return None if self._child is None else self._child.proc

    # ------------------------------------------------------------------ paths
    @property
    def state_path(self) -> Path:
        return self.workdir / "aster_state.json"

    @property
    def status_path(self) -> Path:
        return self.workdir / "run" / "guard_status.json"

    @property
    def log_path(self) -> Path:
        return self.workdir / "logs" / "guard.jsonl"

    @property
    def out_path(self) -> Path:
        return self.workdir / "guard.out"

    def environment(self) -> dict[str, str]:
        env = clean_environ(self.venue.env())
        env.update({
            "ASTER_CONFIG_FILE": str(self.workdir / "dashboard_config.json"),
            "ASTER_DOTENV_FILE": str(self.workdir / ".env"),
            "ASTER_STATE_FILE": str(self.state_path),
            "ASTER_RUN_DIR": str(self.workdir / "run"),
            "ASTER_LOG_DIR": str(self.workdir / "logs"),
            "ASTER_GUARD_INTERVAL": str(self.interval),
            "PYTHONUNBUFFERED": "1",
        })
        if self.api_key:
            env["ASTER_API_KEY"], env["ASTER_API_SECRET"] = self.api_key, self.api_secret or "secret"
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ lifecycle
    def start(self, *extra_args: str) -> "GuardProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "guard", *self.args, *extra_args]
        if not self.stream:
            cmd.append("--no-stream")
        self._child = ChildProcess(cmd, self.workdir, self.environment(), self.out_path)
        self._child.start()
        return self

    def run(self, *extra_args: str, timeout: float = 60.0) -> int:
        """Run to completion (`--once`, `--flatten`); returns the exit code."""
        self.start(*extra_args)
        assert self._child is not None
        return self._child.wait(timeout)

    def wait_checked(self, checks: int = 1, timeout: float = START_DEADLINE_S) -> dict[str, Any]:
        """Wait until the guard has completed `checks` more checks than now (status file); returns it."""
        start = self.status().get("checks_total", 0) if self.status_path.exists() else 0
        return self.wait_status(lambda s: s.get("checks_total", 0) >= start + checks, timeout,
                                f"{checks} completed check(s)")

    def wait_status(self, condition, timeout: float = 10.0, what: str = "a status") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            status = self.status() if self.status_path.exists() else {}
            if status and condition(status):
                return status
            time.sleep(0.02)     # polling a child's status file with a deadline
        raise GuardProcessError(f"guard: no {what} within {timeout:.0f} s:\n{self.tail()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        return None if self._child is None else self._child.stop(timeout)

    def kill(self) -> None:
        """SIGKILL at once (a crash)."""
        if self._child is not None:
            self._child.kill()

    def _alive(self) -> None:
        if self._child is not None and self._child.proc is not None and not self._child.running:
            raise GuardProcessError(f"guard exited with code {self._child.returncode}:\n{self.tail()}")

    def __enter__(self) -> "GuardProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ reading
    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {}

    def log_events(self) -> list[dict[str, Any]]:
        try:
            lines = self.log_path.read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def tail(self, lines: int = 40) -> str:
        return ChildProcess.tail_of(self.out_path, lines)
