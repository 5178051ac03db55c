"""Seed 003's fees on the paper accounts of A, B and C; other accounts keep the venue's; /admin/fees sets a pair."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from mraster.domain.types import OrderRequest, OrderType, Side
from mraster.exchange.client import BinanceCompatibleClient
from paper.testing import PaperExchange


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("pxf"), symbols=("BTCUSDT",), seed=8) as ex:
        yield ex


async def test_seed_accounts_pay_the_seeds_fees_others_the_venues(px):
    b = BinanceCompatibleClient(px.url, px.ws_url, "paper-b", "paper-secret")
    other = BinanceCompatibleClient(px.url, px.ws_url, "someone", "paper-secret")
    try:
        assert await b.commission_rate("BTCUSDT") == (D("0.0001"), D("0.00035"))
        assert await other.commission_rate("BTCUSDT") == (D("0.0002"), D("0.0004"))
        order = await b.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, "maker:B.tk.fee1",
                                                 quantity=D("0.010")))
        trades = [t for t in await b.user_trades("BTCUSDT") if t.order_id == order.order_id]
        assert trades and all(t.commission == (t.price * t.qty * D("0.00035")).quantize(t.commission)
                              for t in trades)
        px.admin("POST", "/fees", account="someone", maker="0.00005", taker="0.0003")
        assert await other.commission_rate("BTCUSDT") == (D("0.00005"), D("0.0003"))
        px.admin("POST", "/fees", account="someone", reset=True)
        assert await other.commission_rate("BTCUSDT") == (D("0.0002"), D("0.0004"))
    finally:
        await b.close()
        await other.close()
