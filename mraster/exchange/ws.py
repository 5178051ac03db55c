"""A WebSocket connection that keeps itself alive: connect, read, reconnect with backoff.

Shared by the market and user-data streams. `SocketLoop.run()` yields an
`Opened` marker after every (re)connect, so the stream can take a REST
snapshot while the socket already buffers new messages, and then every decoded
JSON message. It reconnects on drops (exponential backoff with jitter), makes
a planned reconnect before the venue's 24-hour cut, and `close()` sends a
close frame (code 1000), so shutdown leaves no 1006 "abnormal closure" behind.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from mraster.logs import get_logger
from mraster.exchange.errors import ExchangeError

log = get_logger("mraster.exchange.ws")

Sleep = Callable[[float], Awaitable[Any]]


@dataclass
class StreamOptions:
    backoff_s: float = 0.5                  # first reconnect delay after a drop; doubles, with jitter
    max_backoff_s: float = 30.0
    max_connection_age_s: float = 23.5 * 3600   # the venue cuts connections at 24 h; we go first
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    ping_interval_s: float | None = 20.0    # detects dead TCP connections
    ping_timeout_s: float | None = 20.0
    keepalive_s: float = 30 * 60            # user stream: listenKey keep-alive period
    max_message_bytes: int = 4 * 1024 * 1024
    max_queue: int = 4096                   # frames buffered while the consumer is busy


@dataclass(frozen=True)
class Opened:
    """The socket is (re)connected; `reason` says why this connection exists."""
    reason: str
    connection: int          # 1 for the first connection, then 2, 3, ...


class SocketLoop:
    def __init__(self, name: str, url: Callable[[], Awaitable[str]], options: StreamOptions, *,
                 clock: Callable[[], float] = time.time, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None):
        self.name = name
        self._url = url
        self.options = options
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._ws: ClientConnection | None = None
        self._closing = False
        self._closed_event: asyncio.Event | None = None
        self._planned: str | None = None       # reconnect at once, with this reason
        self._retry: str | None = None         # reconnect after a backoff, with this reason
        self.connections = 0
        self.connected_at: float | None = None

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def run(self) -> AsyncIterator[Opened | Any]:
        failures, reason = 0, "connected"
        loop = asyncio.get_running_loop()
        while not self._closing:
            ws = await self._open()
            if ws is None:
                await self.pause(self._backoff(failures))
                failures += 1
                reason = "reconnected after a failed connect"
                continue
            self.connections += 1
            deadline = loop.time() + self.options.max_connection_age_s
            yield Opened(reason, self.connections)
            got_message, close_code = False, 1000
            try:
                while True:
                    try:
                        async with asyncio.timeout_at(deadline):
                            raw = await ws.recv()
                    except TimeoutError:
                        log.info("stream.planned_reconnect", f"{self.name}: connection reached "
                                 f"{self.options.max_connection_age_s:.0f}s; reconnecting before the venue cuts it",
                                 stream=self.name)
                        self._planned = "planned reconnect before the venue's 24 h limit"
                        await ws.close()
                        break
                    got_message = True
                    try:
                        message = json.loads(raw)
                    except ValueError:
                        log.error("stream.malformed", f"{self.name}: a message that is not JSON was skipped",
                                  stream=self.name, sample=str(raw)[:120])
                        continue
                    yield message
            except ConnectionClosed as exc:
                close_code = exc.rcvd.code if exc.rcvd is not None else 1006
            finally:
                self._ws = None
                if not self._closing and ws.state is not State.CLOSED:
                    await ws.close()
            if self._closing:
                return
            if self._planned is not None:
                reason, self._planned, failures = self._planned, None, 0
                continue
            if self._retry is not None:
                reason, self._retry = self._retry, None
                failures += 1
                await self.pause(self._backoff(failures))
                continue
            failures = 0 if got_message else failures + 1
            delay = self._backoff(failures)
            log.warning("stream.dropped", f"{self.name}: connection lost (code {close_code}); reconnecting in "
                        f"{delay:.2f}s", stream=self.name, code=close_code, delay_s=round(delay, 3))
            reason = "reconnected after a drop"
            await self.pause(delay)

    async def _open(self) -> ClientConnection | None:
        try:
            url = await self._url()
            ws = await connect(url, open_timeout=self.options.open_timeout_s,
                               close_timeout=self.options.close_timeout_s,
                               ping_interval=self.options.ping_interval_s, ping_timeout=self.options.ping_timeout_s,
                               max_size=self.options.max_message_bytes, max_queue=self.options.max_queue,
                               compression=None)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed, ExchangeError) as exc:
            # ExchangeError: e.g. the listenKey could not be created; retried like a failed connect
            log.warning("stream.connect_failed", f"{self.name}: cannot connect ({type(exc).__name__}: {exc})",
                        stream=self.name)
            return None
        if self._closing:
            await ws.close()
            return None
        self._ws = ws
        self.connected_at = self._clock()
        log.info("stream.connected", f"{self.name}: connected", stream=self.name, connection=self.connections + 1)
        return ws

    def _backoff(self, failures: int) -> float:
        base = min(self.options.max_backoff_s, self.options.backoff_s * (2.0 ** failures))
        return base * self._rng.uniform(0.5, 1.0)

    async def reconnect(self, reason: str, *, backoff: bool = False) -> None:
        """Close the current connection cleanly and open a new one: at once, or after a backoff delay
        when the reason is a failure that an immediate retry would likely repeat."""
        ws = self._ws
        if ws is None or self._closing:
            return
        if backoff:
            self._retry = reason
        else:
            self._planned = reason
        await ws.close()

    async def pause(self, delay: float) -> None:
        """Sleep `delay` seconds, or less if the loop is closed meanwhile."""
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
        if self._closing or delay <= 0:
            return
        sleeper = asyncio.ensure_future(self._sleep(delay))
        closer = asyncio.ensure_future(self._closed_event.wait())
        try:
            await asyncio.wait({sleeper, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, closer):
                task.cancel()

    async def close(self) -> None:
        self._closing = True
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
        self._closed_event.set()
        ws = self._ws
        if ws is not None:
            await ws.close(code=1000, reason="client closing")
        log.info("stream.closed", f"{self.name}: closed", stream=self.name)
