"""User-data stream: listenKey lifecycle, parsed events, and a REST resync after every (re)connect.

Lifecycle: POST /fapi/v1/listenKey before each connection (the venue returns
the active key, or a new one), PUT every 30 minutes to keep it alive, DELETE on
close. Socket: `<ws_base>/ws/<listenKey>`.

No gap is silent: after every (re)connect, and after an event that could not
be read, the stream fetches positions and open orders over REST (with the
socket already up and buffering) and yields `StreamResynced` with them before
any further event. If that snapshot cannot be taken, the connection is dropped
and retried rather than letting events through after an unexplained gap.
"""
from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, AsyncIterator, Callable

from mraster.aio import cancel_and_wait
from mraster.domain.types import ListenKeyExpired, OrderUpdate, StreamResynced, UserEvent
from mraster.logs import get_logger
from mraster.exchange.errors import AuthError, BannedError, ExchangeError, RequestError
from mraster.exchange.interface import UserStream
from mraster.exchange.wire import WireError
from mraster.exchange.wire_algo import algo_update
from mraster.exchange.wire_stream import user_event
from mraster.exchange.ws import Opened, Sleep, SocketLoop, StreamOptions

if TYPE_CHECKING:
    from mraster.exchange.client import BinanceCompatibleClient

log = get_logger("mraster.exchange.user_stream")

STREAM_NAME = "userData"
_KEEPALIVE_RETRY_S = 60.0


class UserDataStream(UserStream):
    def __init__(self, client: "BinanceCompatibleClient", ws_base: str, options: StreamOptions, *,
                 clock: Callable[[], float] = time.time, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None):
        self._client = client
        self._ws_base = ws_base
        self._options = options
        self._clock = clock
        self._last_message = clock()
        self._listen_key: str | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._loop = SocketLoop("userData", self._url, options, clock=clock, sleep=sleep, rng=rng)
        self._iterating = False
        self.resyncs = 0

    @property
    def age_s(self) -> float:
        return max(0.0, self._clock() - self._last_message)

    @property
    def connections(self) -> int:
        return self._loop.connections

    def __aiter__(self) -> AsyncIterator[UserEvent]:
        if self._iterating:
            raise RuntimeError("a user stream has one consumer; iterate it once")
        self._iterating = True
        return self._events()

    async def close(self) -> None:
        task, self._keepalive_task = self._keepalive_task, None
        await cancel_and_wait(task)
        await self._loop.close()
        key, self._listen_key = self._listen_key, None
        if key is not None:
            try:
                await self._client.close_listen_key(key)
            except ExchangeError as exc:
                log.warning("userstream.close_key_failed", f"could not close the listenKey: {exc}")
        self._client._forget_stream(self)

    # --------------------------------------------------------------- events
    async def _url(self) -> str:
        self._listen_key = await self._client.create_listen_key()
        return f"{self._ws_base}/ws/{self._listen_key}"

    async def _events(self) -> AsyncIterator[UserEvent]:
        async for item in self._loop.run():
            if isinstance(item, Opened):
                self._last_message = self._clock()
                self._ensure_keepalive()
                resync = await self._resync(item.reason)
                if resync is not None:
                    yield resync
                continue
            self._last_message = self._clock()
            event: UserEvent | None
            try:
                if isinstance(item, dict) and item.get("e") == "ALGO_UPDATE":
                    # reaches the guard as an order event; the client learns the algo id and its child order
                    event, view = algo_update(item)
                    self._client.note_algo_event(view)
                else:
                    event = user_event(item)
                    if isinstance(event, OrderUpdate):
                        event = self._client.adapt_order_event(event)
            except (WireError, KeyError, TypeError, ValueError) as exc:
                log.error("userstream.malformed", f"unreadable user-data event ({exc}); resynchronising over REST",
                          sample=str(item)[:160])
                resync = await self._resync("an unreadable event")
                if resync is not None:
                    yield resync
                continue
            if event is None:
                continue
            yield event
            if isinstance(event, ListenKeyExpired):
                log.warning("userstream.key_expired", "the venue expired our listenKey; reconnecting with a new one")
                await self._loop.reconnect("listenKey expired")

    async def _resync(self, reason: str) -> StreamResynced | None:
        """Snapshot after the socket is up; on failure drop the connection (the loop retries)."""
        try:
            positions, orders = await asyncio.gather(self._client.positions(), self._client.open_orders())
        except ExchangeError as exc:
            log.error("userstream.resync_failed", f"REST snapshot after {reason} failed ({exc}); reconnecting",
                      reason=reason)
            await self._loop.reconnect(f"retrying the snapshot after {reason}", backoff=True)
            return None
        self.resyncs += 1
        log.info("userstream.resynced", f"user stream resynchronised after {reason}: {len(positions)} position(s), "
                 f"{len(orders)} open order(s)", reason=reason, positions=len(positions), open_orders=len(orders))
        return StreamResynced(time=self._client.now_ms(), positions=tuple(positions), open_orders=tuple(orders),
                              reason=reason)

    # ------------------------------------------------------------ keep-alive
    def _ensure_keepalive(self) -> None:
        if self._keepalive_task is None or self._keepalive_task.done():
            self._keepalive_task = asyncio.get_running_loop().create_task(self._keepalive())

    async def _keepalive(self) -> None:
        delay = self._options.keepalive_s
        while not self._loop.closing:
            await self._loop.pause(delay)
            key = self._listen_key
            if self._loop.closing or key is None:
                return
            try:
                await self._client.keepalive_listen_key(key)
                log.debug("userstream.keepalive", "listenKey kept alive")
                delay = self._options.keepalive_s
            except (RequestError, AuthError) as exc:
                log.warning("userstream.keepalive_rejected", f"listenKey keep-alive rejected ({exc}); "
                            "reconnecting with a new key")
                await self._loop.reconnect("listenKey keep-alive rejected")
                delay = self._options.keepalive_s
            except (BannedError, ExchangeError) as exc:
                log.warning("userstream.keepalive_failed", f"listenKey keep-alive failed ({exc}); trying again soon")
                delay = min(self._options.keepalive_s, _KEEPALIVE_RETRY_S)
