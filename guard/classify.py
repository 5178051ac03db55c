"""What a resting order is to the guard: an exit or not, which slot, whose, how good a keeper. Pure.

An exit order closes (part of) a position: in one-way mode it is reduce-only or close-position; in
hedge mode its side closes its position side (SELL on LONG, BUY on SHORT). Only exits are ever
cancelled by the guard; a resting entry is never touched. Exits are sorted into two slots by
type, whoever placed them: STOP / STOP_MARKET fill the stop slot, TAKE_PROFIT / TAKE_PROFIT_MARKET /
TRAILING_STOP_MARKET the profit slot. Market or limit exits, and our own partial-exit and close
orders (roles FT, CL, KS), fill no slot and are left alone while the position is open.
"""
from __future__ import annotations

from decimal import Decimal
from enum import Enum

from mraster.domain.ids import Role, parse_client_order_id
from mraster.domain.types import Order, OrderType, PositionSide, Side

PositionKey = tuple[str, PositionSide]


class Slot(str, Enum):
    STOP = "stop"
    PROFIT = "take_profit"


class ExitKind(str, Enum):
    STOP = "stop"
    TAKE_PROFIT = "take_profit"
    TRAILING = "trailing"


_KIND_BY_TYPE = {
    OrderType.STOP: ExitKind.STOP, OrderType.STOP_MARKET: ExitKind.STOP,
    OrderType.TAKE_PROFIT: ExitKind.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET: ExitKind.TAKE_PROFIT,
    OrderType.TRAILING_STOP_MARKET: ExitKind.TRAILING,
}
_UNSLOTTED_ROLES = frozenset({Role.FAST_TP, Role.CLOSE, Role.KILL})
PRIMARY_ROLES = frozenset({Role.STOP, Role.TAKE_PROFIT, Role.TRAILING})


def role_of(o: Order) -> Role | None:
    parsed = parse_client_order_id(o.client_order_id)
    return parsed[1] if parsed else None


def trade_of(o: Order) -> str | None:
    parsed = parse_client_order_id(o.client_order_id)
    return parsed[0] if parsed else None


def is_exit_order(o: Order) -> bool:
    if o.position_side is PositionSide.BOTH:
        return o.reduce_only or o.close_position
    return (o.position_side is PositionSide.LONG) == (o.side is Side.SELL)


def exit_key(o: Order) -> PositionKey:
    """The position an exit order belongs to (in one-way mode, the symbol's only position)."""
    return o.symbol, o.position_side


def kind_of(o: Order) -> ExitKind | None:
    return _KIND_BY_TYPE.get(o.placed_type)


def is_slot_order(o: Order) -> bool:
    return kind_of(o) is not None and role_of(o) not in _UNSLOTTED_ROLES


def slot_of(o: Order) -> Slot | None:
    kind = kind_of(o)
    if kind is None or role_of(o) in _UNSLOTTED_ROLES:
        return None
    return Slot.STOP if kind is ExitKind.STOP else Slot.PROFIT


def rank_key(o: Order, trade_id: str, valid: bool, intended: Decimal | None) -> tuple:
    """Sort key of the orders in one slot; the first is kept. Ours for this trade first, then ours,
    then one that satisfies the rule, then the level nearest the intended one (the bot writes a
    moved level to its state before it replaces the order), then the primary id of a role pair (so
    that bot and guard settle on the same id), then the oldest."""
    parsed = parse_client_order_id(o.client_order_id)
    distance = abs(o.stop_price - intended) if intended is not None and o.stop_price > 0 else Decimal(0)
    return (parsed is None or parsed[0] != trade_id, parsed is None, not valid, distance,
            parsed is None or parsed[1] not in PRIMARY_ROLES, o.time, o.order_id)
