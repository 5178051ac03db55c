"""The project's own client (mraster.exchange.factory.make_exchange) against the paper exchange: the same
code the bot and the guard run, through the Exchange interface."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from mraster.domain.ids import Role, client_order_id
from mraster.domain.types import (
    AccountUpdate, ExecutionType, MarginType, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side, StreamResynced,
    TimeInForce, WorkingType,
)
from mraster.exchange.errors import OrderWouldTriggerError, ReduceOnlyRejectedError, UnknownOrderError
from mraster.exchange.factory import make_exchange
from mraster.settings import load_settings


@pytest.fixture
async def client(px, request):
    key = f"pc-{request.node.name[:40]}"
    env = {**px.env(), "ASTER_PAPER_API_KEY": key, "ASTER_PAPER_API_SECRET": "s" * 24, "ASTER_HTTP_BACKOFF": "0.05"}
    exchange = make_exchange(load_settings(env=env, use_files=False).settings)
    await exchange.sync_time()
    yield exchange
    px.admin("DELETE", "/faults")
    await exchange.close()


def cid(symbol: str, n: int, role: Role = Role.ENTRY) -> str:
    return client_order_id(f"{symbol}.t{n}", role)


async def test_market_data_and_rules(client):
    rules = await client.symbol_rules()
    assert rules["BTCUSDT"].tick_size == Decimal("0.01") and rules["ETHUSDT"].step_size == Decimal("0.001")
    klines = await client.klines("BTCUSDT", "5m", limit=50)
    assert len(klines) >= 49 and all(b.open_time - a.open_time == 300_000 for a, b in zip(klines, klines[1:]))
    book = await client.book_ticker("ETHUSDT")
    assert 0 < book.spread_fraction < 0.009                         # the bot's spread gate admits it
    mark = await client.mark_price("BTCUSDT")
    assert mark.mark_price > 0 and mark.next_funding_time % (8 * 3600_000) == 0
    assert all(t.quote_volume > 75_000 for t in await client.tickers_24h())
    assert len((await client.depth("BTCUSDT", 5)).bids) == 5


async def test_place_get_cancel_and_positions(client):
    await client.set_margin_type("BTCUSDT", MarginType.ISOLATED)
    await client.set_margin_type("BTCUSDT", MarginType.ISOLATED)           # idempotent
    await client.set_leverage("BTCUSDT", 5)
    resting = await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, cid("BTCUSDT", 1),
                                                    quantity=Decimal("0.002"), price=Decimal("5000"),
                                                    time_in_force=TimeInForce.GTC))
    assert resting.status is OrderStatus.NEW and resting.price == Decimal("5000")
    got = await client.get_order("BTCUSDT", client_order_id=cid("BTCUSDT", 1))
    assert got.order_id == resting.order_id
    assert [o.order_id for o in await client.open_orders("BTCUSDT")] == [resting.order_id]
    assert (await client.cancel_order("BTCUSDT", order_id=resting.order_id)).status is OrderStatus.CANCELED
    entry = await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, cid("BTCUSDT", 2),
                                                  quantity=Decimal("0.003"), response_type="RESULT"))
    assert entry.status is OrderStatus.FILLED
    [pos] = await client.positions("BTCUSDT")
    assert pos.amount == Decimal("0.003") and pos.margin_type is MarginType.ISOLATED and pos.leverage == 5
    assert pos.liquidation_price < pos.entry_price
    stop_level = (pos.entry_price * Decimal("0.9")).quantize(Decimal("0.01"))
    stop = await client.place_order(OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, cid("BTCUSDT", 2, Role.STOP),
                                                 stop_price=stop_level, close_position=True,
                                                 working_type=WorkingType.MARK_PRICE))
    assert stop.status is OrderStatus.NEW and stop.close_position
    with pytest.raises(OrderWouldTriggerError):
        await client.place_order(OrderRequest("BTCUSDT", Side.SELL, OrderType.TAKE_PROFIT_MARKET,
                                              cid("BTCUSDT", 2, Role.TAKE_PROFIT), stop_price=stop_level,
                                              close_position=True))
    with pytest.raises(ReduceOnlyRejectedError):
        await client.place_order(OrderRequest("ETHUSDT", Side.SELL, OrderType.MARKET, cid("ETHUSDT", 3),
                                              quantity=Decimal("0.01"), reduce_only=True))
    with pytest.raises(UnknownOrderError):
        await client.get_order("BTCUSDT", order_id=99)
    account = await client.account()
    assert account.total_maint_margin > 0 and account.safety_multiple > 1
    trades = await client.user_trades("BTCUSDT")
    assert [t.order_id for t in trades] == [entry.order_id]
    assert await client.commission_rate("BTCUSDT") == (Decimal("0.0002"), Decimal("0.0004"))
    await client.cancel_all("BTCUSDT")
    assert await client.open_orders("BTCUSDT") == []


async def test_user_stream_events(px, client):
    stream = client.user_stream()
    events = []

    async def consume():
        async for event in stream:
            events.append(event)
            if isinstance(event, AccountUpdate):
                return

    task = asyncio.create_task(consume())
    await asyncio.wait_for(_until(lambda: events and isinstance(events[0], StreamResynced)), 10)
    order = await client.place_order(OrderRequest("ETHUSDT", Side.BUY, OrderType.MARKET, cid("ETHUSDT", 4),
                                                  quantity=Decimal("0.02")))
    await asyncio.wait_for(task, 10)
    await stream.close()
    updates = [e for e in events if isinstance(e, OrderUpdate)]
    assert [u.execution_type for u in updates][:2] == [ExecutionType.NEW, ExecutionType.TRADE]
    assert all(u.order.order_id == order.order_id for u in updates)
    assert updates[-1].order.status is OrderStatus.FILLED and updates[-1].commission > 0
    acct = events[-1]
    assert acct.reason == "ORDER" and acct.positions[0].symbol == "ETHUSDT" and acct.positions[0].amount == Decimal("0.02")


async def test_no_double_order_when_the_accepted_orders_answer_is_lost(px, client):
    px.admin("POST", "/faults", lose_order_response=1)
    order = await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, cid("BTCUSDT", 5),
                                                  quantity=Decimal("0.002"), price=Decimal("5000"),
                                                  time_in_force=TimeInForce.GTC))
    assert order.client_order_id == cid("BTCUSDT", 5)
    assert [o.client_order_id for o in await client.open_orders("BTCUSDT")] == [cid("BTCUSDT", 5)]


async def test_client_resyncs_its_clock_after_1021(px, client):
    px.admin("POST", "/faults", clock_skew_ms=20_000)
    balances = await client.balances()                              # -1021 -> resync -> retried once
    assert balances[0].asset == "USDT"
    assert client.status().time_offset_ms > 15_000


async def _until(predicate, poll: float = 0.02) -> None:
    while not predicate():
        await asyncio.sleep(poll)   # polling a condition (bounded by the caller's wait_for deadline)
