"""Kline cache: fresh copies save requests; old copies keep the bot going through a venue outage.

Within `ttl_s` a request is answered from the cache. When the venue cannot be
reached (a retryable error after the client's own retries), the last copy is
served however old, and marked stale with its age (`KlinesStatus`), so the
caller can decide whether the prices are still good enough to trade on.
Closed flags are recomputed when a copy is served, since a bar may have closed
since it was fetched.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Awaitable, Callable

from mraster.domain.types import Kline, KlinesStatus
from mraster.logs import get_logger
from mraster.exchange.errors import RetryableError

log = get_logger("mraster.exchange.klines")

Key = tuple[str, str, int, int | None, int | None]   # symbol, interval, limit, start, end


@dataclass
class _Entry:
    klines: list[Kline]
    fetched_at_s: float


class KlineCache:
    def __init__(self, ttl_s: float, max_entries: int = 1024):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._status: dict[tuple[str, str], KlinesStatus] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def status(self, symbol: str, interval: str) -> KlinesStatus | None:
        return self._status.get((symbol, interval))

    def stale(self) -> dict[str, float]:
        """"SYMBOL interval" -> age in seconds, for every pair whose last answer was stale."""
        return {f"{s.symbol} {s.interval}": round(s.age_s, 1) for s in self._status.values() if s.stale}

    async def get(self, key: Key, fetch: Callable[[], Awaitable[list[Kline]]], now_s: float,
                  venue_now_ms: int) -> list[Kline]:
        symbol, interval = key[0], key[1]
        entry = self._entries.get(key)
        if entry is not None and now_s - entry.fetched_at_s < self.ttl_s:
            self._entries.move_to_end(key)
            return self._serve(key, entry, now_s, venue_now_ms, stale=False)
        try:
            klines = await fetch()
        except RetryableError as exc:
            fallback = entry or self._wider(key)
            if fallback is None:
                raise
            age = now_s - fallback.fetched_at_s
            log.warning("klines.stale", f"venue unreachable ({exc}); serving cached {symbol} {interval} klines "
                        f"{age:.0f}s old", symbol=symbol, interval=interval, age_s=round(age, 1),
                        error=type(exc).__name__)
            return self._serve(key, fallback, now_s, venue_now_ms, stale=True)
        entry = _Entry(list(klines), now_s)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        self._status[(symbol, interval)] = KlinesStatus(symbol, interval, False, 0.0, int(now_s * 1000))
        return list(klines)

    def _wider(self, key: Key) -> _Entry | None:
        """A cached answer to the same question with a larger limit also answers this one."""
        symbol, interval, limit, start, end = key
        best: _Entry | None = None
        for (s, i, lim, st, en), entry in self._entries.items():
            if (s, i, st, en) == (symbol, interval, start, end) and lim >= limit:
                if best is None or entry.fetched_at_s > best.fetched_at_s:
                    best = entry
        if best is None:
            return None
        rows = best.klines[-limit:] if start is None else best.klines[:limit]
        return _Entry(rows, best.fetched_at_s)

    def _serve(self, key: Key, entry: _Entry, now_s: float, venue_now_ms: int, stale: bool) -> list[Kline]:
        symbol, interval = key[0], key[1]
        age = max(0.0, now_s - entry.fetched_at_s)
        self._status[(symbol, interval)] = KlinesStatus(symbol, interval, stale, age, int(entry.fetched_at_s * 1000))
        return [k if k.closed or k.close_time >= venue_now_ms else k._replace(closed=True) for k in entry.klines]
