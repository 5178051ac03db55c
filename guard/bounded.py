"""Small least-recently-used containers: the guard runs for weeks, so its memory of ids, ATRs and
sentences already said must not grow with every position and order it ever met."""
from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Hashable, Iterator, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruDict(Generic[K, V]):
    """A mapping that keeps at most `limit` entries, dropping the least recently used first."""

    def __init__(self, limit: int):
        self.limit = limit
        self._d: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._d))

    def __getitem__(self, key: K) -> V:
        self._d.move_to_end(key)
        return self._d[key]

    def __setitem__(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.limit:
            self._d.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._d[key]

    def get(self, key: K, default: V | None = None) -> V | None:
        return self[key] if key in self._d else default

    def pop(self, key: K, default: V | None = None) -> V | None:
        return self._d.pop(key, default)

    def items(self) -> list[tuple[K, V]]:
        return list(self._d.items())


class LruSet(Generic[K]):
    """A set that keeps at most `limit` members (least recently added or touched dropped first)."""

    def __init__(self, limit: int):
        self._d: LruDict[K, None] = LruDict(limit)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def add(self, key: K) -> None:
        self._d[key] = None
