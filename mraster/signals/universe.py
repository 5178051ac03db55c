"""Which symbols a cycle scans: a pure function of the 24 h tickers, the symbol rules and settings.

Eligible = tradable perpetual (status TRADING) quoted in ASTER_QUOTE, in the allowlist
(if any), not in the blocklist, with 24 h quote volume >= ASTER_MIN_QUOTE_VOL_USDT;
ranked by quote volume (ties by name). Without rotation the top ASTER_UNIVERSE_MAX are
scanned. With ASTER_UNIVERSE_ROTATE and more eligible symbols than slots, the top
`max - rotating` stay (the core) and the last `rotating = max(1, max // 4)` slots walk
through the rest of the eligible list, advancing by `rotating` each cycle and wrapping.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from mraster.domain.rules import SymbolRules
from mraster.domain.types import Ticker24h


@dataclass(frozen=True, slots=True)
class UniverseParams:
    quote: str = "USDT"
    min_quote_volume: float = 75000.0
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_symbols: int = 40
    rotate: bool = False

    @classmethod
    def from_settings(cls, s: Any) -> "UniverseParams":
        return cls(quote=s.quote, min_quote_volume=s.min_quote_vol_usdt, include=tuple(s.include_symbols),
                   exclude=tuple(s.exclude_symbols), max_symbols=s.universe_max, rotate=s.universe_rotate)


@dataclass(frozen=True, slots=True)
class Universe:
    symbols: tuple[str, ...]                       # scanned this cycle, most liquid first
    liquidity_rank: Mapping[str, float]            # 0 = most liquid eligible symbol, 1 = least
    eligible: int                                  # how many passed the filters
    rotated_in: tuple[str, ...] = ()               # symbols taken from outside the core this cycle
    excluded: Mapping[str, str] = field(default_factory=dict)  # symbol -> why it was left out


def rotating_slots(max_symbols: int) -> int:
    return max(1, max_symbols // 4)


def select_universe(tickers: Iterable[Ticker24h], rules: Mapping[str, SymbolRules], params: UniverseParams,
                    cycle: int = 0) -> Universe:
    include = set(params.include)
    exclude = set(params.exclude)
    excluded: dict[str, str] = {}
    ranked: list[tuple[float, str]] = []
    for t in tickers:
        r = rules.get(t.symbol)
        if r is None:
            excluded[t.symbol] = "unknown_symbol"
        elif not r.is_tradable:
            excluded[t.symbol] = "not_tradable"
        elif r.quote_asset != params.quote:
            excluded[t.symbol] = "other_quote"
        elif include and t.symbol not in include:
            excluded[t.symbol] = "not_included"
        elif t.symbol in exclude:
            excluded[t.symbol] = "excluded"
        elif not (t.quote_volume >= params.min_quote_volume):
            excluded[t.symbol] = "low_volume"
        else:
            ranked.append((t.quote_volume, t.symbol))
    ranked.sort(key=lambda x: (-x[0], x[1]))
    eligible = [s for _, s in ranked]
    n = len(eligible)
    rank = {s: (i / (n - 1) if n > 1 else 0.0) for i, s in enumerate(eligible)}
    if n <= params.max_symbols or not params.rotate:
        chosen = eligible[:params.max_symbols]
        return Universe(tuple(chosen), rank, n, (), excluded)
    slots = min(rotating_slots(params.max_symbols), params.max_symbols)
    core = eligible[:params.max_symbols - slots]
    tail = eligible[params.max_symbols - slots:]
    start = (cycle * slots) % len(tail)
    rotated = [tail[(start + k) % len(tail)] for k in range(min(slots, len(tail)))]
    chosen = core + sorted(rotated, key=eligible.index)
    return Universe(tuple(chosen), rank, n, tuple(rotated), excluded)
