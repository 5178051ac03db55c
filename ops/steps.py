"""Running a job as a list of steps, each a real child process or a local check.

A job prints one line per step (what it did, how long it took) and stops at the first failed step:
what comes after a failure (the cleanup after a failed load) never runs. Children are `mraster`
subcommands run with the same interpreter, settings files and working directory as the job.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mraster.logs import get_logger, redact

log = get_logger("ops")


class StepFailed(Exception):
    """A step failed; the message says which and why (the job exits non-zero with it)."""


@dataclass
class StepResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class JobRun:
    """The steps of one job run, printed as they finish."""

    job: str
    out: Callable[[str], None] = print
    steps: list[StepResult] = field(default_factory=list)

    def record(self, name: str, ok: bool, detail: str, started: float) -> StepResult:
        result = StepResult(name, ok, detail, time.monotonic() - started)
        self.steps.append(result)
        mark = "ok" if ok else "FAILED"
        self.out(f"[{self.job}] {name}: {mark} ({result.seconds:.1f}s) {detail}".rstrip())
        (log.info if ok else log.error)(f"ops.{self.job}.step", f"{self.job}: {name} {mark}: {detail}",
                                        job=self.job, step=name, ok=ok, seconds=round(result.seconds, 3))
        return result

    def summary(self) -> dict[str, Any]:
        return {"job": self.job, "ok": all(s.ok for s in self.steps),
                "steps": [s.__dict__ for s in self.steps]}


@dataclass(frozen=True)
class Mraster:
    """How to run an `mraster` subcommand as a child: interpreter, working directory, settings files."""

    cwd: Path
    env: Mapping[str, str]
    python: str = sys.executable
    timeout: float = 7200.0

    @classmethod
    def from_loaded(cls, loaded: Any, timeout: float = 7200.0) -> "Mraster":
        env = dict(os.environ)
        if loaded.config_file is not None:
            env["ASTER_CONFIG_FILE"] = str(Path(loaded.config_file).resolve())
            env["ASTER_DOTENV_FILE"] = str(Path(loaded.dotenv_file).resolve())
        env["PYTHONUNBUFFERED"] = "1"
        return cls(cwd=Path.cwd(), env=env, timeout=timeout)

    def run(self, args: Sequence[str]) -> tuple[int, str]:
        """Run `mraster ARGS` to the end; (exit code, stdout and stderr together, secrets redacted)."""
        argv = [self.python, "-m", "commands.main", *args]
        try:
            proc = subprocess.run(argv, cwd=self.cwd, env=dict(self.env), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
            return 124, redact(output) + f"\n(stopped after {self.timeout:.0f} s)"
        return proc.returncode, redact(proc.stdout)

    def step(self, run: JobRun, name: str, args: Sequence[str]) -> str:
        """One child step: its output on success; StepFailed with the output's tail otherwise."""
        started = time.monotonic()
        code, output = self.run(args)
        if code != 0:
            tail = " | ".join(line for line in output.strip().splitlines()[-6:])
            run.record(name, False, f"`mraster {' '.join(args)}` exited {code}: {tail}", started)
            raise StepFailed(f"{name} failed (`mraster {' '.join(args)}` exited {code})")
        last = output.strip().splitlines()[-1] if output.strip() else ""
        run.record(name, True, last[:200], started)
        return output
