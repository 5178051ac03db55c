"""How a trade ended, read from the orders that closed it. Pure, shared by every recorder of exits.

The bot (`bot/runtime/closing.py`, when it reconciles) and the dashboard (`dashboard/services/exits.py`,
within seconds of a close it did not make itself wait for) classify an exit the same way, so a trade
gets the same reason whoever writes it down first.

Reasons: `stop`, `take_profit`, `trailing`, `fasttp`, `kill` (margin kill-switch), `liquidation`,
`adl`, `closed` (the bot's own market close), `guard_close` (the guard closed at market: a level
crossed, `--flatten`), `flatten` (the dashboard's "Stop all and flatten"), `manual_close` (one position
closed from the dashboard), `manual` (an order mraster did not place: the venue's UI, another program),
`unknown` (no closing fill found).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Protocol, Sequence

from mraster.domain.ids import Role, parse_client_order_id, stamp_of

_ROLE_REASON = {Role.STOP: "stop", Role.TAKE_PROFIT: "take_profit", Role.FAST_TP: "fasttp",
                Role.TRAILING: "trailing", Role.KILL: "kill", Role.CLOSE: "closed"}
_ALT = {"SX": Role.STOP, "TX": Role.TAKE_PROFIT, "RX": Role.TRAILING}    # the guard's replacement ids
_CLOSE_BY_ACTOR = {"g": "guard_close", "d": "flatten", "c": "manual_close"}
_PRIORITY = ("liquidation", "adl")


class _Order(Protocol):
    @property
    def client_order_id(self) -> str: ...
    @property
    def order_id(self) -> int: ...


class _Trade(Protocol):
    @property
    def fasttp_count(self) -> int: ...


class _Money(Protocol):
    @property
    def risk_per_unit(self) -> Decimal | None: ...
    @property
    def entry_qty(self) -> Decimal | None: ...
    @property
    def realized_pnl(self) -> Decimal | None: ...
    @property
    def fees(self) -> Decimal | None: ...
    @property
    def funding(self) -> Decimal | None: ...


def reason_of_order(order: _Order, trade: _Trade | None = None) -> str:
    """The exit reason one closing order stands for (its client id says who sent it and why)."""
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
    if role is Role.CLOSE:
        stamp = stamp_of(cid)
        if stamp is not None:
            return _CLOSE_BY_ACTOR.get(stamp[0], "closed")
    return _ROLE_REASON.get(role, "manual")


def classify_exit(trade: _Trade, closing_orders: Sequence[_Order]) -> tuple[str, str]:
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


def r_multiple(trade: _Money) -> float | None:
    """Net PnL (realised - fees + funding) over the initial risk (risk per unit x entry quantity)."""
    qty = trade.entry_qty or None
    if trade.risk_per_unit is None or trade.risk_per_unit <= 0 or not qty:
        return None
    net = (trade.realized_pnl or 0) - (trade.fees or 0) + (trade.funding or 0)
    return float(net / (trade.risk_per_unit * qty))
