"""User-data stream over a real local WebSocket server: listenKey lifecycle, events, and a REST resync
after every (re)connect so no gap is silent."""
from __future__ import annotations

import logging
from decimal import Decimal

from mraster.domain.types import AccountUpdate, ListenKeyExpired, OrderUpdate, StreamResynced

from tests.exchange.conftest import Collector, wait_until
from tests.exchange.test_wire import ACCOUNT_UPDATE, ORDER_TRADE_UPDATE

POSITION = {"symbol": "BTCUSDT", "positionAmt": "0.010", "entryPrice": "30000", "markPrice": "30010", "leverage": "3",
            "marginType": "isolated", "isolatedMargin": "100", "unRealizedProfit": "0.1", "liquidationPrice": "1",
            "positionSide": "BOTH", "updateTime": 1}


async def test_connect_resync_events_and_close(venue, stream_client):
    venue.positions = [POSITION]
    venue.add_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", clientOrderId="mr-BTCUSDT.a-SL", origQty="0",
                    stopPrice="29000", closePosition=True)
    client = stream_client()
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("user"))
    first = feed.events[0]
    assert isinstance(first, StreamResynced) and first.reason == "connected"
    assert [p.symbol for p in first.positions] == ["BTCUSDT"] and first.positions[0].amount == Decimal("0.010")
    assert [o.client_order_id for o in first.open_orders] == ["mr-BTCUSDT.a-SL"]
    key = venue.listen_key
    assert venue.ws_paths == [f"/ws/{key}"] and venue.count("POST", "/fapi/v1/listenKey") == 1
    await venue.push_user(ORDER_TRADE_UPDATE)
    await venue.push_user(ACCOUNT_UPDATE)
    await feed.wait_for(lambda ev: len(ev) == 3)
    assert isinstance(feed.events[1], OrderUpdate) and isinstance(feed.events[2], AccountUpdate)
    assert feed.events[1].order.client_order_id == "mr-BTCUSDT.lq3k2x1a-SL"
    await feed.close()
    assert venue.closed_keys == [key]                                     # DELETE listenKey
    await wait_until(lambda: venue.ws_close_codes == [1000])


async def test_keepalive_every_period(venue, stream_client):
    client = stream_client(keepalive_s=0.05)
    stream = client.user_stream()
    feed = Collector(stream)
    await wait_until(lambda: len(venue.keepalives) >= 3, what="three keep-alives")
    assert set(venue.keepalives) == {venue.listen_key}
    assert all(r.params == {"listenKey": venue.listen_key} for r in venue.requests("PUT", "/fapi/v1/listenKey"))
    keepalive = stream._keepalive_task
    await feed.close()
    assert keepalive.done() and stream._keepalive_task is None             # no keep-alive outlives the stream


async def test_drop_reconnects_and_resyncs_before_further_events(venue, stream_client, caplog):
    caplog.set_level(logging.INFO)
    client = stream_client()
    stream = client.user_stream()
    feed = Collector(stream)
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("user"))
    venue.positions = [POSITION]                                           # changed while we were away
    venue.drop_all()
    await wait_until(lambda: len(venue.ws_paths) == 2 and venue.live("user"), what="reconnected")
    await feed.wait_for(lambda ev: len(feed.of(StreamResynced)) == 2)
    await venue.push_user(ORDER_TRADE_UPDATE)
    await feed.wait_for(lambda ev: len(ev) == 3)
    second = feed.events[1]
    assert isinstance(second, StreamResynced) and second.reason == "reconnected after a drop"
    assert [p.symbol for p in second.positions] == ["BTCUSDT"]
    assert isinstance(feed.events[2], OrderUpdate)
    assert stream.age_s < 5 and "userData" in client.status().stale_streams
    await feed.close()


async def test_listen_key_expiry_reconnects_with_a_new_key(venue, stream_client):
    client = stream_client()
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("user"))
    old = venue.listen_key
    venue.listen_key = None                                                # the venue forgot it
    await venue.push_user({"e": "listenKeyExpired", "E": 5})
    await wait_until(lambda: len(venue.ws_paths) == 2, what="reconnect with a new key")
    await feed.wait_for(lambda ev: len(feed.of(StreamResynced)) == 2)
    assert venue.listen_key != old and venue.ws_paths[1] == f"/ws/{venue.listen_key}"
    assert isinstance(feed.events[1], ListenKeyExpired)
    assert feed.events[2].reason == "listenKey expired"
    await feed.close()


async def test_rejected_keepalive_reconnects_with_a_new_key(venue, stream_client):
    client = stream_client(keepalive_s=0.05)
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("user"))
    venue.listen_key = None                                                # PUT now answers -1125
    await wait_until(lambda: len(venue.ws_paths) == 2, what="reconnect after -1125")
    await feed.wait_for(lambda ev: len(feed.of(StreamResynced)) == 2)
    assert feed.events[-1].reason == "listenKey keep-alive rejected"
    await feed.close()


async def test_unreadable_event_triggers_a_resync(venue, stream_client):
    client = stream_client()
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("user"))
    broken = {"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {"s": "BTCUSDT"}}
    await venue.push_user(broken)
    await feed.wait_for(lambda ev: len(ev) == 2)
    assert isinstance(feed.events[1], StreamResynced) and feed.events[1].reason == "an unreadable event"
    await feed.close()


async def test_failed_snapshot_is_never_followed_by_events(venue, stream_client):
    """If positions cannot be read after a connect, nothing is delivered until a resync succeeds."""
    venue.add_fault("GET", "/fapi/v2/positionRisk", "status", status=400, body={"code": -1000, "msg": "x"}, times=3)
    client = stream_client()
    feed = Collector(client.user_stream())
    await wait_until(lambda: len(venue.ws_paths) >= 2, what="retry after the failed snapshot")
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("user"))
    await venue.push_user(ORDER_TRADE_UPDATE)
    await feed.wait_for(lambda ev: len(ev) == 2)
    assert isinstance(feed.events[0], StreamResynced) and isinstance(feed.events[1], OrderUpdate)
    assert feed.events[0].reason.startswith("retrying the snapshot")
    await feed.close()
