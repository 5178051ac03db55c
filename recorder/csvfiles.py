"""Dated CSV files that survive SIGKILL: header once, append-only, buffered, flushed every second.

Writing: lines are buffered in memory and written + flushed to the OS at least once a second (a
killed process loses at most that second); at the UTC day roll and at close, files are also fsynced,
and every `FSYNC_EVERY_S` seconds in between (a power cut loses little more). Opening a file that a
killed run left with a torn last line cuts it back to the last complete line first, so the next row
never glues onto half a row. A file whose header is not the table's columns is kept aside, not
appended to. Reading: `mraster.marketdata.csvread` (kernel, shared with the backtester) stops every reader
at the last complete line (`complete_length()`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mraster.marketdata.csvread import complete_length
from mraster.marketdata.schema import Table

FSYNC_EVERY_S = 10.0
TAIL_BYTES = 256 * 1024


def header_line(table: Table) -> str:
    return ",".join(table.names) + "\n"


def tail_lines(path: Path, max_bytes: int = TAIL_BYTES) -> list[str]:
    """The complete lines in the last `max_bytes` of `path` (the first, possibly cut, line dropped)."""
    end = complete_length(path)
    if end == 0:
        return []
    with open(path, "rb") as f:
        start = max(0, end - max_bytes)
        f.seek(start)
        data = f.read(end - start).decode("utf-8", "replace")
    lines = data.split("\n")[:-1]
    return lines[1:] if start > 0 else lines


def last_ts_by_symbol(path: Path) -> dict[str, int]:
    """Latest ts_unix_ms per symbol among the last rows of a family file (rows start `ts,dt,symbol,`)."""
    out: dict[str, int] = {}
    if not path.exists():
        return out
    for line in tail_lines(path):
        parts = line.split(",", 3)
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        ts, sym = int(parts[0]), parts[2]
        if ts > out.get(sym, -1):
            out[sym] = ts
    return out


@dataclass
class Opened:
    path: Path
    torn_bytes: int          # bytes of a torn last line cut away
    set_aside: Path | None   # a file with a foreign header, renamed


class DayFile:
    """One family's file for one UTC day, opened for append."""

    def __init__(self, directory: Path, table: Table, day: str):
        self.table, self.day = table, day
        self.path = directory / table.csv_name(day)
        self._buf: list[str] = []
        self.rows = 0                   # data rows in the file (complete lines minus the header)
        self.opened = self._open()
        self._last_fsync = time.monotonic()

    def _open(self) -> Opened:
        torn, aside = 0, None
        header = header_line(self.table)
        if self.path.exists():
            good = complete_length(self.path)
            size = self.path.stat().st_size
            if good < size:
                torn = size - good
                with open(self.path, "r+b") as f:
                    f.truncate(good)
                    f.flush()
                    os.fsync(f.fileno())
            if good:
                with open(self.path, "rb") as f:
                    first = f.readline().decode("utf-8", "replace")
                if first != header:
                    aside = self.path.with_name(self.path.name + f".foreign-{int(time.time())}")
                    os.replace(self.path, aside)
        self._f = open(self.path, "ab")
        if self._f.tell() == 0:
            self._f.write(header.encode())
            self._f.flush()
        else:
            with open(self.path, "rb") as f:
                self.rows = max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1)
        return Opened(self.path, torn, aside)

    def add(self, line: str) -> None:
        self._buf.append(line)

    def flush(self, fsync: bool = False) -> None:
        if self._buf:
            self._f.write("".join(self._buf).encode())
            self.rows += len(self._buf)
            self._buf.clear()
        self._f.flush()
        if fsync or time.monotonic() - self._last_fsync >= FSYNC_EVERY_S:
            os.fsync(self._f.fileno())
            self._last_fsync = time.monotonic()

    @property
    def size(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        if not self._f.closed:
            self.flush(fsync=True)
            self._f.close()


class FamilySet:
    """The day files of several tables, rolled together when the day changes."""

    def __init__(self, directory: Path, tables: tuple[Table, ...]):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.tables = {t.name: t for t in tables}
        self.day: str | None = None
        self.files: dict[str, DayFile] = {}

    def ensure_day(self, day: str) -> list[Opened]:
        """Open the files of `day` (closing, flushing and fsyncing the previous day's first)."""
        if day == self.day:
            return []
        self.close()
        self.day = day
        self.files = {name: DayFile(self.directory, t, day) for name, t in self.tables.items()}
        return [f.opened for f in self.files.values()]

    def add(self, table: str, line: str) -> None:
        self.files[table].add(line)

    def flush(self, fsync: bool = False) -> None:
        for f in self.files.values():
            f.flush(fsync)

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files = {}
