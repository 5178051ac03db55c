"""Fixtures and steps shared by the guard's integration tests (real paper exchange, real guard child)."""
from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from mraster.domain.brackets import bracket_prices
from mraster.domain.ids import Role, client_order_id, trade_id_for_entry
from mraster.domain.types import OrderRequest, OrderType, Position, Side
from paper.testing import PaperExchange
from guard.testing import GuardProcess

from tests.guard.polling import until
from tests.guard.venue import Account, ProtectionWatch, write_bot_state

D = Decimal
GAP_LIMIT_S = 2.0            # the bound: no position without a stop for longer than this


def venue_fixture(name: str):
    """A module-scoped paper exchange (tests use one account each, so they do not meet)."""
    @pytest.fixture(scope="module")
    def px(tmp_path_factory):
        with PaperExchange(tmp_path_factory.mktemp(name), symbols=("BTCUSDT", "ETHUSDT"), seed=7) as exchange:
            yield exchange
    return px


class Guards:
    """Guard children of one test, sharing one account and one bot state file."""

    def __init__(self, px: PaperExchange, account: Account, workdir: Path):
        self.px, self.account, self.workdir = px, account, workdir
        self.state_path = workdir / "aster_state.json"
        self.procs: list[GuardProcess] = []

    def make(self, *, interval: float = 3.0, stream: bool = True, env: dict | None = None) -> GuardProcess:
        g = GuardProcess(self.workdir / f"guard{len(self.procs)}", self.px, interval=interval, stream=stream,
                         api_key=self.account.key, api_secret="secret-" + self.account.key,
                         env={"ASTER_STATE_FILE": str(self.state_path), **(env or {})})
        self.procs.append(g)
        return g

    async def start(self, **kw) -> GuardProcess:
        g = self.make(**kw).start()
        await until(lambda: g.status().get("checks_total", 0) >= 1, 20.0, "the guard's first check")
        return g

    def stop_all(self) -> list[int | None]:
        return [g.stop() for g in self.procs]


def account_key(request) -> str:
    return "g-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


async def bot_entry(account: Account, state_path: Path, symbol: str = "BTCUSDT", side: Side = Side.BUY,
                    qty: str = "0.01", atr_fraction: float = 0.004) -> tuple[str, Position, Decimal, Decimal]:
    """Enter exactly as the bot does, and stop where a bot killed right after the fill stops: the
    pending trade (with its ATR) is written before the entry, the intended levels (from the fill
    price, the bot's formula) after it, and no bracket is placed."""
    rules = (await account.ex.symbol_rules())[symbol]
    mark = (await account.ex.mark_price(symbol)).mark_price
    atr = mark * atr_fraction
    trade_id = trade_id_for_entry(symbol, account.ex.now_ms())
    side_text = "LONG" if side is Side.BUY else "SHORT"
    write_bot_state(state_path, trade_id, symbol, side_text, entry=None, qty=None, stop=None, take_profit=None,
                    status="pending", atr=atr)
    await account.ex.place_order(OrderRequest(symbol, side, OrderType.MARKET, client_order_id(trade_id, Role.ENTRY),
                                              quantity=D(qty)))
    pos = await account.position(symbol)
    assert pos is not None
    levels = bracket_prices(pos.entry_price, side, atr, 1.3, 2.0, rules)
    write_bot_state(state_path, trade_id, symbol, side_text, entry=pos.entry_price, qty=pos.qty, stop=levels.stop,
                    take_profit=levels.take_profit, atr=atr)
    return trade_id, pos, levels.stop, levels.take_profit


@asynccontextmanager
async def guarded_position(px: PaperExchange, account: Account, guards: Guards, **guard_kw):
    """A guard running and a bot-entered long BTCUSDT position with its brackets settled; yields
    (guard, watch, trade id)."""
    g = await guards.start(**guard_kw)
    async with ProtectionWatch(px, account.key) as watch:
        trade_id, *_ = await bot_entry(account, guards.state_path)
        await settled_brackets(watch, "BTCUSDT")
        yield g, watch, trade_id


async def settled_brackets(watch: ProtectionWatch, symbol: str, timeout: float = 10.0) -> None:
    await until(lambda: len(watch.stops(symbol)) == 1 and len(watch.take_profits(symbol)) == 1, timeout,
                f"one stop and one take-profit on {symbol}")
    await watch.sampled(8)          # and it stays that way
    assert len(watch.stops(symbol)) == 1 and len(watch.take_profits(symbol)) == 1
