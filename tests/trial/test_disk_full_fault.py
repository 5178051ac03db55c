"""The trial's disk-full fault on a real child process: while it is in force the child cannot grow any
file (EFBIG, as on a full disk), afterwards it can again; a process outside the trial's directory is
never touched. The dashboard and monitor are stand-ins (only the bot's pid and a position count are
read from them); the process and its rlimit are real."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from trial.faults import FaultExecutor, FaultRecord
from trial.params import SHORT
from trial.schedule import DISK_FULL, FaultEvent

WRITER = """
import errno, sys, time
n = 0
while True:
    try:
        with open("grow.bin", "ab") as fh:
            fh.write(b"x" * 64)
        print("ok", flush=True)
    except OSError as exc:
        print("EFBIG" if exc.errno == errno.EFBIG else f"other {exc}", flush=True)
    time.sleep(0.02)
"""


class Dashboard:
    def __init__(self, pid: int):
        self.pid = pid

    async def status(self, name: str) -> dict:
        return {"pid": self.pid, "restart_count": 0}


def executor(work: Path, pid: int) -> FaultExecutor:
    monitor = SimpleNamespace(position_count=lambda: 0)
    return FaultExecutor(SimpleNamespace(path=work.resolve(), config={}), SHORT, monitor, Dashboard(pid),
                         SimpleNamespace(), lambda: None)


async def test_disk_full_makes_every_file_write_fail_for_the_window_then_lifts(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        seen: list[str] = []

        def read_until(word: str, timeout: float = 10.0) -> None:
            deadline = time.monotonic() + timeout
            while True:
                line = proc.stdout.readline().strip()
                seen.append(line)
                if line == word:
                    return
                assert time.monotonic() < deadline, f"no {word!r} from the child: {seen[-5:]}"

        read_until("ok")
        rec = FaultRecord(0, DISK_FULL, "", 0.0)
        ex = executor(tmp_path, proc.pid)
        task = asyncio.ensure_future(ex.execute(FaultEvent(0, DISK_FULL, 0.0, 1.5), rec))
        await asyncio.sleep(0)
        await asyncio.to_thread(read_until, "EFBIG")             # the file can no longer grow
        await task
        assert rec.done and rec.details == {"pid": proc.pid, "lifted": True} and "could not grow" in rec.outcome
        await asyncio.to_thread(read_until, "ok")                # and can again once lifted
        assert proc.poll() is None                               # EFBIG, not killed by SIGXFSZ
    finally:
        proc.kill()
        proc.wait()


async def test_disk_full_refuses_a_process_outside_the_trial(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], cwd=other)
    try:
        rec = FaultRecord(0, DISK_FULL, "", 0.0)
        with pytest.raises(RuntimeError, match="not a process of this trial"):
            await executor(tmp_path, proc.pid).execute(FaultEvent(0, DISK_FULL, 0.0, 0.5), rec)
        assert not rec.done
    finally:
        proc.kill()
        proc.wait()
