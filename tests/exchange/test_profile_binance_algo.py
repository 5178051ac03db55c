"""The binance-usdm profile: conditional orders through the Algo Service behind the ordinary Exchange
methods, against a local Binance double (real HTTP/WebSocket on 127.0.0.1) that refuses them on the
order endpoint with -4120 as Binance does since 2025-12-09."""
from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from mraster.domain.types import OrderRequest, OrderStatus, OrderType, OrderUpdate, Side, StreamResynced, WorkingType
from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.errors import UnknownOrderError
from mraster.exchange.ws import StreamOptions

from tests.exchange.conftest import Collector, RecordingSleep
from tests.exchange.fake_profiles import FakeBinanceVenue

ALGO = "/fapi/v1/algoOrder"
SL = "mr-BTCUSDT.lq3k2x1a-SL"


def stop(cid: str = SL) -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, cid, quantity=Decimal("0.010"),
                        stop_price=Decimal("58000.00"), reduce_only=True, working_type=WorkingType.MARK_PRICE)


def trailing(cid: str = "mr-BTCUSDT.lq3k2x1a-TR", rate: str = "12") -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.SELL, OrderType.TRAILING_STOP_MARKET, cid, quantity=Decimal("0.010"),
                        activation_price=Decimal("61000"), callback_rate=Decimal(rate), reduce_only=True)


@pytest.fixture
async def bvenue(exchange_info):
    v = FakeBinanceVenue(exchange_info=exchange_info)
    await v.start()
    try:
        yield v
    finally:
        await v.stop()


@pytest.fixture
async def bclient(bvenue):
    clients: list[BinanceCompatibleClient] = []

    def build(**kw) -> BinanceCompatibleClient:
        options = dict(timeout_s=0.4, retries=2, backoff_s=0.01, sleep=RecordingSleep(), rng=random.Random(5),
                       recv_window_ms=5000, profile="binance-usdm",
                       stream_options=StreamOptions(backoff_s=0.02, max_backoff_s=0.1, close_timeout_s=1.0))
        options.update(kw)
        client = BinanceCompatibleClient(bvenue.url, bvenue.ws_url, bvenue.api_key, bvenue.api_secret, **options)
        clients.append(client)
        return client

    yield build
    for c in clients:
        await c.close()


async def test_conditional_orders_go_to_the_algo_service_with_renamed_fields(bvenue, bclient):
    client = bclient()
    order = await client.place_order(stop())
    assert bvenue.count("POST", "/fapi/v1/order") == 0 and bvenue.count("POST", ALGO) == 1
    sent = bvenue.requests("POST", ALGO)[0].params
    assert sent["algoType"] == "CONDITIONAL" and sent["triggerPrice"] == "58000" and sent["clientAlgoId"] == SL
    assert "stopPrice" not in sent and "newClientOrderId" not in sent
    assert order.order_id in bvenue.algos and order.client_order_id == SL
    assert order.type is OrderType.STOP_MARKET and order.status is OrderStatus.NEW
    assert order.stop_price == Decimal("58000.00") and order.reduce_only
    trail = await client.place_order(trailing())
    tsent = bvenue.requests("POST", ALGO)[1].params
    assert tsent["activatePrice"] == "61000" and tsent["callbackRate"] == "12" and trail.price_rate == Decimal("12")
    # ordinary orders still take the order endpoint
    limit = await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "mr-lim-1",
                                                  quantity=Decimal("0.01"), price=Decimal("50000")))
    assert bvenue.count("POST", "/fapi/v1/order") == 1 and limit.order_id in bvenue.orders


async def test_callback_rate_range_follows_the_profile(bclient):
    from mraster.exchange.errors import RequestError
    client = bclient()
    with pytest.raises(RequestError, match="0.1-20"):
        await client.place_order(trailing(rate="25"))


async def test_open_orders_include_algo_orders_and_cancel_dispatches(bvenue, bclient):
    client = bclient()
    placed = await client.place_order(stop())
    await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "mr-lim-1",
                                          quantity=Decimal("0.01"), price=Decimal("50000")))
    open_ = await client.open_orders("BTCUSDT")
    assert {o.client_order_id for o in open_} == {SL, "mr-lim-1"}
    canceled = await client.cancel_order("BTCUSDT", order_id=placed.order_id)     # as the guard cancels
    assert canceled.status is OrderStatus.CANCELED and canceled.client_order_id == SL
    assert bvenue.count("DELETE", ALGO) == 1 and bvenue.count("DELETE", "/fapi/v1/order") == 0
    # a repeated cancel (retry after a lost answer) returns the cancelled order instead of failing
    again = await client.cancel_order("BTCUSDT", client_order_id=SL)
    assert again.status is OrderStatus.CANCELED


async def test_cancel_all_sends_both_cancel_alls(bvenue, bclient):
    client = bclient()
    await client.place_order(stop())
    await client.cancel_all("BTCUSDT")
    assert bvenue.count("DELETE", "/fapi/v1/allOpenOrders") == 1
    assert bvenue.count("DELETE", "/fapi/v1/algoOpenOrders") == 1
    assert not bvenue.open_algos()


async def test_algo_placement_never_doubles_after_a_timeout(bvenue, bclient):
    bvenue.add_fault("POST", ALGO, "accept_hang")
    client = bclient()
    order = await client.place_order(stop())
    assert len(bvenue.algos) == 1 and bvenue.count("POST", ALGO) == 1
    lookups = bvenue.requests("GET", ALGO)
    assert lookups and lookups[0].params["clientAlgoId"] == SL
    assert order.order_id in bvenue.algos


async def test_algo_placement_after_a_5xx_that_was_not_taken_places_once_with_the_same_id(bvenue, bclient):
    bvenue.add_fault("POST", ALGO, "status", status=503, body={"code": -1001, "msg": "Internal error"})
    client = bclient()
    order = await client.place_order(stop())
    posts = bvenue.requests("POST", ALGO)
    assert len(posts) == 2 and {p.params["clientAlgoId"] for p in posts} == {SL}
    assert len(bvenue.algos) == 1 and order.client_order_id == SL


async def test_duplicate_client_algo_id_returns_the_resting_algo_order(bvenue, bclient):
    client = bclient()
    first = await client.place_order(stop())
    second = await client.place_order(stop())
    assert second.order_id == first.order_id and len(bvenue.algos) == 1


async def test_triggered_algo_order_is_followed_to_the_order_it_became(bvenue, bclient):
    client = bclient()
    placed = await client.place_order(stop())
    child = bvenue.trigger(placed.order_id)
    got = await client.get_order("BTCUSDT", client_order_id=SL)
    assert got.order_id == child["orderId"] and got.status is OrderStatus.FILLED
    assert got.client_order_id == SL and got.orig_type is OrderType.STOP_MARKET
    assert got.executed_qty == Decimal("0.010")
    # the finished algo order is no longer open anywhere
    assert [o.client_order_id for o in await client.open_orders("BTCUSDT")] == []


async def test_cancel_of_a_triggered_resting_child_goes_to_the_order_endpoint(bvenue, bclient):
    client = bclient()
    placed = await client.place_order(stop())
    child = bvenue.trigger(placed.order_id, fill=False, child_type="LIMIT")
    open_ = await client.open_orders("BTCUSDT")
    assert [o.order_id for o in open_] == [child["orderId"]]           # no double listing
    await client.get_order("BTCUSDT", order_id=placed.order_id)        # learns the link
    canceled = await client.cancel_order("BTCUSDT", order_id=placed.order_id)
    assert canceled.order_id == child["orderId"] and canceled.status is OrderStatus.CANCELED
    assert bvenue.count("DELETE", "/fapi/v1/order") == 1


async def test_after_a_restart_unknown_ids_are_found_on_the_algo_route(bvenue, bclient):
    placed = await bclient().place_order(stop())
    fresh = bclient()                                   # a new process: knows nothing of algo ids
    got = await fresh.get_order("BTCUSDT", order_id=placed.order_id)
    assert got.client_order_id == SL and got.status is OrderStatus.NEW
    fresh2 = bclient()
    canceled = await fresh2.cancel_order("BTCUSDT", client_order_id=SL)
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(UnknownOrderError):
        await bclient().get_order("BTCUSDT", client_order_id="mr-nothing-SL")


async def test_algo_updates_reach_the_stream_as_order_events(bvenue, bclient):
    client = bclient(sleep=__import__("asyncio").sleep)
    placed = await client.place_order(stop())
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: any(isinstance(e, StreamResynced) for e in ev) and bvenue.live("user"))
    resync = feed.of(StreamResynced)[0]
    assert [o.client_order_id for o in resync.open_orders] == [SL]      # the algo order is in the snapshot
    algo = bvenue.algos[placed.order_id]
    await bvenue.push_user(bvenue.algo_event(algo, "NEW"))
    child = bvenue.trigger(placed.order_id, fill=False, child_type="LIMIT")
    await bvenue.push_user(bvenue.algo_event(algo, "TRIGGERED"))
    await bvenue.push_user(json.dumps({"e": "CONDITIONAL_ORDER_TRIGGER_REJECT", "E": 1, "T": 1,
                                       "or": {"s": "BTCUSDT", "i": 1, "r": "x"}}))   # deprecated: ignored
    await feed.wait_for(lambda ev: len([e for e in ev if isinstance(e, OrderUpdate)]) == 2)
    updates = feed.of(OrderUpdate)
    assert [u.order.order_id for u in updates] == [placed.order_id, placed.order_id]
    assert all(u.order.client_order_id == SL and u.order.type is OrderType.STOP_MARKET for u in updates)
    assert all(u.order.status is OrderStatus.NEW and u.last_filled_qty == 0 for u in updates)
    # the child's own ORDER_TRADE_UPDATE shows the algo's identity even under another client id
    child_event = {"e": "ORDER_TRADE_UPDATE", "E": 2, "T": 2, "o": {
        "s": "BTCUSDT", "c": "x-venue-generated", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "0.010", "p": "58000",
        "ap": "0", "sp": "0", "x": "NEW", "X": "NEW", "i": child["orderId"], "l": "0", "z": "0", "L": "0",
        "T": 2, "t": 0, "R": True, "wt": "MARK_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False, "rp": "0"}}
    await bvenue.push_user(json.dumps(child_event))
    await feed.wait_for(lambda ev: len([e for e in ev if isinstance(e, OrderUpdate)]) == 3)
    child_update = feed.of(OrderUpdate)[2]
    assert child_update.order.order_id == child["orderId"] and child_update.order.client_order_id == SL
    assert child_update.order.orig_type is OrderType.STOP_MARKET
    # the stream taught the client the child: a cancel now goes to the regular order endpoint
    canceled = await client.cancel_order("BTCUSDT", order_id=placed.order_id)
    assert canceled.order_id == child["orderId"] and bvenue.count("DELETE", ALGO) == 0
    await feed.close()


async def test_wrong_profile_on_binance_names_the_fix(bvenue, bclient):
    from mraster.exchange.errors import RequestError
    client = bclient(profile="aster-v1")
    with pytest.raises(RequestError) as err:
        await client.place_order(stop())
    assert err.value.code == -4120 and "ASTER_VENUE_PROFILE=binance-usdm" in str(err.value)
    assert not bvenue.algos and bvenue.count("POST", "/fapi/v1/order") == 1      # refused, never retried


async def test_fills_of_a_triggered_stop_lead_back_to_its_role(bvenue, bclient):
    """The bot reads an exit's reason from the client id of the order behind the closing fill: the child
    order keeps the algo's client id and conditional type, even if the venue named it differently."""
    client = bclient()
    placed = await client.place_order(stop())
    child = bvenue.trigger(placed.order_id)
    child["clientOrderId"], child["origType"] = "x-venue-generated", "MARKET"
    await client.get_order("BTCUSDT", order_id=placed.order_id)            # stream or query taught the link
    by_fill = await client.get_order("BTCUSDT", order_id=child["orderId"])   # as bot/runtime/closing.py asks
    assert by_fill.client_order_id == SL and by_fill.orig_type is OrderType.STOP_MARKET


async def test_a_triggered_algo_in_flight_still_counts_as_working(bvenue, bclient):
    """TRIGGERED with its child not (or no longer) resting: the stop is shown as working, not missing."""
    client = bclient()
    placed = await client.place_order(stop())
    child = bvenue.trigger(placed.order_id, fill=False, child_type="MARKET")
    child["status"] = "FILLED"                       # the market child executed; the algo still says TRIGGERED
    open_ = await client.open_orders("BTCUSDT")
    assert [(o.order_id, o.status) for o in open_] == [(placed.order_id, OrderStatus.NEW)]
