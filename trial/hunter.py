"""Kill the bot right after an entry fill, before it places the brackets.

The bot logs `order.placed` for its entry (role EN, status FILLED) as soon as the venue answers,
then writes the fill price to the journal and the state file (both fsynced) and only then sends
the stop. A thread tails `logs/bot.jsonl` with a 1 ms poll and sends SIGKILL the moment that
line appears, to land inside that window. Whether it did is decided afterwards from the bot's
journal: no stop or take-profit was ever sent for that trade.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FILLED = ("FILLED", "PARTIALLY_FILLED")


@dataclass
class EntryKill:
    pid: int
    wall: float
    trade_id: str
    symbol: str
    client_id: str


def is_entry_fill(line: str) -> dict | None:
    """The parsed line when it says an entry order was filled."""
    if '"order.placed"' not in line or '"EN"' not in line:
        return None
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if rec.get("event") == "order.placed" and rec.get("role") == "EN" and rec.get("status") in FILLED:
        return rec
    return None


class EntryHunter(threading.Thread):
    """Armed once: kills `pid_of()` at the first entry fill logged after arming, or gives up at the deadline."""

    def __init__(self, log_file: Path, pid_of: Callable[[], int], timeout_s: float):
        super().__init__(name="trial-entry-hunter", daemon=True)
        self.log_file, self.pid_of, self.timeout_s = Path(log_file), pid_of, timeout_s
        self.result: EntryKill | None = None
        self.error = ""
        self._cancel = threading.Event()
        try:
            self._offset = self.log_file.stat().st_size
        except FileNotFoundError:
            self._offset = 0

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        buffer = b""
        inode = None
        while not self._cancel.is_set() and time.monotonic() < deadline:
            try:
                with open(self.log_file, "rb") as fh:
                    st = os.fstat(fh.fileno())
                    if inode is not None and st.st_ino != inode or st.st_size < self._offset:
                        self._offset, buffer = 0, b""       # rotated or truncated: read the new file
                    inode = st.st_ino
                    fh.seek(self._offset)
                    while not self._cancel.is_set() and time.monotonic() < deadline:
                        chunk = fh.read()
                        if not chunk:
                            if os.stat(self.log_file).st_ino != inode:
                                break
                            time.sleep(0.001)
                            continue
                        self._offset += len(chunk)
                        buffer += chunk
                        *lines, buffer = buffer.split(b"\n")
                        for raw in lines:
                            rec = is_entry_fill(raw.decode("utf-8", "replace"))
                            if rec is not None:
                                self._kill(rec)
                                return
            except FileNotFoundError:
                time.sleep(0.01)

    def _kill(self, rec: dict) -> None:
        pid = self.pid_of()
        if pid <= 0:            # never os.kill(0): that would signal the trial's own process group
            self.error = "the bot's pid file was missing or not a process of this trial"
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.error = f"pid {pid} was already gone"
            return
        self.result = EntryKill(pid, time.time(), str(rec.get("trade_id", "")), str(rec.get("symbol", "")),
                                str(rec.get("client_id", "")))
