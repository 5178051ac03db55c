"""What a market move does: fire conditional orders, trail, fill resting limits, liquidate.

`update_prices` is the hot path of every replay: when no resting order is within reach and no
position is open on the symbol it costs a handful of integer comparisons.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mraster.domain.types import ExecutionType, MarginType, OrderStatus, OrderType, PositionSide, Side, TimeInForce, \
    WorkingType
from paper.engine.book import BookShape, available
from paper.engine.model import EAccount, EOrder, OrderEvent
from paper.engine.positions import reducible
from paper.engine.specs import SymbolSpec
from paper.engine.triggers import SymbolWatch

if TYPE_CHECKING:
    from paper.engine.engine import Engine

D0 = Decimal(0)


class MarketState:
    """The latest prices of one symbol, in ticks, plus the book behind the touch."""

    __slots__ = ("spec", "tick_f", "last_t", "mark_t", "index_t", "bid_t", "ask_t", "bid_qty", "ask_qty", "time",
                 "funding_rate", "next_funding", "gap_t", "level_qty", "growth", "levels", "watch", "holders", "safe")

    def __init__(self, spec: SymbolSpec):
        self.spec = spec
        self.tick_f = float(spec.tick)
        self.last_t = self.mark_t = self.index_t = self.bid_t = self.ask_t = 0
        self.bid_qty = self.ask_qty = D0
        self.time = 0
        self.funding_rate = Decimal("0.0001")
        self.next_funding = 0
        self.gap_t = 1
        self.level_qty = spec.rules.min_qty * 10 if spec.rules.min_qty > 0 else Decimal(1)
        self.growth = Decimal("0.15")
        self.levels = 200
        self.watch = SymbolWatch()
        self.holders: set[str] = set()
        self.safe: tuple[float, float] | None = None    # marks within which no holder needs a margin check

    @property
    def ready(self) -> bool:
        return self.last_t > 0 and self.bid_t > 0 and self.ask_t > 0

    def mark(self) -> Decimal:
        return self.spec.price(self.mark_t)

    def last(self) -> Decimal:
        return self.spec.price(self.last_t)

    def working_t(self, working_type: WorkingType) -> int:
        return self.mark_t if working_type is WorkingType.MARK_PRICE else self.last_t

    def book(self) -> BookShape:
        return BookShape(self.bid_t, self.ask_t, self.bid_qty, self.ask_qty, self.gap_t, self.level_qty, self.growth,
                         self.levels, self.spec.rules.step_size)


class MarketFlowMixin:
    def update_prices(self: "Engine", symbol: str, now: int, last_t: int, mark_t: int, bid_t: int, ask_t: int,
                      bid_qty: Decimal | None = None, ask_qty: Decimal | None = None) -> None:
        m = self.markets[symbol]
        if bid_t >= ask_t:                  # never a crossed touch
            ask_t = bid_t + 1
        mark_moved = mark_t != m.mark_t
        m.last_t, m.mark_t, m.bid_t, m.ask_t, m.time = last_t, mark_t, bid_t, ask_t, now
        if bid_qty is not None:
            m.bid_qty = bid_qty
        if ask_qty is not None:
            m.ask_qty = ask_qty
        w = m.watch
        if w.trailing or w.mark_up.keys or w.mark_down.keys or w.last_up.keys or w.last_down.keys \
                or w.buy_limits.keys or w.sell_limits.keys:
            self._process_watch(m, now)
        if mark_moved and m.holders and self._liquidation_due(m, mark_t, mark_t):
            self._check_liquidation(m, now)

    def update_path(self: "Engine", symbol: str, now: int, points: list[int], spread_t: int = 1) -> None:
        """A bar as a path of prices (ticks; last = mark, touch = price +- spread). Walks the path point by
        point only when a resting order could act within the bar's range; otherwise positions are checked
        for liquidation at the bar's extremes and trailing stops just track them (both exact)."""
        m = self.markets[symbol]
        lo, hi = min(points), max(points)
        spread = max(1, spread_t)
        half = spread // 2
        w = m.watch
        walk = w.could_act(lo, hi, lo, hi, lo - half + spread, hi - half)
        if not walk and w.trailing:
            trailing = [self.open_by_id.get(oid) for oid in w.trailing]
            walk = any(o is None or self._trail_could_act(o, lo, hi) for o in trailing)
            if not walk:
                for o in trailing:
                    if o.activated:
                        o.extreme_t = min(o.extreme_t, lo) if o.side is Side.BUY else max(o.extreme_t, hi)
        if walk:
            for p in points:
                self.update_prices(symbol, now, p, p, p - half, p - half + spread)
            return
        if m.holders and self._liquidation_due(m, lo, hi):   # headroom is linear in the mark: extremes suffice
            for p in (lo, hi):
                if p != m.mark_t:
                    m.last_t = m.mark_t = p
                    self._check_liquidation(m, now)
                if not m.holders:
                    break
        p = points[-1]
        m.last_t = m.mark_t = p
        m.bid_t, m.ask_t, m.time = p - half, p - half + spread, now

    def _trail_could_act(self: "Engine", o: EOrder, lo: int, hi: int) -> bool:
        """Could this trailing stop activate or fire anywhere in [lo, hi]? (Exact: the running extreme
        within the range is bounded by the range.)"""
        buy = o.side is Side.BUY
        if not o.activated:
            return lo <= o.stop_t if buy else hi >= o.stop_t
        rate = o.price_rate or D0
        if buy:
            return hi * 100 >= min(o.extreme_t, lo) * (100 + rate)
        return lo * 100 <= max(o.extreme_t, hi) * (100 - rate)

    # ------------------------------------------------------------ resting orders
    def _process_watch(self: "Engine", m: MarketState, now: int) -> None:
        w = m.watch
        fired: list[int] = []
        if w.mark_up.reaches(m.mark_t):
            fired += w.mark_up.pop_due(m.mark_t)
        if w.mark_down.reaches(m.mark_t):
            fired += w.mark_down.pop_due(m.mark_t)
        if w.last_up.reaches(m.last_t):
            fired += w.last_up.pop_due(m.last_t)
        if w.last_down.reaches(m.last_t):
            fired += w.last_down.pop_due(m.last_t)
        for oid in sorted(fired):
            order = self.open_by_id.get(oid)
            if order is not None:
                self._trigger(order, m, now)
        if w.trailing:
            for oid in list(w.trailing):
                order = self.open_by_id.get(oid)
                if order is None:
                    w.trailing.pop(oid, None)
                else:
                    self._trail(order, m, now)
        if w.buy_limits.reaches(m.ask_t):
            self._fill_resting(m, True, now)
        if w.sell_limits.reaches(m.bid_t):
            self._fill_resting(m, False, now)

    def _fill_resting(self: "Engine", m: MarketState, buy: bool, now: int) -> None:
        """Resting limits the touch has come to: each fills (as maker, at its own price) up to the book
        size on the far side that reaches its price, shared best price first."""
        index = m.watch.buy_limits if buy else m.watch.sell_limits
        due = index.pop_due(m.ask_t if buy else m.bid_t)
        consumed = D0
        touched: dict[str, set[str]] = {}
        for oid in due:
            order = self.open_by_id.get(oid)
            if order is None:
                continue
            acct = self.accounts[order.account]
            want = self._executable_qty(acct, order)
            if want <= 0:
                self._finish(order, OrderStatus.EXPIRED, now)
                continue
            liquidity = available(m.book().side_for_taker(buy), buy, order.price_t) - consumed
            qty = min(want, liquidity)
            if qty > 0:
                self._book_fill(order, acct, order.price_t, qty, True, now)
                consumed += qty
                touched.setdefault(acct.key, set()).add(order.symbol)
            if order.is_open:
                if self._is_capped(acct, order) and self._executable_qty(acct, order) <= 0:
                    self._finish(order, OrderStatus.EXPIRED, now)
                else:
                    index.add(order.price_t, oid)
            else:
                self._close_order(order)
        for key, symbols in touched.items():
            self._account_event(self.accounts[key], "ORDER", now, tuple(symbols))

    def _trail(self: "Engine", order: EOrder, m: MarketState, now: int) -> None:
        p = m.working_t(order.working_type)
        buy = order.side is Side.BUY
        if not order.activated:
            if (buy and p <= order.stop_t) or (not buy and p >= order.stop_t):
                order.activated = True
                order.extreme_t = p
                self.dirty_orders[order.order_id] = order
            else:
                return
        elif (buy and p < order.extreme_t) or (not buy and p > order.extreme_t):
            order.extreme_t = p
            self.dirty_orders[order.order_id] = order
        rate = order.price_rate or D0
        if buy:
            fire = p * 100 >= order.extreme_t * (100 + rate)
        else:
            fire = p * 100 <= order.extreme_t * (100 - rate)
        if fire:
            m.watch.trailing.pop(order.order_id, None)
            self._trigger(order, m, now)

    def _protect_ok(self: "Engine", m: MarketState) -> bool:
        limit = m.spec.rules.trigger_protect
        if not limit or m.mark_t <= 0:
            return True
        return abs(m.mark_t - m.last_t) <= m.mark_t * limit

    def _trigger(self: "Engine", order: EOrder, m: MarketState, now: int) -> None:
        """A conditional order's condition holds: it becomes a MARKET (or LIMIT) order, same id."""
        if order.algo_service:
            self._trigger_algo(order, m, now)     # Binance: a new regular order instead (engine/algo.py)
            return
        if order.price_protect and not self._protect_ok(m):
            self._watch_order(order)           # stays waiting, as the venue does
            return
        acct = self.accounts[order.account]
        order.triggered = True
        if order.close_position:
            closable = self._closable(acct, order)
            if closable <= 0:
                self._finish(order, OrderStatus.EXPIRED, now)
                return
            order.orig_qty = closable
        elif self._is_capped(acct, order) and self._executable_qty(acct, order) <= 0:
            self._finish(order, OrderStatus.EXPIRED, now)
            return
        market = order.orig_type in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET,
                                     OrderType.TRAILING_STOP_MARKET)
        order.type = OrderType.MARKET if market else OrderType.LIMIT
        order.update_time = now
        self.dirty_orders[order.order_id] = order
        self.events.append(OrderEvent(acct.key, now, order.snapshot(), ExecutionType.NEW))
        if not self._is_capped(acct, order) and not self._margin_ok(acct, order, m):
            self._finish(order, OrderStatus.EXPIRED, now)
            return
        if market:
            self._execute_taker(order, acct, m, now, limit_t=None)
        else:
            self._execute_limit(order, acct, m, now)

    # ------------------------------------------------------------ liquidation
    def _liquidate(self: "Engine", acct: EAccount, positions: list, now: int) -> None:
        """Close the positions at the mark price with `autoclose-` orders (stream status NEW_INSURANCE),
        charge the clearance fee from what margin is left, and let the insurance fund cover a deficit."""
        symbols = tuple(sorted({p.symbol for p in positions}))
        for symbol in symbols:
            for order in [o for o in acct.open_orders.values() if o.symbol == symbol]:
                self._finish(order, OrderStatus.EXPIRED, now)
        for n, pos in enumerate(positions):
            if pos.amount == 0:
                continue
            m = self.markets[pos.symbol]
            isolated = acct.margin_type.get(pos.symbol) is MarginType.ISOLATED
            before = pos.isolated_wallet if isolated else acct.cross_wallet
            qty = abs(pos.amount)
            side = Side.SELL if pos.amount > 0 else Side.BUY
            order = EOrder(self._next_order_id(), acct.key, pos.symbol, f"autoclose-{now}{n}", side,
                           OrderType.LIQUIDATION, OrderType.LIQUIDATION, pos.position_side, TimeInForce.IOC, qty,
                           price=m.mark(), reduce_only=True, time=now, update_time=now, price_t=m.mark_t)
            fill = self._book_fill(order, acct, m.mark_t, qty, False, now, status_override=OrderStatus.NEW_INSURANCE,
                                   execution_type=ExecutionType.CALCULATED)
            left = before + fill.realized_pnl - fill.commission if isolated else acct.cross_wallet
            fee = min(m.spec.liquidation_fee * fill.quote_qty, max(D0, left)).quantize(Decimal("1e-8"))
            if fee > 0:
                acct.wallet -= fee
                self._income(acct, pos.symbol, "INSURANCE_CLEAR", -fee, now)
            self.liquidations.append(order.snapshot())
            self.dirty_orders[order.order_id] = order
        if acct.wallet < 0:
            self._income(acct, "", "INSURANCE_CLEAR", -acct.wallet, now, info="insurance fund covered the deficit")
            acct.wallet = D0
        self._account_event(acct, "ORDER", now, symbols)
        self._changed(acct)

    # ------------------------------------------------------------ helpers
    def _closable(self: "Engine", acct: EAccount, order: EOrder) -> Decimal:
        """Size a closePosition order would close now (0 if the position is gone or on the other side)."""
        pos = acct.positions.get((order.symbol, order.position_side))
        amount = pos.amount if pos else D0
        if order.position_side is PositionSide.BOTH:
            return reducible(amount, order.side is Side.BUY)
        return abs(amount)

    def _is_capped(self: "Engine", acct: EAccount, order: EOrder) -> bool:
        """Orders that may only reduce: reduceOnly, closePosition, and hedge-mode closing orders."""
        if order.reduce_only or order.close_position:
            return True
        ps = order.position_side
        return (ps is PositionSide.LONG and order.side is Side.SELL) or \
            (ps is PositionSide.SHORT and order.side is Side.BUY)

    def _executable_qty(self: "Engine", acct: EAccount, order: EOrder) -> Decimal:
        """The order's remaining size, capped at the position it may reduce."""
        remaining = order.remaining
        if not self._is_capped(acct, order):
            return remaining
        return min(remaining, self._closable(acct, order))
