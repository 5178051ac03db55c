"""Invariants measured while the trial runs, from snapshots of the venue (pure: time comes in).

A snapshot is what the paper exchange's `GET /admin/state` says about the account: positions and
open orders. `StopGapTracker` measures how long each position is without a resting stop;
`DuplicateTracker` how long two orders of one slot rest together. Both count a violation once
per episode that outlasts its limit.

Resolution: an episode starts at the first snapshot that shows it and ends at the first that no
longer does, so a measured length is within one poll period of the true one (`at_most_s` adds
the period before the first sighting, an upper bound).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from mraster.domain.ids import Role, parse_client_order_id

STOP_TYPES = frozenset({"STOP", "STOP_MARKET"})
PROFIT_TYPES = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
ROLE_KIND = {Role.STOP: "stop", Role.STOP_ALT: "stop", Role.TAKE_PROFIT: "take_profit",
             Role.TAKE_PROFIT_ALT: "take_profit", Role.TRAILING: "trailing", Role.TRAILING_ALT: "trailing",
             Role.ENTRY: "entry"}


@dataclass(frozen=True)
class PositionView:
    symbol: str
    position_side: str
    amount: Decimal

    @property
    def key(self) -> tuple[str, str]:
        return self.symbol, self.position_side

    @property
    def exit_side(self) -> str:
        return "SELL" if self.amount > 0 else "BUY"


@dataclass(frozen=True)
class OrderView:
    order_id: int
    symbol: str
    client_id: str
    type: str
    side: str
    position_side: str
    reduce_only: bool
    close_position: bool
    orig_qty: Decimal
    executed_qty: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def exits(self, pos: PositionView) -> bool:
        """Closes (part of) `pos`: its exit side, and reduce-only/close-position (one-way mode) or the
        position's side (hedge mode)."""
        if self.symbol != pos.symbol or self.side != pos.exit_side:
            return False
        if pos.position_side == "BOTH":
            return self.position_side == "BOTH" and (self.reduce_only or self.close_position)
        return self.position_side == pos.position_side

    def protects(self, pos: PositionView) -> bool:
        """A resting stop that would close all of `pos` when it fires."""
        return (self.type in STOP_TYPES and self.exits(pos)
                and (self.close_position or self.remaining >= abs(pos.amount)))


def parse_account(account: Mapping[str, Any]) -> tuple[list[PositionView], list[OrderView]]:
    """Positions (non-zero) and open orders from one account of `GET /admin/state`."""
    positions = [PositionView(p["symbol"], p["positionSide"], Decimal(p["amount"]))
                 for p in account.get("positions", []) if Decimal(p["amount"]) != 0]
    orders = [OrderView(int(o["orderId"]), o["symbol"], o.get("clientOrderId", ""), o["type"], o["side"],
                        o.get("positionSide", "BOTH"), bool(o.get("reduceOnly")), bool(o.get("closePosition")),
                        Decimal(o.get("origQty") or "0"), Decimal(o.get("executedQty") or "0"))
              for o in account.get("open_orders", [])]
    return positions, orders


@dataclass
class Episode:
    key: tuple
    start_wall: float
    start_venue: int
    bound_wall: float                  # the previous snapshot's time: the episode began after it
    end_wall: float | None = None
    end_venue: int | None = None
    violated: bool = False
    detail: str = ""

    def length_s(self, now_wall: float) -> float:
        return (self.end_wall if self.end_wall is not None else now_wall) - self.start_wall

    def venue_length_ms(self, now_venue: int) -> int:
        return (self.end_venue if self.end_venue is not None else now_venue) - self.start_venue

    def to_json(self, now_wall: float, now_venue: int) -> dict[str, Any]:
        end = self.end_wall if self.end_wall is not None else now_wall
        return {"key": list(self.key), "start_wall": round(self.start_wall, 3),
                "length_s": round(end - self.start_wall, 3),
                "at_most_s": round(end - self.bound_wall, 3), "market_ms": self.venue_length_ms(now_venue),
                "violated": self.violated, "detail": self.detail}


@dataclass
class EpisodeTracker:
    """Episodes keyed by anything: `observe(active keys)` opens, extends and closes them."""
    limit_s: float
    open: dict[tuple, Episode] = field(default_factory=dict)
    closed: list[Episode] = field(default_factory=list)
    last_wall: float | None = None
    last_venue: int = 0

    def observe(self, wall: float, venue: int, active: Mapping[tuple, str]) -> None:
        bound = self.last_wall if self.last_wall is not None else wall
        for key, detail in active.items():
            if key not in self.open:
                self.open[key] = Episode(key, wall, venue, bound, detail=detail)
        for key in [k for k in self.open if k not in active]:
            ep = self.open.pop(key)
            ep.end_wall, ep.end_venue = wall, venue
            ep.violated = ep.violated or ep.length_s(wall) > self.limit_s
            self.closed.append(ep)
        for ep in self.open.values():
            ep.violated = ep.violated or wall - ep.start_wall > self.limit_s
        self.last_wall, self.last_venue = wall, venue

    def finish(self) -> None:
        """Close what is still open at the last snapshot's time."""
        if self.last_wall is None:
            return
        self.observe(self.last_wall, self.last_venue, {})

    def episodes(self) -> list[Episode]:
        return self.closed + list(self.open.values())

    @property
    def violations(self) -> int:
        return sum(1 for ep in self.episodes() if ep.violated)

    def longest(self) -> Episode | None:
        now = self.last_wall or 0.0
        eps = self.episodes()
        return max(eps, key=lambda ep: ep.length_s(now)) if eps else None


def unprotected(positions: Iterable[PositionView], orders: list[OrderView]) -> dict[tuple, str]:
    """Positions without a resting stop that closes all of them."""
    out = {}
    for pos in positions:
        if not any(o.protects(pos) for o in orders):
            out[pos.key] = f"{pos.symbol} {pos.amount} without a resting stop"
    return out


def duplicates(positions: Iterable[PositionView], orders: list[OrderView]) -> dict[tuple, str]:
    """Slots held twice: one trade's role (SL and SX count as one role) resting more than once, or a
    position with more than one stop, or more than one take-profit/trailing stop."""
    out: dict[tuple, str] = {}
    by_role: dict[tuple, list[str]] = {}
    for o in orders:
        parsed = parse_client_order_id(o.client_id)
        if parsed is None or parsed[1] not in ROLE_KIND:
            continue
        by_role.setdefault(("trade", parsed[0], ROLE_KIND[parsed[1]]), []).append(o.client_id)
    for key, cids in by_role.items():
        if len(cids) > 1:
            out[key] = f"{key[1]} {key[2]} rests {len(cids)} times: {', '.join(sorted(cids))}"
    for pos in positions:
        for slot, types in (("stop", STOP_TYPES), ("profit", PROFIT_TYPES)):
            held = [o for o in orders if o.type in types and o.exits(pos)]
            if len(held) > 1:
                out[("slot",) + pos.key + (slot,)] = (f"{pos.symbol} has {len(held)} {slot} orders: "
                                                      + ", ".join(o.client_id or str(o.order_id) for o in held))
    return out


def duplicates_by_type(positions: Iterable[PositionView], orders: list[OrderView]) -> dict[tuple, str]:
    """For an engine that arms one order of each exit type (the momentum engine: stop, take-profit and
    trailing stop together): a position with more than one stop, more than one take-profit or more than one
    trailing stop is a slot held twice."""
    out: dict[tuple, str] = {}
    for pos in positions:
        for slot, types in (("stop", STOP_TYPES), ("take_profit", {"TAKE_PROFIT", "TAKE_PROFIT_MARKET"}),
                            ("trailing", {"TRAILING_STOP_MARKET"})):
            held = [o for o in orders if o.type in types and o.exits(pos)]
            if len(held) > 1:
                out[("slot",) + pos.key + (slot,)] = (f"{pos.symbol} has {len(held)} {slot} orders: "
                                                      + ", ".join(o.client_id or str(o.order_id) for o in held))
    return out
