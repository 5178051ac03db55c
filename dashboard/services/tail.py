"""Follow a JSON-lines log file the way `tail -F` does: across rotation and truncation.

The writers use logging's RotatingFileHandler: `bot.jsonl` is renamed to
`bot.jsonl.1` and a new `bot.jsonl` is created. The tailer keeps the old file
open, reads it to its end, then switches to the new one, so no line is lost at a
rotation. A file that shrinks was truncated: reading starts again at its top.
Only complete lines are returned; a half-written last line waits for its newline.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

MAX_READ = 4 * 1024 * 1024   # per poll, so one huge burst cannot stall the event loop for long
MAX_LINE = 256 * 1024        # a "line" longer than this is cut (a runaway writer)


class FileTailer:
    def __init__(self, path: Path, *, backlog_bytes: int = 0):
        """The first poll returns the complete lines in the last `backlog_bytes` of the file
        (the backlog) and every later poll what was appended since."""
        self.path = Path(path)
        self._fh: BinaryIO | None = None
        self._inode: int | None = None
        self._partial = b""
        self._skip_first = False
        self._backlog_bytes: int | None = backlog_bytes

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh, self._inode, self._partial = None, None, b""

    def poll(self) -> list[str]:
        """Complete new lines since the last call."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        lines: list[str] = []
        if self._fh is not None and (st is None or st.st_ino != self._inode):
            lines += self._read(drain=True)   # rotated or removed: finish the old file first
            self.close()
        if self._backlog_bytes is not None and self._fh is None and st is None:
            self._backlog_bytes = None        # a file that appears later is read from its start
        if st is None:
            return lines
        if self._fh is None:
            try:
                self._fh = open(self.path, "rb")
            except FileNotFoundError:
                return lines
            self._inode = os.fstat(self._fh.fileno()).st_ino
            if self._backlog_bytes is not None:
                size = os.fstat(self._fh.fileno()).st_size
                start = max(0, size - self._backlog_bytes)
                if start > 0:  # starting mid-file: drop the first piece unless it begins a line
                    self._fh.seek(start - 1)
                    self._skip_first = self._fh.read(1) != b"\n"
                self._fh.seek(start)
            self._backlog_bytes = None
        elif st.st_size < self._fh.tell():
            self._fh.seek(0)                  # truncated in place
            self._partial = b""
        return lines + self._read()

    def _read(self, drain: bool = False) -> list[str]:
        assert self._fh is not None
        data = self._fh.read(MAX_READ)
        if not data and not (drain and self._partial):
            return []
        buf = self._partial + data
        parts = buf.split(b"\n")
        self._partial = parts.pop()
        if self._skip_first and parts:
            parts = parts[1:]
            self._skip_first = False
        if drain and self._partial:           # the old file will not grow again
            parts.append(self._partial)
            self._partial = b""
        if len(self._partial) > MAX_LINE:
            parts.append(self._partial[:MAX_LINE])
            self._partial = b""
        return [p.decode("utf-8", "replace").rstrip("\r") for p in parts if p.strip()]

