"""Paper mode: make sure a paper exchange answers at ASTER_PAPER_URL, starting one if none does.

The child is `python -m commands.main paper-exchange` with the same settings files and environment
(plus this process's --set overrides), stdout/stderr to `<ASTER_LOG_DIR>/paper.out`, its own
session (a Ctrl+C of the bot does not reach it) and a pid file `<ASTER_RUN_DIR>/paper.pid`
(mraster/procinfo.py: pid, start time, command line). It is left running when the bot exits: guard and dashboard use it too.
While the bot runs, a daemon thread waits on the child, so a paper exchange that exits (crash, kill,
a dashboard's stop) is reaped at once and said in the log, instead of lingering as a zombie for weeks.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping

import httpx

from mraster.logs import get_logger
from mraster.settings.fields import FIELDS_BY_ENV
from mraster.procinfo import PidRecord, identity_of, started_ms, write_pid_file

log = get_logger("bot.paper")
START_DEADLINE_S = 30.0


class PaperStartError(RuntimeError):
    pass


def paper_alive(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url.rstrip("/") + "/fapi/v1/ping", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def child_env(cli: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus its non-secret --set overrides."""
    env = dict(os.environ if base is None else base)
    for name, value in cli.items():
        spec = FIELDS_BY_ENV.get(name)
        if spec is not None and not spec.secret:
            env[name] = str(value)
    return env


def reap_in_background(proc: subprocess.Popen[bytes]) -> threading.Thread:
    """Wait on `proc` in a daemon thread: its exit status is collected (no zombie) and logged."""
    def wait() -> None:
        code = proc.wait()
        log.warning("paper.exited", f"the paper exchange this bot started (pid {proc.pid}) exited with code {code}",
                    pid=proc.pid, code=code, activity=True)

    thread = threading.Thread(target=wait, name=f"reap-paper-{proc.pid}", daemon=True)
    thread.start()
    return thread


def ensure_paper_exchange(settings: Any, cli: Mapping[str, str], env: Mapping[str, str] | None = None,
                          deadline_s: float = START_DEADLINE_S) -> str:
    """'running' if one answered, 'started' if we started it; PaperStartError otherwise."""
    url = settings.paper_url
    if paper_alive(url):
        log.info("paper.found", f"paper exchange answers at {url}", url=url)
        return "running"
    log_dir = Path(settings.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "commands.main", "paper-exchange"]
    out = open(log_dir / "paper.out", "ab")
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=child_env(cli, env), start_new_session=True)
    finally:
        out.close()
    reap_in_background(proc)
    identity = identity_of(proc.pid)
    if identity is not None:   # the same pid-file format the dashboard writes, so it can adopt this child
        write_pid_file(Path(settings.run_dir) / "paper.pid",
                       PidRecord("paper", identity, started_ms(identity), os.getcwd()))
    log.info("paper.starting", f"no paper exchange at {url}; started one (pid {proc.pid}); it keeps running "
             "after the bot exits", url=url, pid=proc.pid, activity=True)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PaperStartError(f"the paper exchange exited with code {proc.returncode}; see {log_dir / 'paper.out'}")
        if paper_alive(url, timeout=0.5):
            return "started"
        time.sleep(0.1)
    raise PaperStartError(f"the paper exchange did not answer at {url} within {deadline_s:.0f} s; "
                          f"see {log_dir / 'paper.out'}")
