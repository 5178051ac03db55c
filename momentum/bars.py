"""Closed 1-minute bars of one symbol, oldest first, on a minute grid: what the signal reads.

Bars come from REST at start (and to fill a gap) and from the market cache's last closed kline
(`latest_closed_kline_1m`) afterwards. A minute the venue never delivered stays a NaN bar, as in the
backtester's feature table (no signal while a window holds one). Kept in numpy arrays with head room,
so appending is a copy only once per `cap` bars.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mraster.domain.types import Kline

MINUTE_MS = 60_000
FIELDS = ("o", "h", "l", "c", "v")


class Bars:
    def __init__(self, cap: int = 256):
        self.cap = max(8, int(cap))
        self._a = np.full((5, 2 * self.cap), np.nan)
        self._start = self._end = 0
        self.last_open: int | None = None          # open time of the newest bar

    def __len__(self) -> int:
        return self._end - self._start

    def ensure_cap(self, cap: int) -> None:
        if cap > self.cap:
            keep = self._a[:, self._start:self._end].copy()
            self.cap = cap
            self._a = np.full((5, 2 * cap), np.nan)
            self._a[:, :keep.shape[1]] = keep
            self._start, self._end = 0, keep.shape[1]

    def _push(self, row: tuple[float, float, float, float, float]) -> None:
        if self._end == self._a.shape[1]:
            n = min(len(self), self.cap - 1)
            self._a[:, :n] = self._a[:, self._end - n:self._end]
            self._a[:, n:] = np.nan
            self._start, self._end = 0, n
        self._a[:, self._end] = row
        self._end += 1
        if len(self) > self.cap:
            self._start += 1

    def add(self, k: Kline) -> bool:
        """Append a closed bar; minutes skipped since the newest bar become NaN bars. False (nothing
        changes) for a bar at or before the newest one."""
        if self.last_open is not None and k.open_time <= self.last_open:
            return False
        if self.last_open is not None:
            missing = (k.open_time - self.last_open) // MINUTE_MS - 1
            for _ in range(int(min(missing, self.cap))):
                self._push((np.nan,) * 5)
        self._push((k.open, k.high, k.low, k.close, k.volume))
        self.last_open = k.open_time
        return True

    def extend(self, klines: Iterable[Kline]) -> int:
        return sum(1 for k in sorted(klines, key=lambda x: x.open_time) if self.add(k))

    def tail(self, n: int) -> np.ndarray:
        """The last `n` bars (fewer while warming up) as a 5 x n array: open, high, low, close, volume."""
        start = max(self._start, self._end - n)
        return self._a[:, start:self._end]
