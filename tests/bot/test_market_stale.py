"""Staleness as the cycle sees it, through the real exchange client over HTTP (the fake venue of
tests/exchange on 127.0.0.1): candles the client serves from its cache while the venue is down, and a
venue whose newest bar lags, both make `MarketData.stale_symbols` block the symbol, with the age."""
from __future__ import annotations

import pytest

from bot.runtime.market import MarketData, staleness

from tests.exchange.conftest import FakeClock, exchange_info, make_client, sleep, venue  # noqa: F401
from tests.exchange.fake_venue import kline_row

MIN = 60_000


@pytest.fixture
def clock():
    return FakeClock()


def bars(venue, clock, n=30, lag_min=0):  # noqa: F811
    current = int(clock.now * 1000) // MIN * MIN - lag_min * MIN
    venue.klines[("ETHUSDT", "1m")] = [kline_row(current - (n - i) * MIN, 2000.0 + i) for i in range(n + 1)]


async def test_candles_served_from_the_cache_while_the_venue_is_down_block_the_symbol(venue, make_client,  # noqa: F811
                                                                                       clock):
    bars(venue, clock)
    client = make_client(clock=clock, kline_cache_s=45)
    md = MarketData(client)
    now = client.now_ms()
    await md.candles.closed("ETHUSDT", "1m", 20, now)
    assert md.stale_symbols(["ETHUSDT"], ["1m"], now, 90) == {}
    await venue.stop_http()
    clock.advance(70)                                   # a new bar is due: the store asks, the client serves its cache
    now = client.now_ms()
    await md.candles.closed("ETHUSDT", "1m", 20, now)
    why = md.stale_symbols(["ETHUSDT"], ["1m"], now, 90)["ETHUSDT"]
    assert "served from the cache, 70 s old" in why


async def test_a_venue_whose_newest_bar_lags_blocks_the_symbol_with_the_age(venue, make_client, clock):  # noqa: F811
    bars(venue, clock, lag_min=5)                        # the venue's candles stopped five minutes ago
    client = make_client(clock=clock, kline_cache_s=0)
    md = MarketData(client)
    now = client.now_ms()
    await md.candles.closed("ETHUSDT", "1m", 20, now)
    why = md.stale_symbols(["ETHUSDT"], ["1m"], now, 90)["ETHUSDT"]
    age_s = (now - md.candles.bars("ETHUSDT", "1m")[-1].close_time) / 1000
    assert age_s > 150 and f"bar is {age_s:.0f} s old (limit 150 s)" in why


def test_the_newest_bar_may_be_one_interval_plus_the_grace_old():
    from mraster.domain.types import Kline
    k = Kline(0, 1.0, 1.0, 1.0, 1.0, 1.0, 299_999)
    assert staleness([k], "5m", 299_999 + 300_000 + 90_000, 90_000) is None
    assert "391 s old" in staleness([k], "5m", 299_999 + 300_000 + 91_000, 90_000)
    assert staleness([], "5m", 10 ** 9, 0) is None
