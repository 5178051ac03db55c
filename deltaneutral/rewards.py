"""Reward accounting (pure): volume, hold time with the venue's multiplier, and what the points cost.

- Volume: the notional (price x quantity) of every fill, opens and closes, both legs.
- Holding-time equivalent of a leg = notional x days held x multiplier, the multiplier being 10 once the
  leg has been held 90 minutes or more (1 before): a 100 USDT leg held 2 h counts 100 x 2/24 x 10 = 83.33.
  The weekly figure is the sum over the last 7 days (a leg still open counts up to now), against the
  seed's 200K target.
- Cost per volume: fees and funding paid per 10,000 USDT traded (bps), so a user sees the points' price.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from mraster.engines.kinds.deltaneutral import HOLD_BONUS_MIN, HOLD_BONUS_MULT

ZERO = Decimal(0)
MIN_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


def multiplier(held_ms: int) -> Decimal:
    return Decimal(str(HOLD_BONUS_MULT)) if held_ms >= HOLD_BONUS_MIN * MIN_MS else Decimal(1)


def hold_equivalent(notional: Decimal, held_ms: int) -> Decimal:
    """notional x days held x multiplier."""
    if held_ms <= 0 or notional <= 0:
        return ZERO
    return notional * Decimal(held_ms) / Decimal(DAY_MS) * multiplier(held_ms)


def _d(v: Any) -> Decimal:
    return Decimal(str(v)) if v not in (None, "") else ZERO


def weekly_hold_equivalent(positions: Iterable[Mapping[str, Any]], now_ms: int) -> Decimal:
    """Sum over legs (trade-database position rows) of the part held within the last 7 days. The multiplier
    is the leg's own (its whole hold), the days are those inside the window."""
    start = now_ms - WEEK_MS
    total = ZERO
    for p in positions:
        opened = int(p["opened_ms"])
        closed = int(p["closed_ms"]) if p.get("closed_ms") else now_ms
        inside = min(closed, now_ms) - max(opened, start)
        if inside <= 0:
            continue
        notional = _d(p["quantity"]) * _d(p["entry_price"])
        total += notional * Decimal(inside) / Decimal(DAY_MS) * multiplier(closed - opened)
    return total


@dataclass(frozen=True)
class Costs:
    volume: Decimal
    fees: Decimal
    funding_paid: Decimal          # positive = paid

    @property
    def fees_bps(self) -> float:
        return float(self.fees / self.volume * 10_000) if self.volume > 0 else 0.0

    @property
    def funding_bps(self) -> float:
        return float(self.funding_paid / self.volume * 10_000) if self.volume > 0 else 0.0

    @property
    def per_10k(self) -> float:
        """Fees and funding paid per 10,000 USDT of volume."""
        return float((self.fees + self.funding_paid) / self.volume * 10_000) if self.volume > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"volume": float(self.volume), "fees": float(self.fees), "funding_paid": float(self.funding_paid),
                "fees_bps": round(self.fees_bps, 4), "funding_bps": round(self.funding_bps, 4),
                "cost_per_10k": round(self.per_10k, 4)}


def costs(trades: Iterable[Mapping[str, Any]], funding_received: Decimal = ZERO) -> Costs:
    volume = fees = ZERO
    for t in trades:
        volume += _d(t["notional"])
        fees += _d(t["fee"])
    return Costs(volume, fees, -funding_received)


def hold_progress(opened_ms: int | None, now_ms: int, hold_ms: int) -> dict[str, Any]:
    """Hold time of the current pair against its target and the multiplier threshold."""
    if opened_ms is None:
        return {"held_min": 0.0, "target_min": hold_ms / MIN_MS, "bonus": False}
    held = max(0, now_ms - opened_ms)
    return {"held_min": round(held / MIN_MS, 2), "target_min": hold_ms / MIN_MS,
            "bonus": held >= HOLD_BONUS_MIN * MIN_MS, "multiplier": float(multiplier(held))}
