"""A seeded market-cache stand-in for tests and benchmarks of the engine (no venue, no network)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mraster.domain.types import BookTicker, Kline, MarkPrice
from mraster.exchange.market_cache import SymbolSnapshot

MIN = 60_000


class SyntheticCache:
    """Seeded random-walk stand-in for the live market cache: what the engine reads (closed 1m bar,
    quote, funding, venue time), advanced one bar at a time, for tests and benchmarks without a venue."""

    def __init__(self, symbols: Iterable[str], t0: int, seed: int = 1):
        self.rng = np.random.default_rng(seed)
        self.px = {s: 100.0 + i for i, s in enumerate(symbols)}
        self.closed: dict[str, Kline] = {}
        self.now = t0
        self.symbols = list(symbols)

    def close_bar(self, open_ms: int) -> None:
        for s in self.symbols:
            o = self.px[s]
            r = self.rng.normal(0, 8e-4, 3)
            c = o * (1 + r[0])
            h, lo = max(o, c) * (1 + abs(r[1]) / 3), min(o, c) * (1 - abs(r[2]) / 3)
            self.closed[s] = Kline(open_ms, o, h, lo, c, float(self.rng.lognormal(3, 1)), open_ms + MIN - 1)
            self.px[s] = c
        self.now = open_ms + MIN + 200

    def snapshot(self, s: str) -> SymbolSnapshot:
        p = self.px[s]
        return SymbolSnapshot(s, self.closed.get(s), BookTicker(s, p * 0.9999, 1, p * 1.0001, 1),
                              MarkPrice(s, p, p, 1e-4, 0, self.now), None, (), self.closed.get(s))

    def venue_now_ms(self) -> int:
        return self.now
