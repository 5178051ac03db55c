"""A real child process for harnesses (tests, benchmarks, the trial): output to a file, never a pipe;
stop = SIGTERM, then SIGKILL after a timeout.

Production supervision (pid files, adoption after a restart, auto-restart) is the dashboard's
supervisor; this is the small common part the paper-exchange and guard harnesses share.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

SETTING_PREFIXES = ("ASTER_", "FAST_TP", "FASTTP")


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any setting variable, plus `extra`: a child then sees only
    the settings it is given, never the developer's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env.update(extra or {})
    return env


class ChildProcess:
    def __init__(self, cmd: Sequence[str], cwd: Path, env: Mapping[str, str], out_path: Path):
        self.cmd, self.cwd, self.env, self.out_path = list(cmd), Path(cwd), dict(env), Path(out_path)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.cwd.mkdir(parents=True, exist_ok=True)
        with open(self.out_path, "ab") as out:   # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self.proc

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        assert self.proc is not None, "not started"
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit code (None if never started)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL at once (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.stop()

    def tail(self, lines: int = 40) -> str:
        return self.tail_of(self.out_path, lines)

    @staticmethod
    def tail_of(path: Path, lines: int = 40) -> str:
        """The last `lines` lines of a child's output file (for error messages)."""
        try:
            return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"
