"""Kline cache: fresh hits save requests; when the venue is down the last copy is served, marked stale."""
from __future__ import annotations

import json
import logging

import pytest

from mraster.exchange.errors import RequestError, RetryableError

from tests.exchange.conftest import FakeClock
from tests.exchange.fake_venue import kline_row

KLINES = "/fapi/v1/klines"


@pytest.fixture
def clock():
    return FakeClock()


def add_bars(venue, clock, n=4):
    """n closed one-minute bars ending just before the clock's current minute, then the open bar."""
    current = int(clock.now * 1000) // 60_000 * 60_000
    venue.klines[("ETHUSDT", "1m")] = [kline_row(current - (n - i) * 60_000, 2000.0 + i) for i in range(n + 1)]


async def test_fresh_cache_saves_requests_then_expires(venue, make_client, clock):
    add_bars(venue, clock)
    client = make_client(clock=clock, kline_cache_s=45)
    first = await client.klines("ETHUSDT", "1m", limit=5)
    clock.advance(30)
    again = await client.klines("ETHUSDT", "1m", limit=5)
    assert [k.close for k in again] == [k.close for k in first] and venue.count("GET", KLINES) == 1
    assert client.klines_status("ETHUSDT", "1m").stale is False
    await client.klines("ETHUSDT", "1m", limit=10)           # another question is asked again
    assert venue.count("GET", KLINES) == 2
    clock.advance(16)
    await client.klines("ETHUSDT", "1m", limit=5)             # 46 s old: expired
    assert venue.count("GET", KLINES) == 3


async def test_venue_down_serves_stale_copy_with_age_and_logs(venue, make_client, clock, caplog):
    add_bars(venue, clock)
    client = make_client(clock=clock, kline_cache_s=45)
    fresh = await client.klines("ETHUSDT", "1m", limit=5)
    assert fresh[-1].closed is False
    await venue.stop_http()
    clock.advance(100)                                        # past the lifetime, and the open bar has closed
    caplog.set_level(logging.INFO)
    stale = await client.klines("ETHUSDT", "1m", limit=5)
    assert [k.open_time for k in stale] == [k.open_time for k in fresh]
    assert stale[-1].closed is True                           # closed flag follows the clock, not the fetch
    status = client.klines_status("ETHUSDT", "1m")
    assert status.stale and status.age_s == pytest.approx(100, abs=0.01)
    assert client.status().stale_klines == {"ETHUSDT 1m": 100.0}
    lines = [r for r in caplog.records if getattr(r, "event", "") == "klines.stale"]
    assert len(lines) == 1 and lines[0].age_s == pytest.approx(100, abs=0.1) and lines[0].levelname == "WARNING"


async def test_smaller_request_is_served_from_a_larger_stale_copy(venue, make_client, clock):
    add_bars(venue, clock, n=9)
    client = make_client(clock=clock)
    full = await client.klines("ETHUSDT", "1m", limit=10)
    await venue.stop_http()
    clock.advance(60)
    tail = await client.klines("ETHUSDT", "1m", limit=3)
    assert [(k.open_time, k.close) for k in tail] == [(k.open_time, k.close) for k in full[-3:]]
    assert client.klines_status("ETHUSDT", "1m").stale and venue.count("GET", KLINES) == 1


async def test_no_copy_and_venue_down_raises(venue, make_client, clock):
    client = make_client(clock=clock)
    await venue.stop_http()
    with pytest.raises(RetryableError):
        await client.klines("ETHUSDT", "1m")
    assert client.klines_status("ETHUSDT", "1m") is None


async def test_request_errors_are_not_hidden_by_the_cache(venue, make_client, clock):
    add_bars(venue, clock)
    client = make_client(clock=clock, kline_cache_s=0)
    await client.klines("ETHUSDT", "1m", limit=5)
    venue.add_fault("GET", KLINES, "status", status=400, body={"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(RequestError):
        await client.klines("ETHUSDT", "1m", limit=5)


async def test_recovery_clears_the_stale_mark(venue, make_client, clock):
    add_bars(venue, clock)
    client = make_client(clock=clock, kline_cache_s=1)
    await client.klines("ETHUSDT", "1m", limit=5)
    venue.add_fault("GET", KLINES, "status", status=503, body={"code": -1001, "msg": "down"}, times=3)
    clock.advance(5)
    await client.klines("ETHUSDT", "1m", limit=5)
    assert client.klines_status("ETHUSDT", "1m").stale
    clock.advance(5)
    await client.klines("ETHUSDT", "1m", limit=5)
    assert client.klines_status("ETHUSDT", "1m").stale is False and client.status().stale_klines == {}
    assert json.dumps(client.status().stale_klines) == "{}"
