"""Position arithmetic for one fill: new size, new entry price, realized PnL. Pure.

Amounts are signed (long > 0). Increasing keeps a size-weighted average entry; reducing realizes
(price - entry) x closed quantity x direction; a fill larger than the position flips it, and the
remainder opens at the fill price.
"""
from __future__ import annotations

from decimal import Decimal

D0 = Decimal(0)


def apply_fill(amount: Decimal, entry: Decimal, signed_qty: Decimal, price: Decimal
               ) -> tuple[Decimal, Decimal, Decimal]:
    """(new amount, new entry price, realized PnL) after a fill of `signed_qty` (> 0 buy) at `price`."""
    if signed_qty == 0:
        return amount, entry, D0
    if amount == 0 or (amount > 0) == (signed_qty > 0):
        new_amount = amount + signed_qty
        new_entry = (abs(amount) * entry + abs(signed_qty) * price) / abs(new_amount)
        return new_amount, new_entry, D0
    closed = min(abs(amount), abs(signed_qty))
    direction = 1 if amount > 0 else -1
    realized = (price - entry) * closed * direction
    new_amount = amount + signed_qty
    if new_amount == 0:
        return D0, D0, realized
    if (new_amount > 0) == (amount > 0):
        return new_amount, entry, realized
    return new_amount, price, realized          # flipped: the rest opens at the fill price


def unrealized(amount: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    return amount * (mark - entry)


def reducible(amount: Decimal, buy: bool) -> Decimal:
    """How much an order on this side can reduce the position before it starts opening."""
    if amount > 0 and not buy:
        return amount
    if amount < 0 and buy:
        return -amount
    return D0
