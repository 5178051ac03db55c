"""Booking a fill: position, isolated margin, wallet, fee, realized PnL, trade and income records,
and the user-stream events that tell the client. Also funding payments."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from mraster.domain.types import ExecutionType, MarginType, OrderStatus, Side
from paper.engine.model import AccountEvent, EAccount, EOrder, EPosition, Fill, Income, OrderEvent, PositionSnap
from paper.engine.positions import apply_fill

if TYPE_CHECKING:
    from paper.engine.engine import Engine

D0 = Decimal(0)
MONEY = Decimal("1e-8")
ASSET = "USDT"


def money(x: Decimal) -> Decimal:
    return x.quantize(MONEY, rounding=ROUND_HALF_EVEN)


class LedgerMixin:
    def _book_fill(self: "Engine", order: EOrder, acct: EAccount, price_t: int, qty: Decimal, maker: bool,
                   now: int, status_override: OrderStatus | None = None,
                   execution_type: ExecutionType = ExecutionType.TRADE) -> Fill:
        spec = self.specs[order.symbol]
        price = spec.price(price_t)
        pos = acct.position(order.symbol, order.position_side)
        buy = order.side is Side.BUY
        old = pos.amount
        new_amount, new_entry, realized = apply_fill(old, pos.entry_price, qty if buy else -qty, price)
        realized = money(realized)
        if acct.margin_type.get(order.symbol) is MarginType.ISOLATED:
            self._move_isolated_margin(acct, pos, old, new_amount, qty, price)
        rate = self.fee_rates(acct.key)[0 if maker else 1]
        commission = money(price * qty * rate)
        acct.wallet += realized - commission
        pos.amount, pos.entry_price = new_amount, (new_entry if new_amount != 0 else D0)
        pos.realized += realized
        pos.update_time = now
        acct.update_time = now
        order.executed_qty += qty
        order.cum_quote += price * qty
        order.update_time = now
        order.status = OrderStatus.FILLED if order.executed_qty >= order.orig_qty else OrderStatus.PARTIALLY_FILLED
        fill = Fill(self._next_trade_id(), order.order_id, acct.key, order.symbol, order.side, order.position_side,
                    price, qty, price * qty, commission, ASSET, realized, maker, now)
        self.fills.append(fill)
        if realized:
            self._income(acct, order.symbol, "REALIZED_PNL", realized, now, trade_id=str(fill.trade_id))
        if commission:
            self._income(acct, order.symbol, "COMMISSION", -commission, now, trade_id=str(fill.trade_id))
        self.events.append(OrderEvent(acct.key, now, order.snapshot(), execution_type, status_override,
                                      qty, price, commission, fill.trade_id, realized, maker))
        self._track_holder(acct, order.symbol)
        self.dirty_orders[order.order_id] = order
        self._changed(acct)
        return fill

    def _move_isolated_margin(self: "Engine", acct: EAccount, pos: EPosition, old: Decimal, new: Decimal,
                              qty: Decimal, price: Decimal) -> None:
        """Isolated margin follows the position: released pro rata on reduce, added (from the cross
        wallet) at notional / leverage on increase or flip."""
        lev = acct.leverage.get(pos.symbol, self.default_leverage)
        if old != 0 and (new == 0 or (old > 0) != (new > 0) or abs(new) < abs(old)):
            closed = min(abs(old), qty)
            if new == 0 or (old > 0) != (new > 0):
                pos.isolated_wallet = D0
            else:
                pos.isolated_wallet -= money(pos.isolated_wallet * closed / abs(old))
            opened = qty - closed
        else:
            opened = qty
        if opened > 0 and new != 0:
            pos.isolated_wallet += money(opened * price / lev)

    def _income(self: "Engine", acct: EAccount, symbol: str, kind: str, amount: Decimal, now: int,
                trade_id: str = "", info: str = "") -> None:
        self.incomes.append(Income(self._next_tran_id(), acct.key, symbol, kind, amount, ASSET, now,
                                   info or kind, trade_id))

    def _position_snap(self: "Engine", acct: EAccount, pos: EPosition) -> PositionSnap:
        mark = self.markets[pos.symbol].mark() if pos.symbol in self.markets else pos.entry_price
        mt = acct.margin_type.get(pos.symbol, MarginType.CROSSED)
        return PositionSnap(pos.symbol, pos.position_side, pos.amount, pos.entry_price,
                            money(pos.amount * (mark - pos.entry_price)), pos.realized, mt, pos.isolated_wallet)

    def _account_event(self: "Engine", acct: EAccount, reason: str, now: int, symbols: tuple[str, ...] = (),
                       change: Decimal = D0, positions: list[EPosition] | None = None) -> None:
        """ACCOUNT_UPDATE: the balance, plus the positions of `symbols` (including ones just closed to
        zero, so a client sees the close)."""
        if positions is None:
            positions = [p for p in acct.positions.values() if p.symbol in symbols]
        snaps = tuple(self._position_snap(acct, p) for p in positions)
        self.events.append(AccountEvent(acct.key, now, reason, acct.wallet, acct.cross_wallet, change, snaps))

    # ------------------------------------------------------------------ funding
    def settle_funding(self: "Engine", symbol: str, rate: Decimal, now: int) -> int:
        """Pay funding on every open position of `symbol`: income = -amount x mark x rate
        (longs pay when the rate is positive). Returns the number of payments."""
        market = self.markets[symbol]
        mark = market.mark()
        paid = 0
        for key in list(market.holders):
            acct = self.accounts[key]
            touched = []
            for pos in acct.positions.values():
                if pos.symbol != symbol or pos.amount == 0:
                    continue
                amount = money(-pos.amount * mark * rate)
                if amount == 0:
                    continue
                acct.wallet += amount
                if acct.margin_type.get(symbol) is MarginType.ISOLATED:
                    pos.isolated_wallet += amount
                touched.append(pos)
                self._income(acct, symbol, "FUNDING_FEE", amount, now)
                paid += 1
            if touched:
                isolated = acct.margin_type.get(symbol) is MarginType.ISOLATED
                self._account_event(acct, "FUNDING_FEE", now, positions=touched if isolated else [],
                                    change=sum((i.income for i in self.incomes[-len(touched):]), D0))
                self._changed(acct)
        return paid

    def _track_holder(self: "Engine", acct: EAccount, symbol: str) -> None:
        market = self.markets[symbol]
        market.safe = None
        if any(p.amount != 0 for p in acct.positions.values() if p.symbol == symbol):
            market.holders.add(acct.key)
        else:
            market.holders.discard(acct.key)
