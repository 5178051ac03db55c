"""`partial_close.close_part` on the shared close routine's result: a stand-in for
`bot.runtime.closing.close_trade` (the one close routine, merged from another branch) replaces it here,
returning what that routine returns (closed quantity, orders, error), so the adapter's reading of it is
tested before both meet."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest

from bot.domain.ids import Role
from bot.exchange.errors import RequestError
from bot.runtime import partial_close
from bot.state.model import Trade


@dataclass
class Result:
    closed: D
    error: str = ""
    orders: list = field(default_factory=list)


@dataclass
class Ord:
    client_order_id: str


async def test_the_shared_routine_is_used_and_its_result_read(monkeypatch):
    calls = []

    async def close_trade(rt, trade, why, *, qty=None, role=Role.CLOSE):
        calls.append((trade.trade_id, qty, role))
        return Result(D("0.5"), orders=[Ord("mr-BTCUSDT.abc-FT")])
    monkeypatch.setattr(partial_close, "_shared_close_trade", close_trade)
    trade = Trade("BTCUSDT.abc", "BTCUSDT", "LONG", qty=D(1))
    assert await partial_close.close_part(None, trade, D("0.5"), "why", Role.FAST_TP) == (D("0.5"),
                                                                                          "mr-BTCUSDT.abc-FT")
    assert calls == [("BTCUSDT.abc", D("0.5"), Role.FAST_TP)]


async def test_nothing_closed_with_an_error_is_a_refusal(monkeypatch):
    async def close_trade(rt, trade, why, *, qty=None, role=Role.CLOSE):
        return Result(D(0), error="RequestError: -2019 Margin is insufficient.")
    monkeypatch.setattr(partial_close, "_shared_close_trade", close_trade)
    with pytest.raises(RequestError):
        await partial_close.close_part(None, Trade("X.a", "X", "LONG", qty=D(1)), D("0.5"), "why", Role.FAST_TP)
