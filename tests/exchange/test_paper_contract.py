"""Contract suite: the client against the real paper exchange (a child process on a free port).

The same calls the bot and the guard make, end to end: market data, account, orders, both streams, and a
few of the paper exchange's injected faults. Each test trades on its own API key (its own account), with
the key pair registered so signatures are verified strictly.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
from decimal import Decimal

import pytest

from mraster.domain.types import (
    AccountUpdate, BookTickerEvent, KlineEvent, MarginType, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side,
    StreamResynced, TimeInForce,
)
from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.errors import UnknownOrderError
from paper.testing import PaperExchange
from mraster.exchange.ws import StreamOptions

from tests.exchange.conftest import Collector, RecordingSleep

SYMBOL = "BTCUSDT"
_accounts = itertools.count(1)


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("paper"), symbols=(SYMBOL, "ETHUSDT"), seed=5, admin=True) as px:
        yield px


@pytest.fixture
async def client(paper):
    """A client on a fresh account of the paper exchange; faults are cleared afterwards."""
    key, secret = f"contract-{next(_accounts)}", f"secret-{random.Random(len(paper.url)).random()}"
    paper.admin("POST", "/keys", key=key, secret=secret)
    c = BinanceCompatibleClient(paper.url, paper.ws_url, key, secret, timeout_s=2.0, retries=2, backoff_s=0.05,
                                rng=random.Random(3),
                                stream_options=StreamOptions(backoff_s=0.05, max_backoff_s=0.2, close_timeout_s=2))
    try:
        yield c
    finally:
        paper.admin("DELETE", "/faults")
        await c.close()


async def resting_buy(client: BinanceCompatibleClient, cid: str) -> OrderRequest:
    """A LIMIT buy 5 % under the bid: valid for every filter, and it rests."""
    rules = (await client.symbol_rules())[SYMBOL]
    bid = (await client.book_ticker(SYMBOL)).bid_price
    price = rules.round_price(Decimal(repr(bid)) * Decimal("0.95"), "down")
    qty = rules.qty_for_notional(Decimal(20), price, market=False)
    return OrderRequest(SYMBOL, Side.BUY, OrderType.LIMIT, cid, quantity=qty, price=price,
                        time_in_force=TimeInForce.GTC)


async def market_buy(client: BinanceCompatibleClient, cid: str) -> OrderRequest:
    rules = (await client.symbol_rules())[SYMBOL]
    ask = (await client.book_ticker(SYMBOL)).ask_price
    return OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, cid, quantity=rules.qty_for_notional(Decimal(20), ask))


async def test_market_data(client):
    rules = await client.symbol_rules()
    assert rules[SYMBOL].tick_size > 0 and rules[SYMBOL].is_tradable
    bars = await client.klines(SYMBOL, "1m", limit=50)
    assert 0 < len(bars) <= 50 and all(a.open_time < b.open_time for a, b in zip(bars, bars[1:]))
    assert all(k.closed for k in bars[:-1]) and all(k.low <= min(k.open, k.close) for k in bars)
    ticker = await client.book_ticker(SYMBOL)
    assert 0 < ticker.bid_price <= ticker.ask_price
    assert (await client.mark_price(SYMBOL)).mark_price > 0 and SYMBOL in await client.mark_prices()
    assert SYMBOL in {t.symbol for t in await client.tickers_24h()}
    depth = await client.depth(SYMBOL, limit=5)
    assert depth.bids and depth.asks and depth.bids[0][0] < depth.asks[0][0]
    assert isinstance(await client.agg_trades(SYMBOL, limit=10), list)
    assert abs(await client.sync_time()) < 5_000


async def test_account_settings(client):
    balances = {b.asset: b for b in await client.balances()}
    assert balances["USDT"].wallet_balance > 0
    assert (await client.account()).total_wallet_balance == balances["USDT"].wallet_balance
    assert await client.positions() == []
    assert (await client.set_leverage(SYMBOL, 4)).leverage == 4
    await client.set_margin_type(SYMBOL, MarginType.ISOLATED)
    await client.set_margin_type(SYMBOL, MarginType.ISOLATED)        # "no need to change": still fine
    assert await client.get_position_mode() is False
    await client.set_position_mode(False)
    maker, taker = await client.commission_rate(SYMBOL)
    assert 0 <= maker <= taker


async def test_orders_round_trip(client):
    resting = await client.place_order(await resting_buy(client, "mr-BTCUSDT.ct1-EN"))
    assert resting.status is OrderStatus.NEW and resting.client_order_id == "mr-BTCUSDT.ct1-EN"
    assert (await client.get_order(SYMBOL, client_order_id="mr-BTCUSDT.ct1-EN")).order_id == resting.order_id
    assert [o.order_id for o in await client.open_orders(SYMBOL)] == [resting.order_id]
    assert (await client.cancel_order(SYMBOL, order_id=resting.order_id)).status is OrderStatus.CANCELED
    again = await client.cancel_order(SYMBOL, order_id=resting.order_id)   # idempotent: -2011, then looked up
    assert again.status is OrderStatus.CANCELED and again.order_id == resting.order_id
    filled = await client.place_order(await market_buy(client, "mr-BTCUSDT.ct2-EN"))
    assert filled.status is OrderStatus.FILLED and filled.executed_qty == filled.orig_qty
    with pytest.raises(UnknownOrderError):                                   # a filled order cannot be cancelled
        await client.cancel_order(SYMBOL, order_id=filled.order_id)
    [position] = await client.positions()
    assert position.amount == filled.executed_qty
    stop = await client.place_order(OrderRequest(
        SYMBOL, Side.SELL, OrderType.STOP_MARKET, "mr-BTCUSDT.ct2-SL", close_position=True,
        stop_price=(await client.symbol_rules())[SYMBOL].round_price(position.entry_price * Decimal("0.9"))))
    assert stop.close_position and stop.status is OrderStatus.NEW
    again = await client.place_order(OrderRequest(
        SYMBOL, Side.SELL, OrderType.STOP_MARKET, "mr-BTCUSDT.ct2-SL", close_position=True,
        stop_price=stop.stop_price))
    assert again.order_id == stop.order_id                                # duplicate client id: the resting one
    await client.cancel_all(SYMBOL)
    assert await client.open_orders() == []
    trades = await client.user_trades(SYMBOL)
    assert [t.order_id for t in trades] == [filled.order_id]
    assert any(r.income_type == "COMMISSION" for r in await client.income())


async def test_user_stream_reports_fills(client):
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: len(feed.of(StreamResynced)) == 1, "first resync", timeout=10)
    assert feed.events[0].positions == () and feed.events[0].open_orders == ()
    order = await client.place_order(await market_buy(client, "mr-BTCUSDT.ct3-EN"))
    await feed.wait_for(lambda ev: any(isinstance(e, OrderUpdate) and e.order.status is OrderStatus.FILLED
                                       for e in ev) and feed.of(AccountUpdate), "fill events", timeout=10)
    fill = next(e for e in feed.of(OrderUpdate) if e.order.status is OrderStatus.FILLED)
    assert fill.order.order_id == order.order_id and fill.order.client_order_id == "mr-BTCUSDT.ct3-EN"
    assert any(p.symbol == SYMBOL and p.amount == order.executed_qty for p in feed.of(AccountUpdate)[-1].positions)
    await feed.close()


async def test_market_stream_delivers_klines_and_book(client):
    feed = Collector(client.market_stream([f"{SYMBOL.lower()}@kline_1m", f"{SYMBOL.lower()}@bookTicker"]))
    await feed.wait_for(lambda ev: feed.of(KlineEvent) and len(feed.of(BookTickerEvent)) >= 2, timeout=15)
    assert feed.of(KlineEvent)[0].symbol == SYMBOL and feed.of(KlineEvent)[0].interval == "1m"
    await feed.close()


async def test_lost_order_response_is_not_doubled(client, paper, caplog):
    caplog.set_level(logging.INFO)
    request = await resting_buy(client, "mr-BTCUSDT.ct4-EN")
    paper.admin("POST", "/faults", lose_order_response=1)
    order = await client.place_order(request)
    assert order.client_order_id == "mr-BTCUSDT.ct4-EN"
    assert [r.event for r in caplog.records if getattr(r, "event", "").startswith("order.")] == \
        ["order.uncertain", "order.found_after_uncertain"]
    assert [o.client_order_id for o in await client.open_orders(SYMBOL)] == ["mr-BTCUSDT.ct4-EN"]


async def test_clock_skew_is_resynchronised(client, paper):
    await client.balances()
    paper.admin("POST", "/faults", clock_skew_ms=70_000)
    assert (await client.balances())[0].asset
    assert client.status().time_offset_ms == pytest.approx(70_000, abs=2_000)


async def test_429_burst_is_waited_out(client, paper):
    sleep = RecordingSleep()
    client._core._sleep = sleep
    paper.admin("POST", "/faults", burst_429=1)
    assert (await client.book_ticker(SYMBOL)).ask_price > 0
    assert sleep.delays and sleep.delays[0] == pytest.approx(1.0, abs=0.1)


async def test_user_stream_resyncs_after_ws_disconnect(client, paper):
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: len(feed.of(StreamResynced)) == 1, timeout=10)
    paper.admin("POST", "/faults", ws_disconnect=1)
    await feed.wait_for(lambda ev: len(feed.of(StreamResynced)) == 2, "resync after the drop", timeout=10)
    assert feed.of(StreamResynced)[1].reason == "reconnected after a drop"
    await feed.close()
    assert client.status().stale_streams == {}


async def test_accelerated_paper_clock_is_followed(tmp_path, caplog):
    """At ASTER_PAPER_SPEED=60 the venue clock runs 60x ours; after a resync or two the client predicts it.
    (The pauses let wall time pass, which is what is tested; nothing is synchronised by them.)"""
    caplog.set_level(logging.INFO)
    with PaperExchange(tmp_path, symbols=(SYMBOL,), speed=60, admin=False) as fast:
        c = BinanceCompatibleClient(fast.url, fast.ws_url, "paper-key", "paper-secret", retries=1)
        try:
            for _ in range(6):
                assert (await c.balances())[0].asset == "USDT"
                await asyncio.sleep(0.5)
            assert c._core.clock.rate == pytest.approx(60, rel=0.15)
            resyncs = [r for r in caplog.records if getattr(r, "event", "") == "time.resync"]
            assert len(resyncs) <= 2
        finally:
            await c.close()
