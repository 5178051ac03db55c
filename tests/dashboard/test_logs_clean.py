"""Issue 15 item 7, the backend: no uvicorn access lines and no ANSI codes in the log files or the
dashboard's feed, per-symbol skip lines tagged `group: "skip"`, readable lines on a terminal and JSON
lines in files and pipes (a real child process on a pseudo-terminal)."""
from __future__ import annotations

import json
import logging
import os
import pty
import subprocess
import sys
import time

from mraster.logs import setup_logging
from dashboard.services.loghub import parse_line

CHILD = """
import logging, sys
from mraster.logs import get_logger, setup_logging
setup_logging("bot", "INFO", sys.argv[1])
get_logger("bot.cycle").info("decision", "BTCUSDT: skip (spread)", symbol="BTCUSDT", reason="spread")
"""


def test_files_get_no_access_lines_and_no_ansi(tmp_path):
    setup_logging("dashboard", "INFO", tmp_path, stdout=False)
    try:
        logging.getLogger("uvicorn.access").warning('127.0.0.1:5 - "GET /api/state HTTP/1.1" 200')
        logging.getLogger("uvicorn.error").info("\x1b[32mINFO\x1b[0m: Started server",
                                                extra={"color_message": "\x1b[1mStarted\x1b[0m"})
    finally:
        for h in list(logging.getLogger().handlers):
            h.flush()
    lines = [json.loads(x) for x in (tmp_path / "dashboard.jsonl").read_text().splitlines()]
    assert [x["msg"] for x in lines] == ["INFO: Started server"]
    assert "color_message" not in lines[0] and "\x1b" not in json.dumps(lines)
    setup_logging("test", "INFO", None, stdout=False)     # leave the root logger quiet for other tests


def test_the_feed_folds_skip_lines_and_strips_old_escapes():
    skip = parse_line(json.dumps({"event": "decision", "decision": "skip", "msg": "BTCUSDT: skip (spread)"}), "bot", 1)
    enter = parse_line(json.dumps({"event": "decision", "decision": "enter", "msg": "BTCUSDT: enter"}), "bot", 2)
    old = parse_line(json.dumps({"event": "uvicorn.error", "msg": "\x1b[33mWARN\x1b[0m x",
                                 "color_message": "\x1b[33m"}), "dashboard", 3)
    assert skip["group"] == "skip" and "group" not in enter
    assert old["msg"] == "WARN x" and "color_message" not in old


def _run_child(tmp_path, on_tty: bool) -> str:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("MRASTER_LOG_FORMAT", None)
    env.pop("MRASTER_STDOUT_LEVEL", None)
    if not on_tty:
        return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env, capture_output=True,
                              text=True, timeout=60, check=True).stdout
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], env=env, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:          # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(30)
    os.close(master)
    return out.decode()


def test_a_terminal_gets_readable_lines_files_and_pipes_json(tmp_path):
    human = _run_child(tmp_path / "tty", on_tty=True)
    assert "INFO" in human and "bot" in human and "BTCUSDT: skip (spread)" in human and "reason=spread" in human
    assert not human.lstrip().startswith("{"), human
    piped = _run_child(tmp_path / "pipe", on_tty=False)
    assert json.loads(piped.splitlines()[0])["msg"] == "BTCUSDT: skip (spread)"
    in_file = json.loads((tmp_path / "tty" / "bot.jsonl").read_text().splitlines()[0])
    assert in_file["reason"] == "spread", "the file keeps JSON lines even when stdout is a terminal"


def test_a_short_secret_inside_a_longer_one_leaves_nothing_of_the_longer_one():
    """Redaction takes the longest secret first, whatever order the secrets were registered in."""
    from mraster.logs import redact, register_secrets
    register_secrets(["tok-9", "tok-9-longer-secret-77"])
    assert redact("signed with tok-9-longer-secret-77 and tok-9") == "signed with *** and ***"


def test_uvicorn_loggers_given_their_own_handlers_still_reach_the_files(tmp_path):
    """uvicorn's default config gives `uvicorn` a handler and propagate=False; setup_logging undoes that."""
    uv = logging.getLogger("uvicorn")
    uv.addHandler(logging.NullHandler())
    uv.propagate = False
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)   # an in-process server with log_level="warning"
    logging.getLogger("uvicorn.error").disabled = True             # dictConfig(disable_existing_loggers=True)
    setup_logging("dashboard", "INFO", tmp_path, stdout=False)
    try:
        logging.getLogger("uvicorn.error").info("Started server process")
    finally:
        for h in list(logging.getLogger().handlers):
            h.flush()
    lines = [json.loads(x) for x in (tmp_path / "dashboard.jsonl").read_text().splitlines()]
    assert [x["msg"] for x in lines] == ["Started server process"] and uv.propagate and not uv.handlers
