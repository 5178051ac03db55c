"""The venue's clock as seen from here: local clock + measured offset, and a measured rate.

A real venue's clock runs at our speed, so only the offset matters. The paper exchange can run its
market faster than real time (ASTER_PAPER_SPEED, replays); its clock then runs at a multiple of ours,
and a fixed offset would be wrong again a moment after each sync. Two syncs at least a second apart
measure that rate; it is used only when it clearly differs from 1 (by more than 5 %), so network
jitter on a real venue never bends the clock.
"""
from __future__ import annotations

import time
from typing import Callable

MIN_RATE_SPAN_MS = 1_000
RATE_TOLERANCE = 0.05


class VenueClock:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self.rate = 1.0
        self._ref: tuple[int, int] | None = None      # (local ms, venue ms) of the last sync
        self._rate_ref: tuple[int, int] | None = None # the sync the rate is measured from
        self._offset_ms = 0

    def local_ms(self) -> int:
        return int(self._clock() * 1000)

    def now_ms(self) -> int:
        local = self.local_ms()
        if self.rate == 1.0 or self._ref is None:
            return local + self._offset_ms
        local_ref, venue_ref = self._ref
        return venue_ref + int((local - local_ref) * self.rate)

    @property
    def offset_ms(self) -> int:
        """Venue time minus local time, now."""
        return self.now_ms() - self.local_ms()

    def observe(self, sent_s: float, received_s: float, server_ms: int) -> int:
        """A server time read between `sent_s` and `received_s` (local seconds); returns the new offset."""
        midpoint = int((sent_s + received_s) * 500)
        self._ref = (midpoint, server_ms)
        if self._rate_ref is None:
            self._rate_ref = self._ref
        elif midpoint - self._rate_ref[0] >= MIN_RATE_SPAN_MS:
            rate = (server_ms - self._rate_ref[1]) / (midpoint - self._rate_ref[0])
            self.rate = rate if rate > 0 and abs(rate - 1.0) > RATE_TOLERANCE else 1.0
            self._rate_ref = self._ref
        self._offset_ms = server_ms - midpoint
        return self._offset_ms
