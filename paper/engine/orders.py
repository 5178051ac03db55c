"""Order entry and matching: placement checks, time in force, taking liquidity, resting, cancelling.

Matching is against the simulated market (engine/book.py), never between accounts: every account
trades with the market the feed describes.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mraster.domain.types import ExecutionType, OrderStatus, OrderType, PositionSide, Side, TimeInForce, WorkingType
from paper.engine.book import available, walk
from paper.engine.errors import VenueError, bad_symbol, unknown_order
from paper.engine.margin import account_view
from paper.engine.model import EAccount, EOrder, NewOrder, OrderEvent
from paper.engine.positions import reducible
from paper.engine.validate import check_filters, check_min_notional, check_shape, check_time_in_force, check_would_trigger

if TYPE_CHECKING:
    from paper.engine.engine import Engine
    from paper.engine.market import MarketState

D0 = Decimal(0)
_STOPS = (OrderType.STOP, OrderType.STOP_MARKET)
_TAKES = (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)


class OrderFlowMixin:
    # ------------------------------------------------------------------ entry
    def place(self: "Engine", key: str, req: NewOrder, now: int) -> EOrder:
        """Check and accept a new order, then match it (MARKET/LIMIT) or arm it (conditional)."""
        acct = self.account(key, now)
        order = self.check_new_order(acct, req, now)
        m = self.markets[req.symbol]
        if order.orig_type is OrderType.TRAILING_STOP_MARKET and req.activation_price is None:
            order.activated, order.extreme_t = True, m.working_t(order.working_type)
        order.order_id = self._next_order_id()
        if not req.client_order_id:
            order.client_order_id = f"paper-{order.order_id}"
        self._register(order, acct)
        self.events.append(OrderEvent(acct.key, now, order.snapshot(), ExecutionType.NEW))
        if order.type is OrderType.MARKET:
            self._execute_taker(order, acct, m, now, None)
        elif order.type is OrderType.LIMIT:
            self._execute_limit(order, acct, m, now)
        else:
            self._watch_order(order)
        return order

    def check_new_order(self: "Engine", acct: EAccount, req: NewOrder, now: int) -> EOrder:
        """Every placement check, in the venue's order; returns the order it would accept (no id yet)."""
        spec = self.specs.get(req.symbol)
        if spec is None:
            raise bad_symbol()
        m = self.markets[req.symbol]
        if not m.ready:
            raise VenueError(-1001, "Internal error; market data for this symbol is not available yet.", 503)
        ps = check_shape(req, acct, spec)
        check_filters(req, spec, m.mark(), self.callback_max)
        tif = check_time_in_force(req)
        t, buy = req.type, req.side is Side.BUY
        pos = acct.positions.get((req.symbol, ps))
        amount = pos.amount if pos else D0
        hedge_closing = (ps is PositionSide.LONG and not buy) or (ps is PositionSide.SHORT and buy)
        closing = req.close_position or bool(req.reduce_only) or hedge_closing
        if t in (OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT):
            ref = req.price
        elif t in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
            ref = req.stop_price
        elif t is OrderType.TRAILING_STOP_MARKET and req.activation_price is not None:
            ref = req.activation_price
        else:
            ref = m.spec.price(m.ask_t if buy else m.bid_t)
        check_min_notional(req, spec, ref, exempt=closing)
        working = m.working_t(req.working_type)
        stop_t = 0
        if t in _STOPS or t in _TAKES:
            stop_t = spec.ticks(req.stop_price)
            check_would_trigger(req, working, stop_t)
        elif t is OrderType.TRAILING_STOP_MARKET:
            stop_t = self._activation_ticks(req, spec, working)
        self._check_counts(acct, req)
        if req.reduce_only and reducible(amount, buy) <= 0:
            raise VenueError(-2022, "ReduceOnly Order is rejected.")
        if hedge_closing and not req.close_position and amount == 0:
            raise VenueError(-2022, "ReduceOnly Order is rejected.")
        if t in (OrderType.LIMIT, OrderType.MARKET) and not closing:
            est = req.price if t is OrderType.LIMIT else spec.price(m.ask_t if buy else m.bid_t)
            self._check_open_margin(acct, req.symbol, buy, req.quantity, ps, amount, est, raise_error=True)
        return EOrder(
            0, acct.key, req.symbol, req.client_order_id or "", req.side, t, t, ps, tif,
            req.quantity or D0, price=req.price or D0,
            stop_price=req.stop_price if req.stop_price is not None and t is not OrderType.TRAILING_STOP_MARKET else D0,
            reduce_only=bool(req.reduce_only) or req.close_position, close_position=req.close_position,
            working_type=req.working_type, price_protect=req.price_protect,
            activate_price=spec.price(stop_t) if t is OrderType.TRAILING_STOP_MARKET else None,
            price_rate=req.callback_rate, time=now, update_time=now,
            price_t=spec.ticks(req.price) if req.price is not None else 0, stop_t=stop_t)

    def _activation_ticks(self: "Engine", req: NewOrder, spec, working: int) -> int:
        if req.activation_price is None:
            return working
        if req.activation_price % spec.tick != 0:
            raise VenueError(-4135, "Invalid activation price.")
        act = spec.ticks(req.activation_price)
        if (req.side is Side.BUY and act >= working) or (req.side is Side.SELL and act <= working):
            raise VenueError(-2021, "Order would immediately trigger.")
        return act

    def _check_counts(self: "Engine", acct: EAccount, req: NewOrder) -> None:
        rules = self.specs[req.symbol].rules
        same = [o for o in acct.open_orders.values() if o.symbol == req.symbol]
        if len(same) >= rules.max_num_orders:
            raise VenueError(-2025, "Reach max open order limit.")
        if self.algo_cap is None and req.type.is_conditional and \
                sum(1 for o in same if o.is_algo) >= rules.max_num_algo_orders:
            raise VenueError(-4045, "Reach max stop order limit.")

    def _check_open_margin(self: "Engine", acct: EAccount, symbol: str, buy: bool, qty: Decimal,
                           ps: PositionSide, amount: Decimal, est: Decimal, raise_error: bool) -> bool:
        """Initial margin for the part that opens exposure, and the bracket cap at this leverage."""
        spec = self.specs[symbol]
        lev = acct.leverage.get(symbol, self.default_leverage)
        increase = qty - (reducible(amount, buy) if ps is PositionSide.BOTH else D0)
        if increase <= 0:
            return True
        view = account_view(acct, self.specs, self._mark_of)
        if increase * est / lev > view.available:
            if raise_error:
                raise VenueError(-2019, "Margin is insufficient.")
            return False
        size = abs(amount + (qty if buy else -qty)) if ps is PositionSide.BOTH else abs(amount) + qty
        if size * est > spec.max_notional(lev):
            if raise_error:
                raise VenueError(-2027, "Exceeded the maximum allowable position at current leverage.")
            return False
        return True

    def _margin_ok(self: "Engine", acct: EAccount, order: EOrder, m: "MarketState") -> bool:
        buy = order.side is Side.BUY
        pos = acct.positions.get((order.symbol, order.position_side))
        est = order.price if order.type is OrderType.LIMIT else m.spec.price(m.ask_t if buy else m.bid_t)
        return self._check_open_margin(acct, order.symbol, buy, order.remaining, order.position_side,
                                       pos.amount if pos else D0, est, raise_error=False)

    # ------------------------------------------------------------------ matching
    def _execute_taker(self: "Engine", order: EOrder, acct: EAccount, m: "MarketState", now: int,
                       limit_t: int | None) -> None:
        if limit_t is None:            # marketTakeBound: a market order never fills further than this from the mark
            bound = int(m.mark_t * m.spec.market_take_bound)
            limit_t = m.mark_t + bound if order.side is Side.BUY else max(1, m.mark_t - bound)
        self._take(order, acct, m, now, limit_t)
        if order.is_open:
            self._finish(order, OrderStatus.EXPIRED, now)   # book exhausted or reduce-only cap reached
        else:
            self._close_order(order)

    def _execute_limit(self: "Engine", order: EOrder, acct: EAccount, m: "MarketState", now: int) -> None:
        buy = order.side is Side.BUY
        tif = order.time_in_force
        crosses = order.price_t >= m.ask_t if buy else order.price_t <= m.bid_t
        if tif is TimeInForce.GTX and crosses:
            self._finish(order, OrderStatus.EXPIRED, now)      # post-only would take: expired, as Aster does
            return
        if tif is TimeInForce.FOK:
            want = self._executable_qty(acct, order)
            if not crosses or want < order.remaining or \
                    available(m.book().side_for_taker(buy), buy, order.price_t) < want:
                self._finish(order, OrderStatus.EXPIRED, now)
                return
        if crosses:
            self._take(order, acct, m, now, order.price_t)
        if not order.is_open:
            self._close_order(order)
        elif tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(order, OrderStatus.EXPIRED, now)
        elif self._is_capped(acct, order) and self._executable_qty(acct, order) <= 0:
            self._finish(order, OrderStatus.EXPIRED, now)
        else:
            (m.watch.buy_limits if buy else m.watch.sell_limits).add(order.price_t, order.order_id)

    def _take(self: "Engine", order: EOrder, acct: EAccount, m: "MarketState", now: int,
              limit_t: int | None) -> None:
        buy = order.side is Side.BUY
        want = self._executable_qty(acct, order)
        if want <= 0:
            return
        fills = walk(m.book().side_for_taker(buy), want, buy, limit_t)
        for price_t, qty in fills:
            self._book_fill(order, acct, price_t, qty, False, now)
        if fills:
            self._account_event(acct, "ORDER", now, (order.symbol,))

    # ------------------------------------------------------------------ bookkeeping
    def _register(self: "Engine", order: EOrder, acct: EAccount) -> None:
        acct.open_orders[order.order_id] = order
        acct.client_ids[(order.symbol, order.client_order_id)] = order.order_id
        self.open_by_id[order.order_id] = order
        self.dirty_orders[order.order_id] = order

    def _watch_order(self: "Engine", order: EOrder) -> None:
        """Arm a conditional order in the index of the price it watches."""
        w = self.markets[order.symbol].watch
        if order.orig_type is OrderType.TRAILING_STOP_MARKET:
            w.trailing[order.order_id] = None
            return
        mark = order.working_type is WorkingType.MARK_PRICE
        buy = order.side is Side.BUY
        rising = buy if order.orig_type in _STOPS else not buy
        index = (w.mark_up if rising else w.mark_down) if mark else (w.last_up if rising else w.last_down)
        index.add(order.stop_t, order.order_id)

    def _unwatch(self: "Engine", order: EOrder) -> None:
        w = self.markets[order.symbol].watch
        oid = order.order_id
        if order.orig_type is OrderType.TRAILING_STOP_MARKET and not order.triggered:
            w.trailing.pop(oid, None)
        elif order.orig_type.is_conditional and not order.triggered:
            for index in (w.mark_up, w.mark_down, w.last_up, w.last_down):
                if index.remove(order.stop_t, oid):
                    break
        if order.type is OrderType.LIMIT:
            (w.buy_limits if order.side is Side.BUY else w.sell_limits).remove(order.price_t, oid)

    def _close_order(self: "Engine", order: EOrder) -> None:
        """Take a no-longer-open order out of every live structure."""
        acct = self.accounts[order.account]
        self._unwatch(order)
        acct.open_orders.pop(order.order_id, None)
        if acct.client_ids.get((order.symbol, order.client_order_id)) == order.order_id:
            del acct.client_ids[(order.symbol, order.client_order_id)]
        self.open_by_id.pop(order.order_id, None)
        self.recent_closed[order.order_id] = order
        while len(self.recent_closed) > self.recent_closed_max:
            self.recent_closed.popitem(last=False)
        self.dirty_orders[order.order_id] = order
        if order.parent_algo:
            self._algo_child_done(order)

    def _finish(self: "Engine", order: EOrder, status: OrderStatus, now: int) -> None:
        """End an open order as CANCELED or EXPIRED, with its user-stream event (ALGO_UPDATE for an algo order)."""
        order.status = status
        order.update_time = now
        if order.algo_service:
            order.algo_status = status.value
            self._close_order(order)
            self._algo_event(order, now)
            return
        execution = ExecutionType.CANCELED if status is OrderStatus.CANCELED else ExecutionType.EXPIRED
        self.events.append(OrderEvent(order.account, now, order.snapshot(), execution))
        self._close_order(order)

    # ------------------------------------------------------------------ cancel / admin
    def find_open(self: "Engine", key: str, symbol: str, order_id: int | None, client_id: str | None,
                  algo: bool | None = False) -> EOrder | None:
        """An open order by id or client id. `algo`: False = regular orders only (the order endpoints never
        see Algo Service orders), True = algo orders only, None = either (the admin API)."""
        acct = self.accounts.get(key)
        if acct is None:
            return None
        if order_id is not None:
            order = acct.open_orders.get(order_id)
        else:
            oid = acct.client_ids.get((symbol, client_id or ""))
            order = acct.open_orders.get(oid) if oid is not None else None
        if order is None or order.symbol != symbol or (algo is not None and order.algo_service != algo):
            return None
        return order

    def find_order(self: "Engine", key: str, symbol: str, order_id: int | None, client_id: str | None) -> EOrder | None:
        """An open order, or a recently closed one still in memory (older ones are in the store)."""
        order = self.find_open(key, symbol, order_id, client_id)
        if order is not None:
            return order
        for closed in reversed(self.recent_closed.values()):
            if closed.account == key and closed.symbol == symbol and not closed.algo_service and (
                    closed.order_id == order_id if order_id is not None else closed.client_order_id == client_id):
                return closed
        return None

    def cancel(self: "Engine", key: str, symbol: str, order_id: int | None = None, client_id: str | None = None,
               now: int = 0, status: OrderStatus = OrderStatus.CANCELED, algo: bool | None = False) -> EOrder:
        if symbol not in self.specs:
            raise bad_symbol()
        order = self.find_open(key, symbol, order_id, client_id, algo)
        if order is None:
            raise unknown_order()
        self._finish(order, status, now)
        return order

    def cancel_all(self: "Engine", key: str, symbol: str, now: int) -> list[EOrder]:
        if symbol not in self.specs:
            raise bad_symbol()
        acct = self.accounts.get(key)
        if acct is None:
            return []
        orders = sorted((o for o in acct.open_orders.values() if o.symbol == symbol and not o.algo_service),
                        key=lambda o: o.order_id)
        for order in orders:
            self._finish(order, OrderStatus.CANCELED, now)
        return orders

    def fill_part(self: "Engine", key: str, symbol: str, order_id: int | None, client_id: str | None, qty: Decimal,
                  now: int, price: Decimal | None = None) -> EOrder:
        """Admin: fill part of a resting order (as maker, at its limit price unless `price` is given)."""
        order = self.find_open(key, symbol, order_id, client_id)
        if order is None:
            raise unknown_order()
        if order.type is not OrderType.LIMIT:
            raise VenueError(-1130, "Only a resting LIMIT order can be filled in part.")
        spec = self.specs[symbol]
        if qty <= 0 or qty > order.remaining or (spec.rules.step_size > 0 and qty % spec.rules.step_size != 0):
            raise VenueError(-1130, f"Data sent for parameter 'qty' is not valid (0 < qty <= {order.remaining}, "
                                    f"multiple of {spec.rules.step_size}).")
        acct = self.accounts[key]
        qty = min(qty, self._executable_qty(acct, order))
        if qty <= 0:
            raise VenueError(-2022, "ReduceOnly Order is rejected.")
        price_t = spec.ticks(price) if price is not None else order.price_t
        self._book_fill(order, acct, price_t, qty, True, now)
        self._account_event(acct, "ORDER", now, (symbol,))
        if not order.is_open:
            self._close_order(order)
        return order
