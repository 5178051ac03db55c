"""The request core against a real local HTTP server that misbehaves on purpose: retries, 429, 418,
-1021, timeouts, malformed answers, the rate-limit budget, auth failures."""
from __future__ import annotations

import logging

import pytest

from mraster.exchange.errors import (
    AuthError, BannedError, ExecutionUnknownError, InvalidTimestampError, MalformedResponseError, RateLimitedError,
    RetryableError,
)

from tests.exchange.conftest import FakeClock
from tests.exchange.fake_venue import kline_row

KLINES = "/fapi/v1/klines"


def seed_klines(venue, n=5, symbol="BTCUSDT", interval="1m", start=1_600_000_000_000):
    venue.klines[(symbol, interval)] = [kline_row(start + i * 60_000, 100.0 + i) for i in range(n)]


async def test_read_is_retried_after_503(venue, make_client, sleep):
    seed_klines(venue)
    venue.add_fault("GET", KLINES, "status", status=503, body={"code": -1001, "msg": "Internal error"})
    client = make_client()
    rows = await client.klines("BTCUSDT", "1m", limit=5)
    assert [k.close for k in rows] == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert venue.count("GET", KLINES) == 2
    assert len(sleep.delays) == 1 and 0.005 <= sleep.delays[0] <= 0.015     # backoff 0.01 x jitter [0.5, 1.5)


async def test_read_gives_up_after_configured_retries(venue, make_client, sleep):
    venue.add_fault("GET", KLINES, "status", status=502, body={"code": -1000, "msg": "bad gateway"}, times=10)
    client = make_client(retries=3, backoff_s=0.1)
    with pytest.raises(RetryableError) as info:
        await client.fetch_klines("BTCUSDT", "1m")
    assert info.value.status == 502 and info.value.endpoint == "GET /fapi/v1/klines"
    assert venue.count("GET", KLINES) == 4
    # exponential: 0.1, 0.2, 0.4 each scaled by a jitter factor in [0.5, 1.5)
    for n, delay in enumerate(sleep.delays):
        assert 0.1 * 2 ** n * 0.5 <= delay < 0.1 * 2 ** n * 1.5
    assert "502" in client.status().last_error


async def test_timeout_on_read_is_retried(venue, make_client):
    seed_klines(venue)
    venue.add_fault("GET", KLINES, "hang")
    client = make_client(timeout_s=0.2)
    rows = await client.fetch_klines("BTCUSDT", "1m", limit=2)
    assert len(rows) == 2 and venue.count("GET", KLINES) == 2


async def test_429_waits_retry_after_then_retries(venue, make_client, sleep):
    seed_klines(venue)
    venue.add_fault("GET", KLINES, "status", status=429, body={"code": -1003, "msg": "Too many requests"},
                    headers={"Retry-After": "7"})
    client = make_client()
    rows = await client.fetch_klines("BTCUSDT", "1m")
    assert len(rows) == 5
    assert sleep.delays == [pytest.approx(7.0, abs=0.05)]


async def test_429_too_long_to_wait_is_reported(venue, make_client, sleep):
    venue.add_fault("GET", KLINES, "status", status=429, body={"code": -1003, "msg": "Too many requests"},
                    headers={"Retry-After": "600"})
    client = make_client()
    with pytest.raises(RateLimitedError) as info:
        await client.fetch_klines("BTCUSDT", "1m")
    assert info.value.retry_after == 600.0 and sleep.delays == []


async def test_418_bans_every_request_until_it_ends(venue, make_client):
    clock = FakeClock()
    venue.add_fault("GET", "/fapi/v1/depth", "status", status=418,
                    body={"code": -1003, "msg": "Way too many requests; IP banned."}, headers={"Retry-After": "120"})
    client = make_client(clock=clock)
    with pytest.raises(BannedError) as info:
        await client.depth("BTCUSDT")
    until = info.value.until_ms
    assert until == pytest.approx(client.now_ms() + 120_000, abs=50)
    assert client.status().banned_until_ms == until
    before = len(venue.seen)
    for call in (client.depth("BTCUSDT"), client.balances(), client.book_ticker("BTCUSDT")):
        with pytest.raises(BannedError):
            await call
    assert len(venue.seen) == before                    # refused locally, nothing sent
    clock.advance(121)
    assert (await client.depth("BTCUSDT")).last_update_id == 99
    assert client.status().banned_until_ms is None


async def test_418_uses_ban_end_from_message(venue, make_client):
    until = 4_102_444_800_000
    venue.add_fault("GET", "/fapi/v1/depth", "status", status=418,
                    body={"code": -1003, "msg": f"Way too many requests; IP(1.2.3.4) banned until {until}."})
    client = make_client()
    with pytest.raises(BannedError) as info:
        await client.depth("BTCUSDT")
    assert info.value.until_ms == until and client.status().banned_until_ms == until


async def test_minus_1021_resyncs_clock_and_retries_once(venue, make_client, caplog):
    client = make_client()
    await client.balances()                              # first signed call syncs the clock
    assert venue.count("GET", "/fapi/v1/time") == 1
    venue.skew_ms = 90_000                               # the venue clock jumps; our offset is now wrong
    caplog.set_level(logging.INFO)
    balances = await client.balances()
    assert balances[0].available_balance == pytest.approx(900.25)
    assert venue.count("GET", "/fapi/v1/time") == 2
    assert client.status().time_offset_ms == pytest.approx(90_000, abs=500)
    rejected = [s for s in venue.requests("GET", "/fapi/v2/balance")]
    assert len(rejected) == 3                            # ok, -1021, ok after resync
    assert any(r.msg.startswith("venue rejected our timestamp") for r in caplog.records)


async def test_minus_1021_twice_is_reported(venue, make_client):
    client = make_client()
    body = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    venue.add_fault("GET", "/fapi/v2/balance", "status", status=400, body=body, times=2)
    with pytest.raises(InvalidTimestampError) as info:
        await client.balances()
    assert info.value.code == -1021 and venue.count("GET", "/fapi/v2/balance") == 2


async def test_wrong_secret_is_an_auth_error(venue, make_client):
    client = make_client()
    client._core.auth._secret = "not-the-secret"
    with pytest.raises(AuthError) as info:
        await client.positions()
    assert info.value.code == -1022


async def test_missing_keys_raise_before_sending(venue, make_client):
    client = make_client(missing_keys_hint="set ASTER_API_KEY and ASTER_API_SECRET")
    client._core.auth._key = client._core.auth._secret = ""
    before = len(venue.seen)
    with pytest.raises(AuthError, match="ASTER_API_KEY"):
        await client.open_orders()
    assert [s.path for s in venue.seen[before:]] == ["/fapi/v1/time"]    # only the public clock read


@pytest.mark.parametrize("body, field", [
    ('{"lastUpdateId": 5, "bids": [["1.0"]], "asks": []}', "bids"),
    ('{"bids": [], "asks": []}', "lastUpdateId"),
    ("{not json", "not JSON"),
    ('{"lastUpdateId": 5, "bids": [["x", "1"]], "asks": []}', "bids price"),
])
async def test_malformed_answer_names_the_endpoint(venue, make_client, body, field):
    venue.add_fault("GET", "/fapi/v1/depth", "garbage", body=body)
    client = make_client()
    with pytest.raises(MalformedResponseError) as info:
        await client.depth("BTCUSDT")
    assert info.value.endpoint == "GET /fapi/v1/depth"
    assert field in str(info.value)


async def test_used_weight_header_is_read_and_budget_delays(venue, make_client, sleep, caplog):
    """At 0.8 x 2400 = 1920 allowed, a reported 1919 leaves room for one weight-1 call, then the client waits
    for the next minute window instead of provoking a 429."""
    caplog.set_level(logging.INFO)
    venue.used_weight_header = 1919
    clock = FakeClock()
    clock.now = (int(clock.now) // 60 + 1) * 60 + 10.0     # 10 s into a fresh minute (venue skew matches below)
    venue.skew_ms = int((clock.now - __import__("time").time()) * 1000)
    client = make_client(clock=clock)
    await client.book_ticker("BTCUSDT")
    status = client.status()
    assert status.used_weight_1m == 1919 and status.weight_limit_1m == 2400
    await client.book_ticker("BTCUSDT")                     # 1919 + 1 = 1920: still inside the budget
    assert sleep.delays == []
    sleep_calls = []

    async def advancing_sleep(delay):
        sleep_calls.append(delay)
        clock.advance(delay)                                 # the wait moves time into the next window

    client._core._sleep = advancing_sleep
    venue.used_weight_header = None
    await client.book_ticker("BTCUSDT")
    assert len(sleep_calls) == 1 and 49.9 < sleep_calls[0] < 50.2
    assert any(r.msg.startswith("holding GET /fapi/v1/ticker/bookTicker") for r in caplog.records)


async def test_exchange_info_limits_replace_defaults(venue, make_client, exchange_info):
    exchange_info["rateLimits"][0]["limit"] = 1200
    client = make_client()
    rules = await client.symbol_rules()
    assert "BTCUSDT" in rules and client.status().weight_limit_1m == 1200


async def test_order_timeout_is_execution_unknown_at_core_level(venue, make_client):
    """The core never retries a placement itself (orders.py owns that rule)."""
    venue.add_fault("POST", "/fapi/v1/order", "hang")
    client = make_client(timeout_s=0.2)
    with pytest.raises(ExecutionUnknownError):
        await client._core.request("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                              "quantity": "1"}, signed=True, idempotent=False)
    assert venue.count("POST", "/fapi/v1/order") == 1


async def test_unreachable_venue_is_retryable(venue, make_client):
    client = make_client()
    await venue.stop_http()
    with pytest.raises(RetryableError, match="cannot reach"):
        await client.book_ticker("BTCUSDT")


async def test_after_a_429_every_other_request_waits_too(venue, make_client, sleep):
    """Continuing past a 429 is what gets an IP banned: the next request, even another endpoint, waits."""
    from decimal import Decimal

    from mraster.domain.types import OrderRequest, OrderType, Side
    venue.add_fault("POST", "/fapi/v1/order", "status", status=429, body={"code": -1003, "msg": "Too many"},
                    headers={"Retry-After": "4"})
    client = make_client()
    with pytest.raises(RateLimitedError):
        await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, "mr-BTCUSDT.a-EN",
                                              quantity=Decimal("0.01")))
    assert sleep.delays == []
    await client.book_ticker("BTCUSDT")
    assert len(sleep.delays) == 1 and 3.9 < sleep.delays[0] <= 4.0


async def test_a_venue_clock_running_faster_is_followed(venue, make_client):
    """An accelerated paper market: the venue clock runs 10x ours. After two syncs the client predicts it,
    so signed calls stop hitting -1021."""
    clock = FakeClock()
    start = clock.now
    venue.time_source = lambda: start + (clock.now - start) * 10
    client = make_client(clock=clock)
    await client.balances()
    clock.advance(2)                                        # venue: +20 s; a fixed offset is 18 s behind
    await client.balances()                                 # -1021, resync, retry: now the rate is known
    assert venue.count("GET", "/fapi/v1/time") == 2
    assert client._core.clock.rate == pytest.approx(10, rel=0.01)
    for _ in range(3):
        clock.advance(2)
        await client.balances()
    assert venue.count("GET", "/fapi/v1/time") == 2         # no more resyncs
    assert abs(client.now_ms() - venue.now_ms()) < 1_000


def test_venue_clock_ignores_jitter_on_a_real_venue():
    from mraster.exchange.venueclock import VenueClock
    t = [1000.0]
    vc = VenueClock(lambda: t[0])
    assert vc.observe(1000.0, 1000.1, 1_000_050 + 3) == 3          # offset: server - midpoint
    t[0] = 1002.0
    vc.observe(1002.0, 1002.2, 1_002_100 + 60)                       # 57 ms of jitter over 2 s: rate 1.03
    assert vc.rate == 1.0 and vc.offset_ms == 60
