"""An in-memory Exchange for the guard's unit tests of the executor, reconciler and service loop.

A test double, used where a real part cannot give what the test needs: an exact, deterministic
sequence of venue answers (this call fails with a 503, that one with -4130, the next succeeds).
It keeps the venue's rules that the guard relies on: client ids unique among open orders
(-4116), stops that would trigger at once refused (-2021), reduce-only refused without a position
(-2022), close-position orders without quantity. The integration tests run the guard against the
real paper exchange instead.
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from dataclasses import replace
from decimal import Decimal
from itertools import count
from typing import Any, AsyncIterator, Callable

from mraster.domain.rules import SymbolRules
from mraster.domain.types import (
    AccountInfo, ClientStatus, Kline, Order, OrderRequest, OrderStatus, OrderType, Position, PositionSide, Side,
    WorkingType,
)
from mraster.exchange.errors import (
    DuplicateClientOrderIdError, OrderWouldTriggerError, ReduceOnlyRejectedError, UnknownOrderError,
)
from mraster.exchange.interface import Exchange, UserStream

D = Decimal


class FakeStream(UserStream):
    def __init__(self, queue: asyncio.Queue):
        self.queue = queue
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events()

    async def _events(self):
        while True:
            item = await self.queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def close(self) -> None:
        self.closed = True

    @property
    def age_s(self) -> float:
        return 0.0


class FakeExchange(Exchange):
    def __init__(self, rules: dict[str, SymbolRules], *, now_ms: int = 1_700_000_000_000):
        self.rules = rules
        self.positions_by_key: dict[tuple[str, PositionSide], Position] = {}
        self.orders: list[Order] = []
        self.marks: dict[str, Decimal] = {}
        self.account_info = AccountInfo(D(10000), D(0), D(10000), D(0), D(0), D(10000))
        self.klines_by_symbol: dict[str, list[Kline]] = {}
        self.fail: dict[str, deque] = defaultdict(deque)      # method -> exceptions to raise, in order
        self.calls: list[tuple[str, Any]] = []
        self.call_times: list[tuple[str, float]] = []       # (method, time.monotonic())
        self.stream_queue: asyncio.Queue | None = None
        self.streams: list[FakeStream] = []
        self._ids = count(1)
        self._now = now_ms
        self.on_place: Callable[[OrderRequest], None] | None = None

    # ------------------------------------------------------------------ test controls
    def set_position(self, symbol: str, amount: str, entry: str, mark: str | None = None,
                     side: PositionSide = PositionSide.BOTH) -> None:
        self.marks[symbol] = D(mark or entry)
        if D(amount) == 0:
            self.positions_by_key.pop((symbol, side), None)
            return
        self.positions_by_key[(symbol, side)] = Position(symbol, side, D(amount), D(entry),
                                                         mark_price=self.marks[symbol])

    def add_order(self, **kw: Any) -> Order:
        o = Order(order_id=next(self._ids), status=OrderStatus.NEW, **kw)
        self.orders.append(o)
        return o

    def open(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders if o.is_open and (symbol is None or o.symbol == symbol)]

    def _call(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        self.call_times.append((name, time.monotonic()))
        if self.fail[name]:
            raise self.fail[name].popleft()

    # ------------------------------------------------------------------ interface
    def now_ms(self) -> int:
        return self._now

    async def sync_time(self) -> int:
        return 0

    def status(self) -> ClientStatus:
        return ClientStatus()

    async def close(self) -> None:
        pass

    async def symbol_rules(self, refresh: bool = False) -> dict[str, SymbolRules]:
        self._call("symbol_rules")
        return dict(self.rules)

    async def klines(self, symbol, interval, limit=500, start_time=None, end_time=None) -> list[Kline]:
        self._call("klines", symbol)
        return list(self.klines_by_symbol.get(symbol, []))[-limit:]

    async def account(self) -> AccountInfo:
        self._call("account")
        return self.account_info

    async def positions(self, symbol: str | None = None) -> list[Position]:
        self._call("positions", symbol)
        return [replace(p, mark_price=self.marks.get(p.symbol, p.mark_price)) for p in self.positions_by_key.values()
                if symbol is None or p.symbol == symbol]

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        self._call("open_orders", symbol)
        return self.open(symbol)

    async def get_order(self, symbol, *, order_id=None, client_order_id=None) -> Order:
        self._call("get_order", client_order_id or order_id)
        for o in reversed(self.orders):
            if o.symbol == symbol and (o.order_id == order_id or o.client_order_id == client_order_id):
                return o
        raise UnknownOrderError("Order does not exist.", code=-2013)

    async def place_order(self, r: OrderRequest) -> Order:
        self._call("place_order", r)
        if self.on_place:
            self.on_place(r)
        if any(o.client_order_id == r.client_order_id for o in self.open(r.symbol)):
            raise DuplicateClientOrderIdError("Duplicate clientOrderId", code=-4116)
        pos = self.positions_by_key.get((r.symbol, r.position_side))
        exit_side = pos.exit_side if pos else None
        if (r.reduce_only or r.close_position) and (pos is None or r.side is not exit_side):
            if r.type is OrderType.MARKET or r.reduce_only:
                raise ReduceOnlyRejectedError("ReduceOnly Order is rejected.", code=-2022)
        mark = self.marks.get(r.symbol)
        if r.stop_price is not None and mark is not None:
            sell_stop = (r.side is Side.SELL) == (r.type in (OrderType.STOP, OrderType.STOP_MARKET))
            if (mark <= r.stop_price) if sell_stop else (mark >= r.stop_price):
                raise OrderWouldTriggerError("Order would immediately trigger.", code=-2021)
        if r.type is OrderType.MARKET:
            assert pos is not None and r.quantity is not None
            left = pos.qty - min(r.quantity, pos.qty)
            self.set_position(r.symbol, str(left if pos.is_long else -left), str(pos.entry_price), str(mark),
                              r.position_side)
            return self.add_order(symbol=r.symbol, client_order_id=r.client_order_id, side=r.side, type=r.type,
                                  orig_qty=r.quantity, position_side=r.position_side, reduce_only=r.reduce_only)
        return self.add_order(symbol=r.symbol, client_order_id=r.client_order_id, side=r.side, type=r.type,
                              orig_qty=r.quantity or D(0), stop_price=r.stop_price or D(0),
                              reduce_only=r.reduce_only, close_position=r.close_position,
                              working_type=r.working_type or WorkingType.CONTRACT_PRICE,
                              position_side=r.position_side, price_rate=r.callback_rate,
                              activate_price=r.activation_price)

    def _finish(self, order_id: int, status: OrderStatus) -> Order:
        for i, o in enumerate(self.orders):
            if o.order_id == order_id and o.is_open:
                self.orders[i] = replace(o, status=status)
                return self.orders[i]
        raise UnknownOrderError("Unknown order sent.", code=-2011)

    async def cancel_order(self, symbol, *, order_id=None, client_order_id=None) -> Order:
        self._call("cancel_order", order_id or client_order_id)
        for o in self.open(symbol):
            if o.order_id == order_id or o.client_order_id == client_order_id:
                return self._finish(o.order_id, OrderStatus.CANCELED)
        raise UnknownOrderError("Unknown order sent.", code=-2011)

    async def cancel_all(self, symbol: str) -> None:
        self._call("cancel_all", symbol)
        for o in self.open(symbol):
            self._finish(o.order_id, OrderStatus.CANCELED)

    def user_stream(self) -> UserStream:
        self._call("user_stream")
        if self.stream_queue is None:
            self.stream_queue = asyncio.Queue()
        stream = FakeStream(self.stream_queue)
        self.streams.append(stream)
        return stream

    # ------------------------------------------------------------------ unused by the guard
    async def book_ticker(self, symbol): raise NotImplementedError
    async def book_tickers(self): raise NotImplementedError
    async def mark_price(self, symbol): raise NotImplementedError
    async def mark_prices(self): raise NotImplementedError
    async def tickers_24h(self): raise NotImplementedError
    async def depth(self, symbol, limit=5): raise NotImplementedError
    async def agg_trades(self, symbol, limit=500, start_time=None, end_time=None): raise NotImplementedError
    async def balances(self): raise NotImplementedError
    async def set_leverage(self, symbol, leverage): raise NotImplementedError
    async def set_margin_type(self, symbol, margin_type): raise NotImplementedError
    async def set_position_mode(self, hedge): raise NotImplementedError
    async def get_position_mode(self): raise NotImplementedError
    async def user_trades(self, symbol, start_time=None, end_time=None, limit=500, from_id=None):
        raise NotImplementedError
    async def income(self, symbol=None, income_type=None, start_time=None, end_time=None, limit=1000):
        raise NotImplementedError
    async def commission_rate(self, symbol): raise NotImplementedError
    def market_stream(self, streams): raise NotImplementedError
