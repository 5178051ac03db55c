"""Margin arithmetic, Binance USD-M conventions. Pure functions over the engine's records.

  notional        = |amount| x mark
  maint margin    = notional x mmr - cum           (bracket of the notional)
  initial margin  = notional / leverage
  margin balance  = wallet + unrealized PnL
  isolated:  liquidate when isolated wallet + uPnL <= maint margin of the position
  cross:     liquidate when cross wallet + cross uPnL <= sum of cross maint margins
  liquidation price (one position, others fixed):
      LP = (WB - TMM_other + UPNL_other + cum - side x Q x EP) / (Q x mmr - side x Q)
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable

from mraster.domain.types import MarginType, OrderStatus, OrderType, Side
from paper.engine.model import EAccount, EOrder, EPosition
from paper.engine.specs import SymbolSpec

D0 = Decimal(0)


@dataclass(slots=True)
class PositionRisk:
    pos: EPosition
    mark: Decimal
    notional: Decimal          # signed, like the amount
    unrealized: Decimal
    maint: Decimal
    initial: Decimal
    leverage: int
    isolated: bool


@dataclass(slots=True)
class AccountView:
    wallet: Decimal
    cross_wallet: Decimal
    unrealized: Decimal
    cross_unrealized: Decimal
    maint: Decimal
    cross_maint: Decimal
    position_initial: Decimal
    cross_position_initial: Decimal
    order_initial: Decimal
    positions: list[PositionRisk]

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet + self.unrealized

    @property
    def initial(self) -> Decimal:
        return self.position_initial + self.order_initial

    @property
    def available(self) -> Decimal:
        free = self.cross_wallet + self.cross_unrealized - self.cross_position_initial - self.order_initial
        return free if free > 0 else D0

    @property
    def max_withdraw(self) -> Decimal:
        return max(D0, min(self.available, self.cross_wallet))


def position_risk(pos: EPosition, mark: Decimal, spec: SymbolSpec, leverage: int, isolated: bool) -> PositionRisk:
    notional = pos.amount * mark
    size = abs(notional)
    return PositionRisk(pos, mark, notional, pos.amount * (mark - pos.entry_price), spec.maint_margin(size),
                        size / leverage, leverage, isolated)


def order_initial_margin(orders: Iterable[EOrder], positions: dict, leverage_of: Callable[[str], int],
                         mark_of: Callable[[str], Decimal]) -> Decimal:
    """Margin held by resting LIMIT orders that would open exposure (per symbol, the larger side)."""
    per_symbol: dict[str, list[Decimal]] = {}
    for o in orders:
        if o.type is not OrderType.LIMIT or o.reduce_only or o.close_position:
            continue
        if o.status is not OrderStatus.NEW and o.status is not OrderStatus.PARTIALLY_FILLED:
            continue
        sides = per_symbol.setdefault(o.symbol, [D0, D0])
        sides[0 if o.side is Side.BUY else 1] += o.remaining * o.price
    total = D0
    for symbol, (buy_n, sell_n) in per_symbol.items():
        long_n = short_n = D0
        mark = mark_of(symbol)
        for (sym, _), pos in positions.items():
            if sym == symbol:
                if pos.amount > 0:
                    long_n += pos.amount * mark
                elif pos.amount < 0:
                    short_n -= pos.amount * mark
        need = max(buy_n - short_n, sell_n - long_n, D0)
        total += need / leverage_of(symbol)
    return total


def account_view(acct: EAccount, specs: dict[str, SymbolSpec], mark_of: Callable[[str], Decimal],
                 with_orders: bool = True) -> AccountView:
    risks = []
    unreal = cross_unreal = maint = cross_maint = pos_im = cross_im = D0
    for pos in acct.positions.values():
        if pos.amount == 0:
            continue
        lev = acct.leverage.get(pos.symbol, 20)
        isolated = acct.margin_type.get(pos.symbol) is MarginType.ISOLATED
        r = position_risk(pos, mark_of(pos.symbol), specs[pos.symbol], lev, isolated)
        risks.append(r)
        unreal += r.unrealized
        maint += r.maint
        pos_im += r.initial
        if not isolated:
            cross_unreal += r.unrealized
            cross_maint += r.maint
            cross_im += r.initial
    order_im = order_initial_margin(acct.open_orders.values(), acct.positions,
                                    lambda s: acct.leverage.get(s, 20), mark_of) if with_orders and acct.open_orders else D0
    return AccountView(acct.wallet, acct.cross_wallet, unreal, cross_unreal, maint, cross_maint, pos_im, cross_im,
                       order_im, risks)


def liquidation_price(amount: Decimal, entry: Decimal, wallet: Decimal, spec: SymbolSpec,
                      other_maint: Decimal = D0, other_unrealized: Decimal = D0) -> Decimal:
    """The mark price at which this position's margin equals its maintenance margin (0 if none)."""
    if amount == 0:
        return D0
    side = 1 if amount > 0 else -1
    q = abs(amount)
    lp = D0
    for b in spec.brackets:
        denom = q * b.mmr - side * q
        if denom == 0:
            continue
        lp = (wallet - other_maint + other_unrealized + b.cum - side * q * entry) / denom
        if lp <= 0:
            return D0
        if b.notional_floor <= q * lp < b.notional_cap:
            return lp
    return max(lp, D0)


def liquidation_prices(view: AccountView, acct: EAccount, specs: dict[str, SymbolSpec]) -> dict[int, Decimal]:
    """Liquidation price of every open position in the view, keyed by id() of the position record."""
    out: dict[int, Decimal] = {}
    for r in view.positions:
        spec = specs[r.pos.symbol]
        if r.isolated:
            out[id(r.pos)] = liquidation_price(r.pos.amount, r.pos.entry_price, r.pos.isolated_wallet, spec)
        else:
            out[id(r.pos)] = liquidation_price(r.pos.amount, r.pos.entry_price, view.cross_wallet, spec,
                                               view.cross_maint - r.maint, view.cross_unrealized - r.unrealized)
    return out


def isolated_breach(r: PositionRisk) -> bool:
    return r.isolated and r.pos.isolated_wallet + r.unrealized <= r.maint


def cross_breach(view: AccountView) -> bool:
    return view.cross_maint > 0 and view.cross_wallet + view.cross_unrealized <= view.cross_maint
