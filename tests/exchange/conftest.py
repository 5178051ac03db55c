"""Fixtures of the exchange-client tests: a fault-injecting fake venue, clients wired to it, and
injected sleep/clock parts so timing-dependent behaviour is asserted without waiting."""
from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.ws import StreamOptions

from tests.exchange.fake_venue import FakeVenue

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


class RecordingSleep:
    """Records every requested delay and only yields to the loop, so backoff and Retry-After waits
    are asserted exactly without slowing the tests."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


class FakeClock:
    """Wall clock the test moves by hand; starts at the real time so the venue accepts timestamps."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll `condition` until it holds (no fixed sleeps as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def next_event(iterator: Any, timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(iterator.__anext__(), timeout)


class Collector:
    """Consumes a stream in a background task, as bot and guard do, keeping every event in `events`."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.events: list[Any] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for event in self.stream:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, condition: Callable[[list[Any]], bool], what: str = "events",
                       timeout: float = 5.0) -> None:
        await wait_until(lambda: self.task.done() or condition(self.events), timeout, what)
        if self.task.done() and self.task.exception() is not None:
            raise self.task.exception()

    async def close(self) -> None:
        await self.stream.close()
        await asyncio.wait_for(self.task, 5)


@pytest.fixture
def exchange_info() -> dict[str, Any]:
    return load_json("exchangeInfo_binance-um_2021-07_subset.json")


@pytest.fixture
async def venue(exchange_info: dict[str, Any]):
    v = FakeVenue(exchange_info=exchange_info)
    await v.start()
    try:
        yield v
    finally:
        await v.stop()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def make_client(venue: FakeVenue, sleep: RecordingSleep):
    """`make_client(**overrides)`: a client on the fake venue with a short timeout, recorded sleeps and a
    seeded jitter RNG; closed after the test."""
    clients: list[BinanceCompatibleClient] = []

    def build(**overrides: Any) -> BinanceCompatibleClient:
        options: dict[str, Any] = dict(timeout_s=0.5, retries=2, backoff_s=0.01, kline_cache_s=45.0,
                                       sleep=sleep, rng=random.Random(7), recv_window_ms=5000,
                                       stream_options=StreamOptions(backoff_s=0.02, max_backoff_s=0.1,
                                                                    close_timeout_s=1.0))
        options.update(overrides)
        client = BinanceCompatibleClient(venue.url, venue.ws_url, venue.api_key, venue.api_secret, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.close()


@pytest.fixture
def stream_client(make_client):
    """Streams use real sleeps with a short backoff: their reconnect loop must really wait."""
    def build(**options: Any) -> BinanceCompatibleClient:
        opts: dict[str, Any] = dict(backoff_s=0.02, max_backoff_s=0.1, close_timeout_s=1.0)
        opts.update(options)
        return make_client(sleep=asyncio.sleep, stream_options=StreamOptions(**opts))
    return build
