"""Resting orders indexed by the price level at which they act.

A bar or tick that reaches no level costs one comparison per index (the nearest level sits at the
front of a sorted list), which is what lets a month of 1-minute bars with hundreds of resting
orders replay in seconds.
"""
from __future__ import annotations

from bisect import bisect_left, insort


class LevelIndex:
    """Order ids by integer level. A rising index fires when price >= level, a falling one when
    price <= level. Stored as sorted (key, order_id) with key = level (rising) or -level (falling),
    so in both cases the next to fire is at the front."""

    __slots__ = ("rising", "keys")

    def __init__(self, rising: bool):
        self.rising = rising
        self.keys: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, level: int, order_id: int) -> None:
        insort(self.keys, (level if self.rising else -level, order_id))

    def remove(self, level: int, order_id: int) -> bool:
        item = (level if self.rising else -level, order_id)
        i = bisect_left(self.keys, item)
        if i < len(self.keys) and self.keys[i] == item:
            del self.keys[i]
            return True
        return False

    def reaches(self, price: int) -> bool:
        """Would `price` fire the nearest level?"""
        keys = self.keys
        if not keys:
            return False
        return keys[0][0] <= (price if self.rising else -price)

    def nearest(self) -> int | None:
        if not self.keys:
            return None
        k = self.keys[0][0]
        return k if self.rising else -k

    def pop_due(self, price: int) -> list[int]:
        """Remove and return (nearest first) every order id whose level `price` reaches."""
        keys = self.keys
        p = price if self.rising else -price
        n = 0
        while n < len(keys) and keys[n][0] <= p:
            n += 1
        if not n:
            return []
        due = [oid for _, oid in keys[:n]]
        del keys[:n]
        return due


class SymbolWatch:
    """Everything resting on one symbol that a price move can set off."""

    __slots__ = ("mark_up", "mark_down", "last_up", "last_down", "buy_limits", "sell_limits", "trailing")

    def __init__(self) -> None:
        self.mark_up = LevelIndex(rising=True)      # conditional orders firing when mark >= stop
        self.mark_down = LevelIndex(rising=False)   # ... when mark <= stop
        self.last_up = LevelIndex(rising=True)      # same on the last (contract) price
        self.last_down = LevelIndex(rising=False)
        self.buy_limits = LevelIndex(rising=False)  # resting buys fill when the ask comes down to them
        self.sell_limits = LevelIndex(rising=True)  # resting sells fill when the bid comes up to them
        self.trailing: dict[int, None] = {}         # trailing stops (few; scanned each update)

    def could_act(self, mark_lo: int, mark_hi: int, last_lo: int, last_hi: int,
                  ask_lo: int, bid_hi: int) -> bool:
        """Cheap pre-check over a price range: might a resting limit or a conditional order act within it?
        (Trailing stops are checked by the caller, order by order.)"""
        return self.mark_up.reaches(mark_hi) or self.mark_down.reaches(mark_lo) \
            or self.last_up.reaches(last_hi) or self.last_down.reaches(last_lo) \
            or self.buy_limits.reaches(ask_lo) or self.sell_limits.reaches(bid_hi)

    def size(self) -> int:
        return (len(self.mark_up) + len(self.mark_down) + len(self.last_up) + len(self.last_down)
                + len(self.buy_limits) + len(self.sell_limits) + len(self.trailing))
