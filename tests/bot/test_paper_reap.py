"""Issue 12 item 14: a paper exchange started by the bot is reaped when it exits, not left a zombie
for as long as the bot runs (weeks). The child is the real paper exchange, killed with SIGKILL."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from mraster.childproc import clean_environ
from mraster.procinfo import read_pid_file
from mraster.paper_launch import ensure_paper_exchange
from mraster.settings import default_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(pid: int) -> str | None:
    """The process state letter from /proc (Z = zombie), None once it is gone (reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def test_a_paper_exchange_started_by_the_bot_is_reaped_when_it_dies(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}"
    s = default_settings().with_values(paper=True, paper_url=url, log_dir=str(tmp_path / "logs"),
                                       run_dir=str(tmp_path / "run"))
    env = clean_environ({"ASTER_PAPER_URL": url, "ASTER_PAPER_DB": str(tmp_path / "paper.sqlite"),
                         "ASTER_PAPER_FEED": "synthetic", "ASTER_LOG_DIR": str(tmp_path / "logs"),
                         "ASTER_RUN_DIR": str(tmp_path / "run"),
                         "ASTER_CONFIG_FILE": str(tmp_path / "dashboard_config.json"),
                         "ASTER_DOTENV_FILE": str(tmp_path / ".env")})
    assert ensure_paper_exchange(s, {}, env=env) == "started"
    record = read_pid_file(tmp_path / "run" / "paper.pid")
    assert record is not None
    pid = record.identity.pid
    try:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _state(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.02)               # polling /proc with a deadline
        assert _state(pid) is None, f"pid {pid} left in state {_state(pid)} (Z: a zombie nobody reaped)"
    finally:
        if _state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)
