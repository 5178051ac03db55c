"""Binance's Algo Service (binance-algo-orders.md sections 2-6), on the engine's own trigger machinery.

An algo order is an EOrder with `algo_status` set and an id from its own range (ALGO_ID_BASE up, never
equal to a regular orderId). It waits in the same price indexes as a conditional order, but it is
never visible on the order endpoints, and when its condition holds it does not turn into a MARKET or
LIMIT order itself: it places a *new* regular order (fresh orderId, clientOrderId = the algo's
clientAlgoId, `parent_algo` = the algo id) and goes TRIGGERING -> TRIGGERED (actualOrderId set) ->
FINISHED once that child has ended (its executed quantity and average price copied as actualQty and
actualPrice). Each status change is an AlgoEvent (the stream's ALGO_UPDATE); the child's own life is
ordinary ORDER_TRADE_UPDATEs.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mraster.domain.types import ExecutionType, OrderStatus, OrderType
from paper.engine.errors import VenueError
from paper.engine.model import AlgoEvent, EAccount, EOrder, NewOrder, OrderEvent

if TYPE_CHECKING:
    from paper.engine.engine import Engine
    from paper.engine.market import MarketState

D0 = Decimal(0)
ALGO_ID_BASE = 3_000_000_000_000_000     # algo ids are 16 digits, as Binance's are; regular ids stay below
_MARKET_CHILD = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.TRAILING_STOP_MARKET)
OPEN_ALGO = ("NEW", "TRIGGERING")


class AlgoFlowMixin:
    def _next_algo_id(self: "Engine") -> int:
        self._algo_id += 1
        return self._algo_id - 1

    def _algo_event(self: "Engine", order: EOrder, now: int) -> None:
        self.dirty_orders[order.order_id] = order
        self.events.append(AlgoEvent(order.account, now, order.snapshot()))

    def place_algo(self: "Engine", key: str, req: NewOrder, now: int) -> EOrder:
        """Accept a conditional order of the Algo Service and arm it (algoStatus NEW)."""
        if not req.type.is_conditional:
            raise VenueError(-1116, "Invalid orderType.")
        acct = self.account(key, now)
        self._check_algo_cap(acct)
        order = self.check_new_order(acct, req, now)
        m = self.markets[req.symbol]
        if order.orig_type is OrderType.TRAILING_STOP_MARKET and req.activation_price is None:
            order.activated, order.extreme_t = True, m.working_t(order.working_type)
        order.order_id = self._next_algo_id()
        order.algo_status = "NEW"
        if not req.client_order_id:
            order.client_order_id = f"paper-algo-{order.order_id}"
        self._register(order, acct)
        self._algo_event(order, now)
        self._watch_order(order)
        return order

    def _check_algo_cap(self: "Engine", acct: EAccount) -> None:
        if self.algo_cap is not None and \
                sum(1 for o in acct.open_orders.values() if o.algo_service) >= self.algo_cap:
            raise VenueError(-4045, "Reach max stop order limit.")

    def _trigger_algo(self: "Engine", algo: EOrder, m: "MarketState", now: int) -> None:
        """The condition holds: place the regular child order (or reject / expire the algo order)."""
        if algo.price_protect and not self._protect_ok(m):
            self._watch_order(algo)               # stays waiting, as on the order endpoint
            return
        acct = self.accounts[algo.account]
        algo.triggered = True
        algo.trigger_time = algo.update_time = now
        algo.algo_status = "TRIGGERING"
        self._algo_event(algo, now)
        market = algo.orig_type in _MARKET_CHILD
        kind = OrderType.MARKET if market else OrderType.LIMIT
        qty = algo.orig_qty
        if algo.close_position:
            qty = self._closable(acct, algo)
            if qty <= 0:                          # nothing to close: the system expires it
                self._end_algo(algo, "EXPIRED", OrderStatus.EXPIRED, now)
                return
        child = EOrder(0, acct.key, algo.symbol, algo.client_order_id, algo.side, kind, kind, algo.position_side,
                       algo.time_in_force, qty, price=algo.price if not market else D0,
                       reduce_only=algo.reduce_only or algo.close_position, working_type=algo.working_type,
                       time=now, update_time=now, price_t=algo.price_t if not market else 0, parent_algo=algo.order_id)
        reason = ""
        if self._is_capped(acct, child) and self._executable_qty(acct, child) <= 0:
            reason = "Reduce Only reject"
        elif not self._is_capped(acct, child) and not self._margin_ok(acct, child, m):
            reason = "Margin is insufficient."
        if reason:
            algo.reject_reason = reason
            self._end_algo(algo, "REJECTED", OrderStatus.EXPIRED, now)
            return
        child.order_id = self._next_order_id()
        algo.actual_order_id = child.order_id
        algo.type = kind
        algo.status = OrderStatus.FILLED          # internal only: no longer open (the algo status tells the rest)
        self._close_order(algo)
        self.algo_parents[algo.order_id] = algo
        algo.algo_status = "TRIGGERED"
        self._algo_event(algo, now)
        self._register(child, acct)
        self.events.append(OrderEvent(acct.key, now, child.snapshot(), ExecutionType.NEW))
        if market:
            self._execute_taker(child, acct, m, now, limit_t=None)
        else:
            self._execute_limit(child, acct, m, now)

    def _end_algo(self: "Engine", algo: EOrder, algo_status: str, status: OrderStatus, now: int) -> None:
        algo.status, algo.algo_status, algo.update_time = status, algo_status, now
        self._close_order(algo)
        self._algo_event(algo, now)

    def _algo_child_done(self: "Engine", child: EOrder) -> None:
        """The child of a triggered algo order ended (filled, cancelled or expired): the algo is FINISHED."""
        algo = self.algo_parents.pop(child.parent_algo, None)
        if algo is None:
            return
        algo.algo_status = "FINISHED"
        algo.executed_qty, algo.cum_quote = child.executed_qty, child.cum_quote
        algo.update_time = child.update_time
        self._algo_event(algo, child.update_time)

    def find_algo(self: "Engine", key: str, algo_id: int | None, client_algo_id: str | None) -> EOrder | None:
        """An algo order of this account by algoId or clientAlgoId (open ones first, then recent ones)."""
        acct = self.accounts.get(key)
        if acct is None:
            return None
        if algo_id is not None:
            order = acct.open_orders.get(algo_id) or self.algo_parents.get(algo_id) or \
                self.recent_closed.get(algo_id)
            return order if order is not None and order.account == key and order.algo_service else None
        for pool in (acct.open_orders.values(), self.algo_parents.values(), reversed(self.recent_closed.values())):
            for order in pool:
                if order.account == key and order.algo_service and order.client_order_id == client_algo_id:
                    return order
        return None

    def cancel_algo(self: "Engine", key: str, algo_id: int | None, client_algo_id: str | None, now: int) -> EOrder:
        order = self.find_algo(key, algo_id, client_algo_id)
        if order is None or order.algo_status not in OPEN_ALGO:
            raise VenueError(-2011, "Unknown order sent.")
        self._finish(order, OrderStatus.CANCELED, now)
        return order

    def cancel_all_algo(self: "Engine", key: str, symbol: str, now: int) -> list[EOrder]:
        acct = self.accounts.get(key)
        if acct is None:
            return []
        orders = sorted((o for o in acct.open_orders.values() if o.symbol == symbol and o.algo_service),
                        key=lambda o: o.order_id)
        for order in orders:
            self._finish(order, OrderStatus.CANCELED, now)
        return orders
