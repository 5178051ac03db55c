"""Contract specifications: filters (as SymbolRules), leverage brackets, and the integer tick grid.

Inside the engine every price is an integer number of ticks, so comparisons are exact and fast;
Decimal is used for money and quantities, and at the edge (`price()` turns ticks back into Decimal).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from mraster.domain.rules import SymbolRules

D0 = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    mmr: Decimal           # maintenance margin ratio
    cum: Decimal           # maintenance amount: maintMargin = notional * mmr - cum


def make_brackets(floors_and_rates: Sequence[tuple[str | Decimal, str | Decimal]],
                  last_cap: Decimal = Decimal("1000000000")) -> tuple[Bracket, ...]:
    """Brackets from (notional floor, maintenance rate) pairs, Binance style: cum makes the maintenance
    margin continuous across bracket edges; initial leverage is the largest that keeps IM >= 2 x MM."""
    out: list[Bracket] = []
    cum = D0
    prev_rate = D0
    pairs = [(Decimal(str(f)), Decimal(str(r))) for f, r in floors_and_rates]
    for i, (floor, rate) in enumerate(pairs):
        cum += floor * (rate - prev_rate)
        cap = pairs[i + 1][0] if i + 1 < len(pairs) else last_cap
        lev = max(1, min(125, int(Decimal(1) / (2 * rate))))
        out.append(Bracket(i + 1, lev, floor, cap, rate, cum))
        prev_rate = rate
    return tuple(out)


# Binance USD-M brackets for BTC and ETH (floors and rates as ccxt recorded them, see mraster/data/README.md);
# other symbols get a typical altcoin table.
BTC_BRACKETS = make_brackets([("0", "0.004"), ("50000", "0.005"), ("250000", "0.01"), ("3000000", "0.025"),
                              ("20000000", "0.05"), ("40000000", "0.1"), ("100000000", "0.125"),
                              ("120000000", "0.15"), ("200000000", "0.25"), ("300000000", "0.5")])
ETH_BRACKETS = make_brackets([("0", "0.005"), ("100000", "0.0065"), ("250000", "0.01"), ("2000000", "0.02"),
                              ("15000000", "0.05"), ("30000000", "0.1"), ("60000000", "0.125"),
                              ("80000000", "0.15"), ("100000000", "0.25"), ("150000000", "0.5")])
ALT_BRACKETS = make_brackets([("0", "0.01"), ("10000", "0.02"), ("50000", "0.025"), ("250000", "0.05"),
                              ("1000000", "0.1"), ("5000000", "0.125"), ("12500000", "0.25"),
                              ("25000000", "0.5")])


def brackets_for(symbol: str) -> tuple[Bracket, ...]:
    if symbol.startswith("BTC"):
        return BTC_BRACKETS
    if symbol.startswith("ETH"):
        return ETH_BRACKETS
    return ALT_BRACKETS


@dataclass(frozen=True)
class SymbolSpec:
    rules: SymbolRules
    brackets: tuple[Bracket, ...]
    liquidation_fee: Decimal = Decimal("0.0125")
    market_take_bound: Decimal = Decimal("0.30")
    onboard_ms: int = 1569398400000

    @property
    def symbol(self) -> str:
        return self.rules.symbol

    @property
    def tick(self) -> Decimal:
        return self.rules.tick_size

    # ------------------------------------------------------------ tick grid
    def ticks(self, price: Decimal) -> int:
        """Exact tick count of an on-grid price (validated before)."""
        return int(price / self.rules.tick_size)

    def price(self, ticks: int) -> Decimal:
        return self.rules.tick_size * ticks

    # ------------------------------------------------------------ brackets
    def bracket(self, notional: Decimal) -> Bracket:
        for b in self.brackets:
            if notional < b.notional_cap:
                return b
        return self.brackets[-1]

    def maint_margin(self, notional: Decimal) -> Decimal:
        b = self.bracket(notional)
        return max(D0, notional * b.mmr - b.cum)

    def max_notional(self, leverage: int) -> Decimal:
        """Largest position notional allowed at `leverage` (the cap of the last bracket that allows it)."""
        cap = D0
        for b in self.brackets:
            if b.initial_leverage >= leverage:
                cap = b.notional_cap
        return cap

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].initial_leverage
