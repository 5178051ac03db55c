"""An in-memory test double of the `Exchange` interface, for runtime tests that need situations a real
venue cannot produce on demand (a stop rejected right after a fill, an entry whose answer is lost, a
clock under the test's control). End-to-end behaviour is tested against the real paper exchange in
test_paper_e2e.py; this double only has to be faithful for what the bot uses: one-way positions,
MARKET / LIMIT IOC entries, close-position STOP_MARKET / TAKE_PROFIT_MARKET triggering on price moves,
user trades with realised PnL and fees, funding income, liquidation orders with `autoclose-` ids.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from decimal import Decimal as D
import numpy as np

from mraster.domain.rules import SymbolRules
from mraster.domain.types import (AccountInfo, BookTicker, ClientStatus, IncomeRecord, Kline, LeverageInfo, MarkPrice,
                              Order, OrderRequest, OrderStatus, OrderType, Position, PositionSide, Side,
                              Ticker24h, UserTrade)
from mraster.exchange.errors import (DuplicateClientOrderIdError, ExchangeError, ExecutionUnknownError,
                                 OrderWouldTriggerError, ReduceOnlyRejectedError, UnknownOrderError)
from mraster.exchange.interface import Exchange

FEE = D("0.0004")
STEP = {"1m": 60_000, "5m": 300_000, "30m": 1_800_000}


class FakeVenue(Exchange):
    def __init__(self, symbols=("BTCUSDT", "ETHUSDT"), prices=None, seed=1, now_ms=1_700_000_040_000,
                 balance=D(10000)):
        self.rules = {s: SymbolRules(s, D("0.01"), D("0.001"), D("0.001"), D("10000"), D("5"),
                                     base_asset=s[:-4]) for s in symbols}
        self.price = {s: D(str((prices or {}).get(s, 100.0))) for s in symbols}
        self.clock = now_ms
        self.balance = balance
        self.positions_ = {}                  # symbol -> [amount, entry_price]
        self.orders: dict[int, Order] = {}    # every order ever, by id
        self.fills: list[UserTrade] = []
        self.incomes: list[IncomeRecord] = []
        self.ids = itertools.count(1)
        self.reject_stops = False
        self.lose_next_entry = False
        self.fail_closes = False              # market closes (reduce-only) are refused (-4131)
        self.entries_rest = False             # entries are answered NEW and fill only at fill_resting()
        self.late_next_entry = False          # the next entry answers "unknown", executes at process_late()
        self.late: list[OrderRequest] = []
        self.entry_fill_ratio = D(1)          # < 1: entries fill only partly (IOC remainder expires)
        self.funding = {s: 0.0001 for s in symbols}
        self.spread = D("0.01")
        self.calls: list[str] = []
        self.rng = np.random.default_rng(seed)
        self._series: dict[tuple[str, str], np.ndarray] = {}
        self.holds: dict[str, tuple[asyncio.Event, asyncio.Event]] = {}   # call -> (reached, release)

    def hold(self, call: str) -> tuple[asyncio.Event, asyncio.Event]:
        """Make the next `call` (e.g. "klines", "place STOP_MARKET") wait until released."""
        self.holds[call] = (asyncio.Event(), asyncio.Event())
        return self.holds[call]

    async def _checkpoint(self, call: str) -> None:
        pair = self.holds.pop(call, None)
        if pair is not None:
            pair[0].set()
            await pair[1].wait()

    # ----------------------------------------------------------- time / status
    def now_ms(self) -> int:
        return self.clock

    async def sync_time(self) -> int:
        return 0

    def status(self) -> ClientStatus:
        return ClientStatus(used_weight_1m=len(self.calls))

    async def close(self) -> None:
        pass

    # ------------------------------------------------------------- market data
    async def symbol_rules(self, refresh: bool = False):
        return dict(self.rules)

    def trend(self, symbol: str, interval: str, drift: float) -> None:
        """Make the candles of (symbol, interval) trend: +drift per bar (a fraction)."""
        self._series[(symbol, interval)] = np.array([drift])

    async def klines(self, symbol, interval, limit=500, start_time=None, end_time=None):
        self.calls.append(f"klines {symbol} {interval} {limit}")
        await self._checkpoint("klines")
        step = STEP[interval]
        last_open = self.clock // step * step                  # the forming bar
        drift = float(self._series.get((symbol, interval), np.array([0.0]))[0])
        out = []
        px = float(self.price[symbol])
        closes = [px / ((1 + drift) ** k) for k in range(limit)][::-1]
        for i, c in enumerate(closes):
            t = last_open - (limit - 1 - i) * step
            o = closes[i - 1] if i else c / (1 + drift)
            out.append(Kline(t, o, max(o, c) * 1.001, min(o, c) * 0.999, c, 1.0, t + step - 1))
        return out

    async def book_ticker(self, symbol):
        return (await self.book_tickers())[symbol]

    async def book_tickers(self):
        return {s: BookTicker(s, float(p - self.spread / 2), 1.0, float(p + self.spread / 2), 1.0)
                for s, p in self.price.items()}

    async def mark_price(self, symbol):
        return (await self.mark_prices())[symbol]

    async def mark_prices(self):
        return {s: MarkPrice(s, float(p), float(p), self.funding[s], 0, self.clock) for s, p in self.price.items()}

    async def tickers_24h(self):
        return [Ticker24h(s, float(p), float(p), float(p), float(p), 1e6, 1e8 - i, 0.0, 0, 0)
                for i, (s, p) in enumerate(self.price.items())]

    async def depth(self, symbol, limit=5):
        raise NotImplementedError

    async def agg_trades(self, symbol, limit=500, start_time=None, end_time=None):
        raise NotImplementedError

    # ----------------------------------------------------------------- account
    async def balances(self):
        raise NotImplementedError

    async def account(self):
        upnl = sum((a * (self.price[s] - e) for s, (a, e) in self.positions_.items()), D(0))
        return AccountInfo(self.balance, upnl, self.balance + upnl, D(0), D(0), self.balance)

    async def positions(self, symbol=None):
        return [Position(s, PositionSide.BOTH, a, e, mark_price=self.price[s], leverage=3)
                for s, (a, e) in self.positions_.items() if a != 0 and (symbol is None or s == symbol)]

    async def open_orders(self, symbol=None):
        return [o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    async def get_order(self, symbol, *, order_id=None, client_order_id=None):
        for o in sorted(self.orders.values(), key=lambda o: -o.order_id):
            if o.symbol == symbol and (o.order_id == order_id or (client_order_id and o.client_order_id == client_order_id)):
                return o
        raise UnknownOrderError("Unknown order sent.", code=-2013)

    async def place_order(self, req: OrderRequest) -> Order:
        self.calls.append(f"place {req.type.value} {req.client_order_id}")
        await self._checkpoint(f"place {req.type.value}")
        if any(o.is_open and o.client_order_id == req.client_order_id for o in self.orders.values()):
            raise DuplicateClientOrderIdError("duplicate", code=-4116)
        oid = next(self.ids)
        px = self.price[req.symbol]
        if req.type.is_conditional:
            if self.reject_stops and req.type is OrderType.STOP_MARKET:
                raise OrderWouldTriggerError("Order would immediately trigger.", code=-2021)
            pos = self.positions_.get(req.symbol, [D(0), D(0)])[0]
            long_pos = pos > 0
            crossed = (px <= req.stop_price if long_pos else px >= req.stop_price) if req.type is OrderType.STOP_MARKET \
                else (px >= req.stop_price if long_pos else px <= req.stop_price)
            if crossed:
                raise OrderWouldTriggerError("Order would immediately trigger.", code=-2021)
            o = Order(req.symbol, oid, req.client_order_id, req.side, req.type, OrderStatus.NEW, D(0),
                      stop_price=req.stop_price, close_position=req.close_position, reduce_only=req.reduce_only,
                      working_type=req.working_type, time=self.clock)
            self.orders[oid] = o
            return o
        if self.fail_closes and req.reduce_only:
            raise ExchangeError("The counterparty's best price does not meet the PERCENT_PRICE filter limit.",
                                code=-4131, status=400)
        if self.late_next_entry and req.client_order_id.endswith("-EN"):
            self.late_next_entry = False
            self.late.append(req)
            raise ExecutionUnknownError("Timeout waiting for response from backend server.", code=-1007, status=503)
        if self.entries_rest and req.client_order_id.endswith("-EN"):
            o = Order(req.symbol, oid, req.client_order_id, req.side, req.type, OrderStatus.NEW, req.quantity,
                      time=self.clock)
            self.orders[oid] = o
            return o
        fill_px = px + self.spread / 2 if req.side is Side.BUY else px - self.spread / 2
        if req.type is OrderType.LIMIT and ((req.side is Side.BUY and req.price < fill_px)
                                           or (req.side is Side.SELL and req.price > fill_px)):
            o = Order(req.symbol, oid, req.client_order_id, req.side, req.type, OrderStatus.EXPIRED, req.quantity)
            self.orders[oid] = o
            return o
        qty = req.quantity
        if req.client_order_id.endswith("-EN") and self.entry_fill_ratio < 1:
            qty = (qty * self.entry_fill_ratio).quantize(D("0.001"))
        if req.reduce_only:
            amount = self.positions_.get(req.symbol, [D(0), D(0)])[0]
            if amount == 0 or (amount > 0) == (req.side is Side.BUY):
                raise ReduceOnlyRejectedError("ReduceOnly Order is rejected.", code=-2022)
            qty = min(qty, abs(amount))
        o = self._fill(req.symbol, oid, req.client_order_id, req.side, req.type, qty, fill_px)
        if self.lose_next_entry and req.client_order_id.endswith("-EN"):
            self.lose_next_entry = False
            raise ExecutionUnknownError("response lost", status=503)
        return o

    def _fill(self, symbol, oid, cid, side, kind, qty, px) -> Order:
        amount, entry = self.positions_.get(symbol, [D(0), D(0)])
        signed = qty if side is Side.BUY else -qty
        pnl = D(0)
        if amount != 0 and (amount > 0) != (signed > 0):
            closed = min(abs(amount), qty)
            pnl = closed * (px - entry) * (1 if amount > 0 else -1)
        new = amount + signed
        if new == 0:
            entry = D(0)
        elif amount == 0 or (amount > 0) == (signed > 0):
            entry = (abs(amount) * entry + qty * px) / abs(new)
        self.positions_[symbol] = [new, entry]
        fee = (qty * px * FEE).quantize(D("0.00000001"))
        self.balance += pnl - fee
        self.fills.append(UserTrade(symbol, len(self.fills) + 1, oid, side, px, qty, qty * px, fee, "USDT", pnl,
                                    False, self.clock))
        o = Order(symbol, oid, cid, side, kind, OrderStatus.FILLED, qty, qty, avg_price=px, cum_quote=qty * px,
                  time=self.clock)
        if cid.endswith("-EN") and self.entry_fill_ratio < 1:
            o = replace(o, status=OrderStatus.EXPIRED)
        self.orders[oid] = o
        return o

    async def cancel_order(self, symbol, *, order_id=None, client_order_id=None):
        for oid, o in self.orders.items():
            if o.symbol == symbol and o.is_open and (o.order_id == order_id or o.client_order_id == client_order_id):
                self.orders[oid] = replace(o, status=OrderStatus.CANCELED)
                return self.orders[oid]
        raise UnknownOrderError("Unknown order sent.", code=-2011)

    async def cancel_all(self, symbol):
        for oid, o in list(self.orders.items()):
            if o.symbol == symbol and o.is_open:
                self.orders[oid] = replace(o, status=OrderStatus.CANCELED)

    async def set_leverage(self, symbol, leverage):
        self.calls.append(f"leverage {symbol} {leverage}")
        return LeverageInfo(symbol, leverage, D(1e6))

    async def set_margin_type(self, symbol, margin_type):
        self.calls.append(f"margin {symbol} {margin_type.value}")

    async def set_position_mode(self, hedge):
        pass

    async def get_position_mode(self):
        return False

    async def user_trades(self, symbol, start_time=None, end_time=None, limit=500, from_id=None):
        return [f for f in self.fills if f.symbol == symbol and (start_time is None or f.time >= start_time)]

    async def income(self, symbol=None, income_type=None, start_time=None, end_time=None, limit=1000):
        return [i for i in self.incomes if (symbol is None or i.symbol == symbol)
                and (start_time is None or i.time >= start_time)]

    async def commission_rate(self, symbol):
        return D("0.0002"), FEE

    def user_stream(self):
        raise NotImplementedError

    def market_stream(self, streams):
        raise NotImplementedError

    # ------------------------------------------------------------ scenarios
    def move(self, symbol: str, price: float) -> None:
        """Set the price and fire the conditional orders it crosses, as the venue would."""
        self.price[symbol] = D(str(price))
        px = self.price[symbol]
        for oid, o in list(self.orders.items()):
            if o.symbol != symbol or not o.is_open or not o.type.is_conditional:
                continue
            amount = self.positions_.get(symbol, [D(0), D(0)])[0]
            if amount == 0:
                continue
            long_pos = amount > 0
            if o.type is OrderType.STOP_MARKET:
                hit = px <= o.stop_price if long_pos else px >= o.stop_price
            else:
                hit = px >= o.stop_price if long_pos else px <= o.stop_price
            if hit:
                self.orders[oid] = replace(o, status=OrderStatus.FILLED, executed_qty=abs(amount), avg_price=px)
                self._fill(symbol, oid, o.client_order_id, o.side, OrderType.MARKET, abs(amount), px)
                self.orders[oid] = replace(self.orders[oid], type=OrderType.MARKET, orig_type=o.type)
        for oid, o in list(self.orders.items()):     # close-position orders of a flat symbol expire
            if o.symbol == symbol and o.is_open and self.positions_.get(symbol, [D(0)])[0] == 0:
                self.orders[oid] = replace(o, status=OrderStatus.EXPIRED)

    def liquidate(self, symbol: str, price: float) -> None:
        self.price[symbol] = D(str(price))
        amount = self.positions_[symbol][0]
        side = Side.SELL if amount > 0 else Side.BUY
        self._fill(symbol, next(self.ids), f"autoclose-{self.clock}", side, OrderType.LIMIT, abs(amount),
                   self.price[symbol])
        self.move(symbol, price)

    def open_manual(self, symbol: str, side: Side, qty: str) -> None:
        self._fill(symbol, next(self.ids), "web_manual", side, OrderType.MARKET, D(qty), self.price[symbol])

    def pay_funding(self, symbol: str, amount: str) -> None:
        self.incomes.append(IncomeRecord(symbol, "FUNDING_FEE", D(amount), "USDT", self.clock,
                                         tran_id=str(len(self.incomes) + 1)))

    def fill_resting(self, share: D | None = None) -> None:
        """Fill every entry that was answered NEW (entries_rest); with `share`, only that part of it, the
        order staying open (PARTIALLY_FILLED)."""
        for oid, o in list(self.orders.items()):
            if o.is_open and o.client_order_id.endswith("-EN"):
                px = self.price[o.symbol] + (self.spread / 2 if o.side is Side.BUY else -self.spread / 2)
                qty = o.orig_qty if share is None else (o.orig_qty * share).quantize(D("0.001"))
                filled = self._fill(o.symbol, oid, o.client_order_id, o.side, o.type, qty, px)
                if share is not None:
                    self.orders[oid] = replace(filled, status=OrderStatus.PARTIALLY_FILLED, orig_qty=o.orig_qty)

    def process_late(self) -> None:
        """The venue executes the entries it answered "unknown" to (late_next_entry)."""
        late, self.late = self.late, []
        for req in late:
            px = self.price[req.symbol] + (self.spread / 2 if req.side is Side.BUY else -self.spread / 2)
            self._fill(req.symbol, next(self.ids), req.client_order_id, req.side, req.type, req.quantity, px)
