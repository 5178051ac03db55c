"""Reconciliation planning, pure: state's trades + the venue's positions and orders -> what to do.

The venue is the truth:
- an open trade whose position is gone        -> TradeGone (the runtime finds out how it ended)
- a pending trade (entry sent, outcome unknown) -> ResolvePending (look the entry order up by client id)
- a position no trade knows                   -> Adopt (protect it with brackets from ATR)
- a position on the other side than its trade -> TradeGone for the old trade, then Adopt the new one
- an open trade with its position             -> Keep (qty synced), plus Protect if a bracket is missing
- an open trade whose market close failed     -> Keep, CloseAgain (retried every cycle until flat), and
  (close_requested) with its position            Protect if the stop is missing meanwhile
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Mapping

from mraster.domain.ids import Role, parse_client_order_id
from mraster.domain.ownership import DEFAULT_SCANNER, owner_of
from mraster.domain.types import Order, Position, Side
from mraster.state.model import Trade


@dataclass(frozen=True, slots=True)
class Keep:
    trade_id: str
    position: Position
    qty_changed: bool = False


@dataclass(frozen=True, slots=True)
class Protect:
    trade_id: str
    position: Position
    missing: tuple[Role, ...]          # Role.STOP and/or Role.TAKE_PROFIT


@dataclass(frozen=True, slots=True)
class CloseAgain:
    trade_id: str
    position: Position
    why: str


@dataclass(frozen=True, slots=True)
class TradeGone:
    trade_id: str
    why: str = "no position on the venue"


@dataclass(frozen=True, slots=True)
class ResolvePending:
    trade_id: str
    position: Position | None


@dataclass(frozen=True, slots=True)
class Adopt:
    position: Position
    existing_stop: Order | None = None
    existing_take_profit: Order | None = None


Action = Keep | Protect | CloseAgain | TradeGone | ResolvePending | Adopt


@dataclass(slots=True)
class Plan:
    actions: list[Action] = field(default_factory=list)

    def of(self, kind: type) -> list:
        return [a for a in self.actions if isinstance(a, kind)]


def trade_side(trade: Trade) -> Side:
    return Side.BUY if trade.is_long else Side.SELL


def _key(symbol: str, position_side: str) -> tuple[str, str]:
    return symbol, position_side


def protective_orders(symbol: str, entry_side: Side, position_side: str, orders: Iterable[Order]
                      ) -> tuple[list[Order], list[Order]]:
    """(stops, take-profits) resting for a position: exit side, reduce-only or close-position,
    whoever placed them."""
    stops, tps = [], []
    for o in orders:
        if o.symbol != symbol or not o.is_open or o.side is not entry_side.opposite:
            continue
        if o.position_side.value != position_side:
            continue
        hedge = position_side != "BOTH"      # hedge-mode exits carry no reduceOnly flag
        if not (hedge or o.reduce_only or o.close_position):
            continue
        kind = o.placed_type
        if kind.is_stop:
            stops.append(o)
        elif kind.is_take_profit:
            tps.append(o)
    return stops, tps


def may_touch(instance: str, client_id: str | None) -> bool:
    """May this scanner instance count, cancel or replace the order? Its own orders; the default scanner
    also orders no instance placed (by hand, by an older mraster), as it always did. Never another
    instance's (mraster/domain/ownership.py)."""
    owner = owner_of(client_id)
    return owner == instance or (owner is None and instance == DEFAULT_SCANNER)


def own_view(instance: str, trades: Mapping[str, Trade], positions: Iterable[Position], orders: Iterable[Order],
             owners: Mapping[tuple[str, str], str | None]) -> tuple[list[Position], list[Order]]:
    """The part of the account's view this instance manages: positions of its own trades, positions
    the account's claims and orders give to it (the default scanner: also those nobody opened, which it
    adopts as before), and only orders it may touch. Another instance's position and orders are left out
    entirely, so no plan can close, protect, adopt or cancel them."""
    held = {(t.symbol, t.position_side) for t in trades.values() if t.status != "closed"}
    mine: list[Position] = []
    for p in positions:
        key = (p.symbol, p.position_side.value)
        owner = owners.get(key)
        if key in held or owner == instance or (owner is None and instance == DEFAULT_SCANNER):
            mine.append(p)
    return mine, [o for o in orders if may_touch(instance, o.client_order_id)]


def plan_reconcile(trades: Mapping[str, Trade], positions: Iterable[Position], orders: Iterable[Order]) -> Plan:
    orders = list(orders)
    live = {_key(p.symbol, p.position_side.value): p for p in positions if not p.is_flat}
    plan = Plan()
    claimed: set[tuple[str, str]] = set()
    for tid, t in sorted(trades.items()):
        if t.status == "closed":
            continue
        key = _key(t.symbol, t.position_side)
        pos = live.get(key)
        if t.status == "pending":
            plan.actions.append(ResolvePending(tid, pos))
            if pos is not None:
                claimed.add(key)
            continue
        if pos is None:
            plan.actions.append(TradeGone(tid))
            continue
        if pos.side is not trade_side(t):
            plan.actions.append(TradeGone(tid, "position flipped to the other side"))
            continue
        claimed.add(key)
        plan.actions.append(Keep(tid, pos, qty_changed=(t.qty is None or t.qty != pos.qty)))
        if t.close_requested:
            plan.actions.append(CloseAgain(tid, pos, t.close_requested))
        stops, tps = protective_orders(t.symbol, pos.side, t.position_side, orders)
        missing = tuple(r for r, have in ((Role.STOP, stops), (Role.TAKE_PROFIT, tps)) if not have)
        if missing:
            plan.actions.append(Protect(tid, pos, missing))
    for key, pos in sorted(live.items()):
        if key in claimed:
            continue
        stops, tps = protective_orders(pos.symbol, pos.side, pos.position_side.value, orders)
        plan.actions.append(Adopt(pos, stops[0] if stops else None, tps[0] if tps else None))
    return plan


# ------------------------------------------------------------------ exit reasons
_ROLE_REASON = {Role.STOP: "stop", Role.TAKE_PROFIT: "take_profit", Role.FAST_TP: "fasttp",
                Role.TRAILING: "trailing", Role.KILL: "kill", Role.CLOSE: "closed"}
_ALT = {"SX": Role.STOP, "TX": Role.TAKE_PROFIT, "RX": Role.TRAILING}    # the guard's replacement ids
_PRIORITY = ("liquidation", "adl")


def reason_of_order(order: Order, trade: Trade | None = None) -> str:
    cid = order.client_order_id or ""
    if cid.startswith("autoclose-"):
        return "liquidation"
    if cid.startswith("adl_autoclose"):
        return "adl"
    parsed = parse_client_order_id(cid)
    if parsed is None:
        return "manual"
    _, role = parsed
    role = _ALT.get(role.value, role)
    if role is Role.TAKE_PROFIT and trade is not None and trade.fasttp_count > 0:
        return "fasttp"
    return _ROLE_REASON.get(role, "manual")


def classify_exit(trade: Trade, closing_orders: list[Order]) -> tuple[str, str]:
    """(reason, detail) from the orders that reduced the position, in fill order. A liquidation or
    ADL anywhere wins; otherwise the order that made the last closing fill decides."""
    if not closing_orders:
        return "unknown", "no closing fill found on the venue"
    reasons = [reason_of_order(o, trade) for o in closing_orders]
    for special in _PRIORITY:
        if special in reasons:
            o = closing_orders[reasons.index(special)]
            return special, f"order {o.order_id} ({o.client_order_id})"
    o = closing_orders[-1]
    return reasons[-1], f"order {o.order_id} ({o.client_order_id or 'no client id'})"


def weighted_price(fills: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """Average price of (price, qty) pairs; None without quantity."""
    qty = Decimal(0)
    value = Decimal(0)
    for p, q in fills:
        qty += q
        value += p * q
    return (value / qty) if qty > 0 else None
