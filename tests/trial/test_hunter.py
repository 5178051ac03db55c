"""The entry hunter kills a real process at the first entry fill logged after it was armed."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from trial.hunter import EntryHunter, is_entry_fill


def line(event="order.placed", role="EN", status="FILLED", trade="BTCUSDT.abc"):
    return json.dumps({"ts": "x", "level": "INFO", "src": "bot", "event": event, "role": role, "status": status,
                       "trade_id": trade, "symbol": "BTCUSDT", "client_id": f"mr-{trade}-{role}"}) + "\n"


def victim():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_only_filled_entries_match():
    assert is_entry_fill(line())["trade_id"] == "BTCUSDT.abc"
    assert is_entry_fill(line(status="PARTIALLY_FILLED"))
    assert is_entry_fill(line(role="SL")) is None
    assert is_entry_fill(line(status="EXPIRED")) is None
    assert is_entry_fill(line(event="order.failed")) is None
    assert is_entry_fill('{"event": "order.placed", "role": "EN"') is None      # half-written line


def test_kills_at_the_first_entry_fill_after_arming(tmp_path):
    log = tmp_path / "bot.jsonl"
    log.write_text(line(trade="OLD.a"))                  # before arming: must be ignored
    proc = victim()
    try:
        hunter = EntryHunter(log, lambda: proc.pid, timeout_s=30)
        hunter.start()
        with open(log, "a") as fh:
            fh.write(line(role="SL"))
            fh.flush()
            time.sleep(0.05)
            assert proc.poll() is None                   # a stop is not an entry
            fh.write(line(trade="NEW.b"))
            fh.flush()
        hunter.join(10)
        assert proc.wait(10) == -signal.SIGKILL
        assert hunter.result is not None and hunter.result.trade_id == "NEW.b" and hunter.result.pid == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_follows_a_rotated_log_file(tmp_path):
    log = tmp_path / "bot.jsonl"
    log.write_text(line(role="TP") * 50)
    proc = victim()
    try:
        hunter = EntryHunter(log, lambda: proc.pid, timeout_s=30)
        hunter.start()
        time.sleep(0.05)
        log.rename(tmp_path / "bot.jsonl.1")             # what RotatingFileHandler does
        log.write_text(line(trade="ROT.c"))
        hunter.join(10)
        assert proc.wait(10) == -signal.SIGKILL
        assert hunter.result.trade_id == "ROT.c"
    finally:
        proc.kill()
        proc.wait()


def test_gives_up_at_the_deadline_and_kills_nothing(tmp_path):
    log = tmp_path / "bot.jsonl"
    log.write_text("")
    proc = victim()
    try:
        hunter = EntryHunter(log, lambda: proc.pid, timeout_s=0.3)
        hunter.start()
        hunter.join(10)
        assert not hunter.is_alive() and hunter.result is None
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
