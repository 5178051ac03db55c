"""The simulated order book a paper order trades against.

The feed gives the touch (best bid/ask and their sizes); behind it the book is a ladder of levels
`gap` ticks apart whose size grows with distance, as in real futures books (more size away from
the touch). The feed calibrates `level_qty` and `growth` per symbol (see feeds/calibration.py), so
a large order walks the book and pays for its size.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Iterator

D0 = Decimal(0)


@dataclass(slots=True)
class BookShape:
    bid_t: int
    ask_t: int
    bid_qty: Decimal
    ask_qty: Decimal
    gap_t: int = 1
    level_qty: Decimal = Decimal(1)
    growth: Decimal = Decimal("0.15")
    levels: int = 200
    step: Decimal = Decimal("0.001")

    def _depth(self, k: int) -> Decimal:
        q = self.level_qty * (1 + self.growth * k)
        if self.step > 0:
            q = (q / self.step).to_integral_value(rounding=ROUND_FLOOR) * self.step
        return q if q > 0 else self.step

    def asks(self) -> Iterator[tuple[int, Decimal]]:
        """(price in ticks, size), best first; what a buyer takes."""
        yield self.ask_t, self.ask_qty if self.ask_qty > 0 else self._depth(0)
        for k in range(1, self.levels):
            yield self.ask_t + k * self.gap_t, self._depth(k)

    def bids(self) -> Iterator[tuple[int, Decimal]]:
        """(price in ticks, size), best first; what a seller takes."""
        yield self.bid_t, self.bid_qty if self.bid_qty > 0 else self._depth(0)
        for k in range(1, self.levels):
            p = self.bid_t - k * self.gap_t
            if p <= 0:
                return
            yield p, self._depth(k)

    def side_for_taker(self, buy: bool) -> Iterator[tuple[int, Decimal]]:
        return self.asks() if buy else self.bids()


def walk(levels: Iterator[tuple[int, Decimal]], want: Decimal, buy: bool,
         limit_t: int | None = None) -> list[tuple[int, Decimal]]:
    """Take up to `want` from `levels` (best first), not beyond `limit_t` if given.
    Returns the fills as (price ticks, qty); their sum may be less than `want`."""
    fills: list[tuple[int, Decimal]] = []
    left = want
    for price_t, size in levels:
        if limit_t is not None and (price_t > limit_t if buy else price_t < limit_t):
            break
        q = size if size < left else left
        if q > 0:
            fills.append((price_t, q))
            left -= q
        if left <= 0:
            break
    return fills


def available(levels: Iterator[tuple[int, Decimal]], buy: bool, limit_t: int) -> Decimal:
    """Total size on the levels a taker could reach without passing `limit_t`."""
    total = D0
    for price_t, size in levels:
        if price_t > limit_t if buy else price_t < limit_t:
            break
        total += size
    return total
