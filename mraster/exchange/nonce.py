"""Nonces of Aster V3 requests: microseconds, unique per agent, safe across restarts and processes.

The venue keeps, per agent address, the 100 most recent nonces and refuses a
nonce it has seen or one older than all 100 it keeps (aster-v3.md §2.7); it
also refuses nonces outside a window around its clock. So every request of an
agent needs a nonce that is (a) close to the venue's time in microseconds and
(b) larger than every nonce that agent used before, by any process: bot, guard
and other engines of one account share one agent.

`NonceSource.next()` returns `max(venue time in µs, high-water mark + 1)`. The
high-water mark of each agent lives in a small file in the run directory,
read and raised under an exclusive `fcntl` lock, so processes never hand out
the same nonce and a restarted process continues above what it used before
(even if the clock stepped back). Without a run directory the mark is kept in
memory only (one process: tests, tools).
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Callable

from mraster.logs import get_logger

log = get_logger("mraster.exchange.nonce")

_WIDTH = 20          # fixed-width decimal, rewritten in place under the lock
_registry_lock = threading.Lock()
_in_process: dict[str, int] = {}


def microseconds(clock: Callable[[], float] = time.time) -> int:
    return int(clock() * 1_000_000)


class NonceSource:
    """Strictly increasing microsecond nonces for one agent (see the module docstring).

    `now_us` gives the venue's time in microseconds (local clock + measured offset)."""

    def __init__(self, agent: str, run_dir: Path | str | None = None,
                 now_us: Callable[[], int] = lambda: time.time_ns() // 1000):
        self.agent = agent.lower()
        self._now_us = now_us
        self._lock = threading.Lock()
        self.path = Path(run_dir) / f"v3-nonce-{self.agent}.hwm" if run_dir else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def next(self) -> int:
        with self._lock:
            if self.path is None:
                with _registry_lock:
                    nonce = max(self._now_us(), _in_process.get(self.agent, 0) + 1)
                    _in_process[self.agent] = nonce
                    return nonce
            return self._next_shared()

    def last(self) -> int:
        """The high-water mark (0 when none yet)."""
        if self.path is None:
            return _in_process.get(self.agent, 0)
        try:
            return _parse(self.path.read_bytes()) or 0
        except FileNotFoundError:
            return 0

    def _next_shared(self) -> int:
        assert self.path is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0)
            last = _parse(raw)
            if last is None:
                if raw.strip():
                    log.warning("nonce.unreadable", f"nonce high-water file {self.path} was unreadable; "
                                "continuing from the clock", path=str(self.path))
                last = 0
            nonce = max(self._now_us(), last + 1)
            os.pwrite(fd, str(nonce).rjust(_WIDTH).encode("ascii"), 0)
            os.ftruncate(fd, _WIDTH)
            return nonce
        finally:
            os.close(fd)      # closing releases the lock


def _parse(raw: bytes) -> int | None:
    try:
        value = int(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None
    return value if value > 0 else None


def reset_in_process() -> None:
    """Forget the in-memory marks (tests)."""
    with _registry_lock:
        _in_process.clear()
