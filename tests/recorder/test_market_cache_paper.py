"""The live market cache on the paper exchange (real child process, real WebSockets on loopback): seeded
from REST and kept by the five streams, per-stream staleness, reconnect with re-seeding after the venue
drops every socket, and a clean shutdown (close frames, no 'connection lost' noise)."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest

from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.market_cache import STREAM_KINDS, MarketCache, connection_groups
from paper.testing import PaperExchange
from mraster.exchange.ws import StreamOptions

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


async def until(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_connection_groups_respect_the_venue_limit():
    syms = [f"S{i}USDT" for i in range(45)]
    groups = connection_groups(syms, 200)
    assert [len(g) for g in groups] == [40, 5] and sum(groups, []) == syms
    assert [len(g) for g in connection_groups(syms)] == [20, 20, 5]
    with pytest.raises(ValueError):
        connection_groups(syms, 201)


def test_cache_seeds_streams_reconnects_and_closes_cleanly(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with PaperExchange(tmp_path, symbols=SYMBOLS, seed=4) as px:
        async def main() -> None:
            client = BinanceCompatibleClient(px.url, px.ws_url, px.api_key, px.api_secret,
                                             stream_options=StreamOptions(backoff_s=0.05))
            cache = MarketCache(client, SYMBOLS, streams_per_connection=10)     # 2 symbols per connection
            assert len(cache.groups) == 2
            await cache.start()
            try:
                for s in SYMBOLS:
                    assert len(cache.snapshot(s).recent_agg_trades) > 0            # REST-seeded before streams
                await until(lambda: all(v is not None for a in cache.staleness().values() for v in a.values()),
                            15, "every stream of every symbol")
                snap = cache.snapshot("BTCUSDT")
                assert snap.latest_bbo.bid_price < snap.latest_bbo.ask_price
                assert len(snap.latest_l2.bids) == 5 and len(snap.latest_l2.asks) == 5
                assert snap.latest_funding.next_funding_time > 0 and snap.latest_kline_1m is not None
                venue = client.now_ms()
                assert abs(cache.venue_now_ms() - venue) < 1500
                depth_before = cache.counts["depth5@100ms"]
                await asyncio.sleep(0)
                await until(lambda: cache.counts["depth5@100ms"] >= depth_before + 10, 5, "live depth")
                assert max(a["depth5@100ms"] for a in cache.staleness().values()) < 1.0
                px.admin("POST", "/faults", ws_disconnect=1)
                await until(lambda: len(cache.reconnects) >= 2, 15, "both connections reconnected")
                assert sorted(sum((list(r.symbols) for r in cache.reconnects), [])) == sorted(SYMBOLS)
                n = cache.counts["markPrice@1s"]
                await until(lambda: cache.counts["markPrice@1s"] > n + 3, 10, "streams flowing again")
            finally:
                caplog.clear()
                await cache.close()
                await client.close()
            assert cache.healthy() is False
            dropped = [r for r in caplog.records if getattr(r, "event", "") in ("stream.dropped",
                                                                                 "cache.consumer_failed")]
            assert dropped == []
            assert sum(1 for r in caplog.records if getattr(r, "event", "") == "stream.closed") == 2

        asyncio.run(main())
    assert set(STREAM_KINDS) == {"kline_1m", "bookTicker", "markPrice@1s", "aggTrade", "depth5@100ms"}
