"""Helpers of the guard's integration tests: one paper account, and a watch over its protection.

`Account` trades on the real paper exchange through the project's client, as the bot would, and
acts as the venue through the admin API (cancel or expire an order, fill part of one, move the
price). `ProtectionWatch` polls the venue's engine state (admin API: no request weight, never
faulted) every ~25 ms and measures, per position, the longest time it went without a stop.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from mraster.domain.ids import Role, client_order_id, trade_id_for_entry
from mraster.domain.types import Order, OrderRequest, OrderType, Position, PositionSide, Side
from mraster.exchange import wire
from mraster.exchange.factory import make_exchange
from mraster.settings import default_settings
from mraster.state import BotState, StateStore, Trade

D = Decimal
STOP_TYPES = ("STOP", "STOP_MARKET")
# The paper exchange counts request weight per client IP, admin calls included: the tests' observers
# read from another loopback address so that they do not eat into the guard's budget.
OBSERVER_IP = "127.0.0.2"


class Account:
    def __init__(self, px: Any, key: str):
        self.px, self.key = px, key
        self.settings = default_settings().with_values(paper=True, paper_url=px.url, api_key=key,
                                                       api_secret="secret-" + key, http_backoff=0.05)
        self.ex = make_exchange(self.settings, rate_limit_share=1.0)   # the test's own moves are never held

    async def close(self) -> None:
        await self.ex.close()

    # ------------------------------------------------------------------ trading as the bot does
    async def enter(self, symbol: str, side: Side, qty: str) -> tuple[str, Order]:
        trade_id = trade_id_for_entry(symbol, self.ex.now_ms())
        order = await self.ex.place_order(OrderRequest(symbol, side, OrderType.MARKET,
                                                       client_order_id(trade_id, Role.ENTRY), quantity=D(qty)))
        return trade_id, order

    async def position(self, symbol: str) -> Position | None:
        found = [p for p in await self.ex.positions(symbol) if not p.is_flat]
        return found[0] if found else None

    async def place(self, **kw: Any) -> Order:
        return await self.ex.place_order(OrderRequest(**kw))

    # ------------------------------------------------------------------ acting as the venue
    async def admin(self, method: str, path: str, **fields: Any) -> Any:
        """An admin call off the event loop (the protection watch keeps sampling meanwhile)."""
        return await asyncio.to_thread(self.px.admin, method, path, account=self.key, **fields)

    async def cancel_as_venue(self, order: Order, status: str = "CANCELED") -> Any:
        return await self.admin("POST", "/orders/cancel", symbol=order.symbol, orderId=order.order_id, status=status)

    async def fill_part(self, order: Order, qty: str) -> Any:
        return await self.admin("POST", "/orders/fill", symbol=order.symbol, orderId=order.order_id, qty=qty)

    async def set_price(self, symbol: str, price: Decimal) -> Any:
        return await self.admin("POST", "/price", symbol=symbol, price=str(price))

    async def release_price(self, symbol: str) -> Any:
        return await self.admin("DELETE", "/price", symbol=symbol)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        state = await self.admin("GET", "/state")
        return [o for o in parse_orders(state["accounts"].get(self.key, {})) if symbol is None or o.symbol == symbol]


def observed(px: Any, key: str) -> dict[str, Any]:
    """The account as the venue's engine holds it, read from the observer address (see OBSERVER_IP)."""
    with httpx.Client(timeout=5.0, transport=httpx.HTTPTransport(local_address=OBSERVER_IP)) as client:
        return client.get(f"{px.url}/admin/state", params={"account": key}).json()["accounts"].get(key, {})


def is_flat(px: Any, key: str) -> bool:
    return not [p for p in observed(px, key).get("positions", []) if D(p["amount"]) != 0]


def open_order_rows(px: Any, key: str) -> list[dict[str, Any]]:
    return observed(px, key).get("open_orders", [])


def parse_orders(account_state: dict[str, Any]) -> list[Order]:
    return [wire.order(o) for o in account_state.get("open_orders", [])]


def write_bot_state(path: Path, trade_id: str, symbol: str, side: str, *, entry: Decimal | None, qty: Decimal | None,
                    stop: Decimal | None, take_profit: Decimal | None, status: str = "open",
                    atr: float | None = None, trailing_callback: Decimal | None = None,
                    trailing_activation: Decimal | None = None) -> Trade:
    """The state file as the bot writes it once the entry filled and before its brackets are placed."""
    trade = Trade(trade_id=trade_id, symbol=symbol, side=side, status=status, qty=qty, entry_price=entry,
                  stop_price=stop, take_profit_price=take_profit, atr=atr, trailing_callback=trailing_callback,
                  trailing_activation=trailing_activation,
                  client_ids={Role.ENTRY.value: client_order_id(trade_id, Role.ENTRY)})
    StateStore(path).save(BotState(open_trades={trade_id: trade}))
    return trade


def has_stop(p: dict[str, Any], orders: list[Order]) -> bool:
    exit_side = Side.SELL if D(p["amount"]) > 0 else Side.BUY
    return any(o.symbol == p["symbol"] and o.side is exit_side and o.placed_type.value in STOP_TYPES
               and o.position_side.value == p["positionSide"]
               and (o.close_position or o.reduce_only or o.position_side is not PositionSide.BOTH)
               for o in orders)


@dataclass
class ProtectionWatch:
    """Longest time, per position, between a sample without any stop and the next one with a stop."""
    px: Any
    key: str
    period_s: float = 0.025
    max_gap_s: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    orders: list[Order] = field(default_factory=list)            # as of the last sample
    positions: list[dict[str, Any]] = field(default_factory=list)
    _since: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task | None = None

    async def __aenter__(self) -> "ProtectionWatch":
        self._task = asyncio.create_task(self._run())
        await self.sampled(1)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        now = time.monotonic()
        for key, since in self._since.items():      # still unprotected at the end counts too
            self.max_gap_s[key] = max(self.max_gap_s.get(key, 0.0), now - since)
        if os.environ.get("GUARD_TEST_GAPS"):
            print(f"\nlongest time without a stop: {self.max_gap_s} ({self.samples} samples)")

    async def sampled(self, n: int = 2, timeout: float = 5.0) -> None:
        """Wait until `n` more samples were taken (so a condition seen now was seen by the watch)."""
        target, deadline = self.samples + n, time.monotonic() + timeout
        while self.samples < target:
            if time.monotonic() > deadline:
                raise AssertionError("the protection watch stopped sampling")
            await asyncio.sleep(self.period_s / 2)

    async def _run(self) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=OBSERVER_IP)
        async with httpx.AsyncClient(timeout=5.0, transport=transport) as client:
            while True:
                try:
                    r = await client.get(f"{self.px.url}/admin/state", params={"account": self.key})
                    acct = r.json()["accounts"].get(self.key, {})
                except (httpx.HTTPError, ValueError, KeyError):
                    await asyncio.sleep(self.period_s)
                    continue
                now = time.monotonic()
                orders = parse_orders(acct)
                self.orders, self.positions = orders, [p for p in acct.get("positions", []) if D(p["amount"]) != 0]
                live = set()
                for p in acct.get("positions", []):
                    if D(p["amount"]) == 0:
                        continue
                    key = f'{p["symbol"]}/{p["positionSide"]}'
                    live.add(key)
                    if has_stop(p, orders):
                        if key in self._since:
                            gap = now - self._since.pop(key)
                            self.max_gap_s[key] = max(self.max_gap_s.get(key, 0.0), gap)
                        self.max_gap_s.setdefault(key, 0.0)
                    else:
                        self._since.setdefault(key, now)
                for key in [k for k in self._since if k not in live]:
                    gap = now - self._since.pop(key)            # closed while unprotected: that gap counts
                    self.max_gap_s[key] = max(self.max_gap_s.get(key, 0.0), gap)
                self.samples += 1
                await asyncio.sleep(self.period_s)

    def stops(self, symbol: str) -> list[Order]:
        return [o for o in self.orders if o.symbol == symbol and o.placed_type.value in STOP_TYPES]

    def take_profits(self, symbol: str) -> list[Order]:
        return [o for o in self.orders if o.symbol == symbol and o.placed_type is OrderType.TAKE_PROFIT_MARKET]

    def of(self, symbol: str) -> list[Order]:
        return [o for o in self.orders if o.symbol == symbol]

    def amount(self, symbol: str) -> Decimal:
        return sum((D(p["amount"]) for p in self.positions if p["symbol"] == symbol), D(0))

    @property
    def worst(self) -> float:
        return max(self.max_gap_s.values(), default=0.0)
