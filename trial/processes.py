"""Starting and stopping the trial's dashboard, exactly as a user runs it, and cleaning up after it.

The dashboard is `python -m commands.main dashboard` (what the `mraster dashboard` script runs)
with the work directory as its working directory and no ASTER_* variable in its environment, so
the files there are all it reads. It starts the paper exchange itself; bot and guard are started
through its API. On the way out every process of the trial is stopped: children through the
dashboard when it still answers, then anything left whose pid file points into the work
directory and whose working directory is the work directory.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from trial.workdir import WorkDir

CHILDREN = ("bot", "guard", "paper")


def start_dashboard(work: WorkDir) -> subprocess.Popen:
    work.log_dir.mkdir(parents=True, exist_ok=True)
    out = open(work.path / "dashboard.out", "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "commands.main", "dashboard"], cwd=work.path,
                                env=work.child_env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


async def wait_for(what: str, probe: Callable[[], Any], timeout: float,
                   alive: Callable[[], bool] = lambda: True) -> Any:
    """Call `probe` until it returns something truthy without raising; raise TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what}: the process exited")
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
        except Exception as exc:  # not up yet
            last = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{what} did not come up within {timeout:g} s ({last or 'no answer'})")


def cwd_of(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except OSError:
        return None


def leftover_pids(work: WorkDir) -> dict[str, int]:
    """Children whose pid file is in the work dir and who still run there."""
    out = {}
    for name in CHILDREN:
        try:
            pid = int(json.loads((work.run_dir / f"{name}.pid").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            continue
        if cwd_of(pid) == work.path:
            out[name] = pid
    return out


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if cwd_of(p) is not None]
        if alive:
            time.sleep(0.1)
    return alive


def stop_dashboard(proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def kill_leftovers(work: WorkDir) -> dict[str, int]:
    """SIGTERM (then SIGKILL) every child of this trial still running; returns what was found."""
    found = leftover_pids(work)
    for pid in found.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in _wait_gone(list(found.values()), 25.0):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return found
