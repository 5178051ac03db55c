"""`partial_close.close_part` reads the one close routine's result (`closing.close_trade`) the way FastTP
and the cap trim need it. The routine itself is tested with the paper exchange elsewhere; here a stand-in
returns its result shapes (closed quantity, orders, error text), to pin down the reading of each."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D

import pytest

from mraster.domain.ids import Role
from mraster.exchange.errors import ExchangeError, RequestError
from bot.runtime import partial_close
from mraster.state.model import Trade


@dataclass
class Result:
    closed: D
    error: str = ""
    orders: list = field(default_factory=list)


@dataclass
class Ord:
    client_order_id: str


def routine(result, calls=None):
    async def close_trade(rt, trade, why, *, qty=None, role=Role.CLOSE):
        if calls is not None:
            calls.append((trade.trade_id, qty, role))
        return result
    return close_trade


async def test_the_closed_quantity_and_the_last_client_id_are_returned(monkeypatch):
    calls = []
    monkeypatch.setattr(partial_close, "close_trade", routine(Result(D("0.5"), orders=[Ord("mr-B.abc-FT")]), calls))
    trade = Trade("B.abc", "B", "LONG", qty=D(1))
    assert await partial_close.close_part(None, trade, D("0.5"), "why", Role.FAST_TP) == (D("0.5"), "mr-B.abc-FT")
    assert calls == [("B.abc", D("0.5"), Role.FAST_TP)]


@pytest.mark.parametrize("error,kind", [
    ("RequestError: -2019 Margin is insufficient.", RequestError),
    ("the venue refused to reduce B: ReduceOnly Order is rejected.", RequestError),
    ("close order mr-B.a-FT ended EXPIRED with nothing filled", RequestError),
    ("close outcome unknown (timeout); the position could not be read again (timeout)", ExchangeError),
])
async def test_nothing_closed_is_a_refusal_unless_the_outcome_is_unknown(monkeypatch, error, kind):
    monkeypatch.setattr(partial_close, "close_trade", routine(Result(D(0), error=error)))
    with pytest.raises(ExchangeError) as info:
        await partial_close.close_part(None, Trade("B.a", "B", "LONG", qty=D(1)), D("0.5"), "why", Role.FAST_TP)
    assert (type(info.value) is RequestError) == (kind is RequestError)
