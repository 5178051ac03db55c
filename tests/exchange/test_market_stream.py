"""Market streams over a real local WebSocket server: seeding, reconnect with no lost kline close,
planned reconnect, staleness, clean shutdown."""
from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from mraster.domain.types import BookTickerEvent, DepthEvent, KlineEvent, MarkPriceEvent
from mraster.exchange.errors import RequestError
from mraster.exchange.market_stream import StreamName, stream_names

from tests.exchange.conftest import Collector, FakeClock, wait_until
from tests.exchange.fake_venue import kline_row

KLINE = "btcusdt@kline_1m"
T0 = 1_600_000_000_000            # long closed bars: open times T0, T0 + 1 min, ...


def bar(i: int) -> list:
    return kline_row(T0 + i * 60_000, 100.0 + i)


def kline_message(i: int, closed: bool) -> dict:
    row = bar(i)
    return {"e": "kline", "E": row[6], "s": "BTCUSDT",
            "k": {"t": row[0], "T": row[6], "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2, "o": row[1], "c": row[4],
                  "h": row[2], "l": row[3], "v": row[5], "n": row[8], "x": closed, "q": row[7], "V": row[9],
                  "Q": row[10], "B": "0"}}


def closes(collector: Collector) -> list[int]:
    return [e.kline.open_time for e in collector.of(KlineEvent) if e.kline.closed]


async def test_reconnect_after_drop_loses_no_kline_close_and_delivers_each_once(venue, stream_client, caplog):
    caplog.set_level(logging.INFO)
    venue.klines[("BTCUSDT", "1m")] = [bar(0), bar(1)]
    client = stream_client()
    feed = Collector(client.market_stream([KLINE]))
    await feed.wait_for(lambda ev: len(ev) >= 2 and venue.live("market"), "REST seed and connection")
    assert closes(feed) == [T0, T0 + 60_000]                               # the latest closed bars
    venue.klines[("BTCUSDT", "1m")].append(bar(2))
    await venue.push_market(KLINE, kline_message(2, closed=False))         # still forming: not a close
    await venue.push_market(KLINE, kline_message(2, closed=True))
    await feed.wait_for(lambda ev: len(closes(feed)) == 3)
    # bar 3 closes while the connection is down: the venue has it, the socket never carried it
    venue.klines[("BTCUSDT", "1m")].append(bar(3))
    venue.drop_all()
    await wait_until(lambda: len(venue.ws_paths) == 2 and venue.live("market"), what="reconnected")
    assert venue.ws_paths[1] == venue.ws_paths[0] == f"/stream?streams={KLINE}"      # resubscribed
    await feed.wait_for(lambda ev: len(closes(feed)) == 4, "gap filled over REST")
    venue.klines[("BTCUSDT", "1m")].append(bar(4))
    await venue.push_market(KLINE, kline_message(3, closed=True))           # a repeat of what REST gave
    await venue.push_market(KLINE, kline_message(4, closed=True))
    await venue.push_market(KLINE, kline_message(5, closed=True))
    await feed.wait_for(lambda ev: T0 + 5 * 60_000 in closes(feed))
    assert closes(feed) == [T0 + i * 60_000 for i in range(6)]             # every close once, in order
    gap_fill = venue.requests("GET", "/fapi/v1/klines")[-1].params
    assert gap_fill["startTime"] == str(T0 + 2 * 60_000 + 1)
    assert any(getattr(r, "event", "") == "stream.dropped" for r in caplog.records)
    await feed.close()


async def test_long_outage_is_filled_page_by_page(venue, stream_client):
    venue.klines[("BTCUSDT", "1m")] = [bar(0), bar(1)]
    client = stream_client()
    feed = Collector(client.market_stream([KLINE]))
    await feed.wait_for(lambda ev: len(closes(feed)) == 2 and venue.live("market"))
    venue.klines[("BTCUSDT", "1m")] += [bar(i) for i in range(2, 1602)]   # 1600 bars: more than one page
    venue.drop_all()
    await feed.wait_for(lambda ev: len(closes(feed)) == 1602, "all missed bars")
    assert closes(feed) == [T0 + i * 60_000 for i in range(1602)]
    pages = [r.params for r in venue.requests("GET", "/fapi/v1/klines")[1:]]
    assert [p["startTime"] for p in pages] == [str(T0 + 60_000 + 1), str(T0 + 1501 * 60_000 + 1)]
    await feed.close()


def agg(i: int) -> dict:
    return {"a": 500 + i, "p": f"{100 + i}.5", "q": "0.2", "f": 10 * i, "l": 10 * i + 1, "T": T0 + i * 1000,
            "m": i % 2 == 0}


async def test_agg_trades_missed_while_down_come_from_rest_once(venue, stream_client):
    stream = "btcusdt@aggTrade"
    client = stream_client()
    feed = Collector(client.market_stream([stream]))
    await wait_until(lambda: venue.live("market"))
    venue.agg_trades["BTCUSDT"] = [agg(0), agg(1)]
    for i in (0, 1):
        await venue.push_market(stream, {"e": "aggTrade", "E": T0, "s": "BTCUSDT", **agg(i)})
    await feed.wait_for(lambda ev: len(ev) == 2)
    venue.agg_trades["BTCUSDT"] += [agg(2), agg(3)]                        # traded while disconnected
    venue.drop_all()
    await feed.wait_for(lambda ev: len(ev) == 4, "gap filled")
    await venue.push_market(stream, {"e": "aggTrade", "E": T0, "s": "BTCUSDT", **agg(3)})   # repeat
    await venue.push_market(stream, {"e": "aggTrade", "E": T0, "s": "BTCUSDT", **agg(4)})
    await feed.wait_for(lambda ev: len(ev) == 5)
    assert [e.trade.agg_id for e in feed.events] == [500, 501, 502, 503, 504]
    assert feed.events[2].trade.price == 102.5 and feed.events[2].trade.buyer_is_maker is True
    assert venue.requests("GET", "/fapi/v1/aggTrades")[-1].params["startTime"] == str(T0 + 1000)
    await feed.close()


async def test_failed_gap_fill_is_reported_and_the_stream_goes_on(venue, stream_client, caplog):
    caplog.set_level(logging.INFO)
    venue.klines[("BTCUSDT", "1m")] = [bar(0), bar(1)]
    client = stream_client()
    feed = Collector(client.market_stream([KLINE]))
    await feed.wait_for(lambda ev: len(closes(feed)) == 2 and venue.live("market"))
    await venue.stop_http()                                                # REST gone, WebSocket still up
    venue.drop_all()
    await wait_until(lambda: any(getattr(r, "event", "") == "stream.seed_failed" for r in caplog.records),
                     what="seed failure reported")
    failure = next(r for r in caplog.records if getattr(r, "event", "") == "stream.seed_failed")
    assert failure.levelname == "ERROR" and "may be missing" in failure.getMessage()
    await wait_until(lambda: venue.live("market"))
    await venue.push_market(KLINE, kline_message(5, closed=True))
    await feed.wait_for(lambda ev: T0 + 5 * 60_000 in closes(feed))
    await feed.close()


async def test_seeding_of_book_mark_and_depth(venue, stream_client):
    client = stream_client()
    names = stream_names(["BTCUSDT"], ["bookTicker", "markPrice@1s", "depth5@100ms"])
    feed = Collector(client.market_stream(names))
    await feed.wait_for(lambda ev: len(ev) == 3 and venue.live("market"))
    assert {type(e) for e in feed.events} == {BookTickerEvent, MarkPriceEvent, DepthEvent}
    depth = feed.of(DepthEvent)[0]
    assert depth.final_update_id == 99 and depth.bids[0] == (100.0, 1.0)
    await venue.push_market("btcusdt@bookTicker", {"e": "bookTicker", "u": 8, "s": "BTCUSDT", "b": "101", "B": "1",
                                                   "a": "101.5", "A": "2", "T": 1, "E": 2})
    await feed.wait_for(lambda ev: len(ev) == 4)
    assert feed.events[-1].ticker.bid_price == 101.0
    await feed.close()


async def test_malformed_message_is_skipped_and_logged(venue, stream_client, caplog):
    caplog.set_level(logging.INFO)
    client = stream_client()
    feed = Collector(client.market_stream(["btcusdt@bookTicker"]))
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("market"))
    await venue.push_market("btcusdt@bookTicker", {"e": "bookTicker", "s": "BTCUSDT", "b": "oops"})
    await venue.push_market("btcusdt@bookTicker", {"e": "bookTicker", "u": 8, "s": "BTCUSDT", "b": "101", "B": "1",
                                                   "a": "101.5", "A": "2", "T": 1, "E": 2})
    await feed.wait_for(lambda ev: len(ev) == 2)
    bad = [r for r in caplog.records if getattr(r, "event", "") == "stream.malformed"]
    assert len(bad) == 1 and "btcusdt@bookTicker" in bad[0].getMessage()
    await feed.close()


async def test_staleness_per_stream(venue, stream_client):
    clock = FakeClock()
    client = stream_client()
    client._clock = clock
    stream = client.market_stream(["btcusdt@bookTicker", "ethusdt@bookTicker"])
    stream._clock = clock
    stream._last_message = {n: clock() for n in stream.names}
    feed = Collector(stream)
    await feed.wait_for(lambda ev: len(ev) == 2 and venue.live("market"))     # the two REST seeds
    clock.advance(30)
    await venue.push_market("btcusdt@bookTicker", {"e": "bookTicker", "u": 9, "s": "BTCUSDT", "b": "1", "B": "1",
                                                   "a": "2", "A": "1", "T": 1, "E": 1})
    await feed.wait_for(lambda ev: len(ev) == 3)
    clock.advance(5)
    assert stream.staleness() == {"btcusdt@bookTicker": 5.0, "ethusdt@bookTicker": 35.0}
    assert client.status().stale_streams == {"btcusdt@bookTicker": 5.0, "ethusdt@bookTicker": 35.0}
    await feed.close()
    assert client.status().stale_streams == {}


async def test_planned_reconnect_before_the_age_limit(venue, stream_client, caplog):
    caplog.set_level(logging.INFO)
    venue.klines[("BTCUSDT", "1m")] = [bar(0), bar(1)]
    client = stream_client(max_connection_age_s=0.3)
    feed = Collector(client.market_stream([KLINE]))
    await feed.wait_for(lambda ev: len(closes(feed)) == 2)
    venue.klines[("BTCUSDT", "1m")].append(bar(2))                       # closes while we switch connections
    await wait_until(lambda: len(venue.ws_paths) >= 2, what="planned reconnect")
    assert venue.ws_close_codes[0] == 1000                                # we closed it cleanly, not a drop
    await feed.wait_for(lambda ev: len(closes(feed)) == 3, "bar closed during the switch")
    assert closes(feed) == [T0, T0 + 60_000, T0 + 120_000]
    assert any(getattr(r, "event", "") == "stream.planned_reconnect" for r in caplog.records)
    assert not any(getattr(r, "event", "") == "stream.dropped" for r in caplog.records)
    await feed.close()


async def test_clean_close_sends_1000_and_logs_no_drop(venue, stream_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = stream_client()
    feed = Collector(client.market_stream(["btcusdt@bookTicker"]))
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("market"))   # consumer now waits in recv
    await feed.close()                                                      # iteration ends, no exception
    await wait_until(lambda: venue.ws_close_codes == [1000], what="server saw close code 1000")
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]


async def test_client_close_closes_its_streams(venue, stream_client):
    client = stream_client()
    feed = Collector(client.market_stream(["btcusdt@bookTicker"]))
    await feed.wait_for(lambda ev: len(ev) == 1 and venue.live("market"))
    await client.close()
    await asyncio.wait_for(feed.task, 5)
    await wait_until(lambda: venue.ws_close_codes == [1000])


async def test_reconnect_backoff_while_server_refuses(venue, stream_client, caplog):
    caplog.set_level(logging.INFO)
    client = stream_client(backoff_s=0.01, max_backoff_s=0.05)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    client.ws_base = f"ws://127.0.0.1:{probe.getsockname()[1]}"            # bound, never listening: refused
    feed = Collector(client.market_stream(["btcusdt@bookTicker"]))
    started = time.monotonic()
    await wait_until(lambda: sum(getattr(r, "event", "") == "stream.connect_failed" for r in caplog.records) >= 3)
    assert time.monotonic() - started < 5 and feed.events == []
    await feed.close()
    probe.close()


def test_stream_names():
    assert StreamName.parse("BTCUSDT@kline_1M") == StreamName("btcusdt@kline_1M", "BTCUSDT", "kline", "1M")
    assert StreamName.parse("ethusdt@depth5@100ms").depth_levels == 5
    assert StreamName.parse("ethusdt@markPrice@1s").kind == "markPrice"
    for bad in ("btcusdt", "@bookTicker", "btc-usdt@aggTrade"):
        with pytest.raises(RequestError):
            StreamName.parse(bad)
