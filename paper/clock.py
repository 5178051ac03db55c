"""The venue clock: the one time the paper exchange judges by.

Venue time follows the market feed, so a replay can run faster than real time:

    venue_ms = start_venue_ms + (wall - start_wall) * speed + advanced_ms

At speed 1 on the synthetic and live feeds `start_venue_ms` is the wall clock at start, so venue
time equals the wall clock and third-party clients that sign with their local time just work.
`advance()` (admin) jumps forward; the clock never runs backwards. The wall clock is injected so
tests and the backtester can drive it.
"""
from __future__ import annotations

import time
from typing import Callable


def wall_ms() -> int:
    return int(time.time() * 1000)


class VenueClock:
    def __init__(self, start_venue_ms: int, speed: float = 1.0, *, wall: Callable[[], float] = time.time,
                 advanced_ms: int = 0):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = float(speed)
        self._wall = wall
        self._start_wall = wall()
        self._start_venue = int(start_venue_ms)
        self.advanced_ms = int(advanced_ms)
        self._last = self._start_venue + self.advanced_ms

    def now_ms(self) -> int:
        elapsed = (self._wall() - self._start_wall) * 1000.0 * self.speed
        now = self._start_venue + int(elapsed) + self.advanced_ms
        if now < self._last:      # monotonic even if the wall clock steps back
            return self._last
        self._last = now
        return now

    def advance(self, ms: int) -> int:
        """Jump forward by `ms` (admin); returns the new venue time."""
        if ms < 0:
            raise ValueError("the venue clock only moves forward")
        self.advanced_ms += int(ms)
        return self.now_ms()
