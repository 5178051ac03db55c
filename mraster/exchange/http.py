"""The REST request core: signing, retries, error mapping, rate-limit budget, ban state, clock offset.

One `HttpCore` per client. `request()` sends one logical call and returns the
decoded JSON, or raises an error of `mraster.exchange.errors`:

* idempotent calls (reads, cancels, settings) are retried on `RetryableError`
  up to `retries` more times, with exponential backoff and jitter; a 429 waits
  `Retry-After` when the venue sends it;
* non-idempotent calls (order placement) are never retried here: the caller
  owns the look-up-before-retry rule (see `orders.py`);
* `-1021` resynchronises the clock offset and retries a signed call once;
* after a 418 every request is refused locally until the ban ends.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Awaitable, Callable, Iterable

import httpx

from mraster.domain.rules import fmt
from mraster.logs import get_logger
from mraster.exchange.auth import MISSING_KEYS_HINT, Auth, HmacAuth
from mraster.exchange.errors import (
    AuthError, BannedError, ExchangeError, ExecutionUnknownError, InvalidTimestampError, MalformedResponseError,
    RateLimitedError, RequestError, RetryableError, error_from_response,
)
from mraster.exchange.profiles import TIME, VenueProfile, get_profile
from mraster.exchange.ratelimit import RateBudget, request_weight
from mraster.exchange.signing import Params
from mraster.exchange.venueclock import VenueClock

log = get_logger("mraster.exchange.http")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]
ParamsIn = Mapping[str, Any] | Iterable[tuple[str, Any]] | None

_BAN_UNTIL_RE = re.compile(r"banned until (\d{12,14})")
_SIGNATURE_RE = re.compile(r"signature=(?:0[xX])?[0-9a-fA-F]+")     # HMAC hex or V3 0x-hex
ALGO_ONLY = -4120          # Binance: conditional order types only through /fapi/v1/algoOrder
NONCE_REJECTED = -4225     # Aster V3 "Nonce Expired": refused before execution, safe to re-sign and resend


class _HideSignatures(logging.Filter):
    """httpx logs request URLs at INFO; a signed URL's signature must not reach any log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            text = record.getMessage()
            if "signature=" in text:
                record.msg, record.args = _SIGNATURE_RE.sub("signature=***", text), None
        return True


logging.getLogger("httpx").addFilter(_HideSignatures())


@dataclass
class RetryPolicy:
    """`retries` extra attempts; the n-th wait is backoff * 2**n scaled by a jitter factor in [0.5, 1.5)."""
    retries: int = 2
    backoff_s: float = 0.6
    max_delay_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.max_delay_s, self.backoff_s * (2.0 ** attempt) * rng.uniform(0.5, 1.5))


@dataclass
class Reply:
    data: Any
    sent_s: float
    received_s: float


def wire_value(value: Any) -> str:
    """How one parameter value goes on the wire: Decimals as plain text, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, float):
        return fmt(Decimal(repr(value)))
    return str(value)


def wire_params(params: ParamsIn) -> Params:
    items = params.items() if isinstance(params, Mapping) else (params or ())
    return [(k, wire_value(v)) for k, v in items if v is not None]


class HttpCore:
    def __init__(self, base_url: str, api_key: str = "", api_secret: str = "", *, recv_window_ms: int | None = 10_000,
                 timeout_s: float = 20.0, retry: RetryPolicy | None = None, rate_limit_share: float = 0.8,
                 transport: httpx.AsyncBaseTransport | None = None, clock: Clock = time.time,
                 sleep: Sleep = asyncio.sleep, rng: random.Random | None = None,
                 missing_keys_hint: str = MISSING_KEYS_HINT, auth: Auth | None = None,
                 profile: VenueProfile | None = None):
        self.base_url = base_url.rstrip("/")
        self.profile = profile or get_profile(None)
        self.auth: Auth = auth or HmacAuth(api_key, api_secret, recv_window_ms=recv_window_ms,
                                           missing_hint=missing_keys_hint)
        self._order_paths = self.profile.order_paths()
        self.retry = retry or RetryPolicy()
        self.budget = RateBudget(rate_limit_share)
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                       timeout=httpx.Timeout(timeout_s), headers={"User-Agent": "mraster"})
        self.clock = VenueClock(clock)
        self.banned_until_ms: int | None = None
        self.cooldown_until_ms = 0      # after a 429 every request waits, so the IP is not banned next
        self.last_error = ""
        self._time_sync_tried = False
        if hasattr(self.auth, "bind_clock"):
            self.auth.bind_clock(self.now_us)

    # ---------------------------------------------------------------- time
    def now_ms(self) -> int:
        return self.clock.now_ms()

    def now_us(self) -> int:
        """The venue's clock in microseconds (V3 nonces): local microseconds + measured offset."""
        return int(self._clock() * 1_000_000) + self.clock.offset_ms * 1000

    @property
    def offset_ms(self) -> int:
        return self.clock.offset_ms

    async def sync_time(self) -> int:
        """offset = server time - midpoint of our send and receive (one attempt measured at a time)."""
        self._time_sync_tried = True
        path = self.profile.path(TIME)
        reply = await self._with_retries("GET", path, [], signed=False, api_key=False, idempotent=True)
        server = reply.data.get("serverTime") if isinstance(reply.data, dict) else None
        if not isinstance(server, (int, str)) or not str(server).isdigit():
            raise MalformedResponseError(f"no serverTime in {str(reply.data)[:120]!r}", endpoint=f"GET {path}")
        offset = self.clock.observe(reply.sent_s, reply.received_s, int(server))
        log.info("time.synced", f"venue clock offset {offset} ms" +
                 (f", running at {self.clock.rate:.2f}x our clock" if self.clock.rate != 1.0 else ""),
                 offset_ms=offset, rate=round(self.clock.rate, 4))
        return offset

    # ------------------------------------------------------------- requests
    def banned_until(self) -> int | None:
        if self.banned_until_ms is not None and self.now_ms() >= self.banned_until_ms:
            self.banned_until_ms = None
        return self.banned_until_ms

    async def request(self, method: str, path: str, params: ParamsIn = None, *, signed: bool = False,
                      api_key: bool = False, idempotent: bool = True) -> Any:
        """One logical call. Returns the decoded JSON body; raises the error tree."""
        items = wire_params(params)
        if signed and not self._time_sync_tried:
            self._time_sync_tried = True
            try:
                await self.sync_time()
            except ExchangeError as exc:
                log.warning("time.sync_failed", f"could not read the venue clock: {exc}")
        reply = await self._with_retries(method.upper(), path, items, signed=signed, api_key=api_key,
                                         idempotent=idempotent)
        return reply.data

    async def close(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ internals
    async def _with_retries(self, method: str, path: str, items: Params, *, signed: bool, api_key: bool,
                            idempotent: bool) -> Reply:
        endpoint = f"{method} {path}"
        attempt, resynced, resigned = 0, False, False
        while True:
            try:
                return await self._attempt(method, path, items, signed=signed, api_key=api_key)
            except InvalidTimestampError:
                if not signed or resynced:
                    raise
                resynced = True
                log.warning("time.resync", "venue rejected our timestamp (-1021); resynchronising the clock",
                            endpoint=endpoint)
                await self.sync_time()
            except RequestError as exc:
                if exc.code != NONCE_REJECTED or resigned:
                    raise
                resigned = True     # the venue refused the nonce before executing anything: new nonce, once
                log.warning("nonce.rejected", f"venue refused our nonce ({exc}); signing again with a new one",
                            endpoint=endpoint)
            except BannedError:
                raise
            except RetryableError as exc:
                if not idempotent or attempt >= self.retry.retries:
                    raise
                if isinstance(exc, RateLimitedError) and exc.retry_after > self.retry.max_delay_s:
                    raise                               # too long to hold a call; the caller decides
                delay = self.retry.delay(attempt, self._rng)
                attempt += 1
                if isinstance(exc, RateLimitedError):
                    # never sooner than the venue asked; the cool-down holds every request, this one included
                    delay = max(delay, exc.retry_after)
                    self.cooldown_until_ms = max(self.cooldown_until_ms, self.now_ms() + int(delay * 1000))
                log.warning("http.retry", f"{endpoint} failed ({exc}); retry {attempt}/{self.retry.retries} "
                            f"in {delay:.2f}s", endpoint=endpoint, attempt=attempt, delay_s=round(delay, 3),
                            error=type(exc).__name__)
                if not isinstance(exc, RateLimitedError):
                    await self._sleep(delay)

    async def _attempt(self, method: str, path: str, items: Params, *, signed: bool, api_key: bool) -> Reply:
        endpoint = f"{method} {path}"
        self._refuse_if_banned(endpoint)
        await self._wait_for_cooldown(endpoint)
        await self._wait_for_budget(method, path, items)
        # signed last, after any wait: the timestamp / nonce must be fresh when the request leaves
        query, headers = self.auth.prepare(items, signed=signed, api_key=api_key, now_ms=self.now_ms(),
                                           endpoint=endpoint)
        url = f"{path}?{query}" if query else path
        sent = self._clock()
        try:
            resp = await self._http.request(method, url, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise self._note(RetryableError(f"cannot reach the venue: {type(exc).__name__} {exc}".strip(),
                                            endpoint=endpoint))
        except httpx.TransportError as exc:
            raise self._note(ExecutionUnknownError(
                f"no answer ({type(exc).__name__}); the request may have taken effect", endpoint=endpoint))
        received = self._clock()
        self.budget.observe_headers(resp.headers, self.now_ms())
        data = self._decode(resp, endpoint)
        return Reply(data, sent, received)

    def _refuse_if_banned(self, endpoint: str) -> None:
        until = self.banned_until()
        if until is not None:
            raise BannedError(f"IP banned by the venue; no requests until {until}", until_ms=until,
                              endpoint=endpoint)

    async def _wait_for_cooldown(self, endpoint: str) -> None:
        """After a 429, hold every request until the venue's Retry-After has passed (one wait)."""
        remaining = (self.cooldown_until_ms - self.now_ms()) / 1000.0
        if remaining <= 0:
            return
        if remaining > self.retry.max_delay_s:
            raise RateLimitedError(f"rate limited by the venue for another {remaining:.0f}s", retry_after=remaining,
                                   endpoint=endpoint)
        log.info("ratelimit.cooldown", f"holding {endpoint} {remaining:.2f}s after the venue's 429",
                 delay_s=round(remaining, 3), endpoint=endpoint)
        await self._sleep(remaining)

    async def _wait_for_budget(self, method: str, path: str, items: Params) -> None:
        weight = request_weight(method, self.profile.weight_path(path), dict(items))
        is_order = (method, path) in self._order_paths
        while True:
            delay = self.budget.reserve(weight, is_order, self.now_ms())
            if delay <= 0:
                return
            log.info("ratelimit.delay", f"holding {method} {path} {delay:.2f}s to stay under "
                     f"{self.budget.share:.0%} of the venue's limit", delay_s=round(delay, 3),
                     used_weight=self.budget.used_weight(self.now_ms()))
            await self._sleep(delay)

    def _decode(self, resp: httpx.Response, endpoint: str) -> Any:
        text = resp.text
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
            if resp.status_code < 400:
                raise self._note(MalformedResponseError(f"not JSON: {text[:120]!r}", status=resp.status_code,
                                                        endpoint=endpoint))
        code = _venue_code(data)
        failed = resp.status_code >= 400 or (code is not None and code < 0)
        if not failed:
            return data
        msg = str(data.get("msg", "")) if isinstance(data, dict) else text[:200]
        exc = error_from_response(resp.status_code, code, msg, endpoint, dict(resp.headers), self.now_ms())
        if code == ALGO_ONLY and not self.profile.uses_algo_service:
            exc = type(exc)(f"{msg} (this venue takes stops and take-profits only through its Algo Service: set "
                            "ASTER_VENUE_PROFILE=binance-usdm)", code=code, status=resp.status_code, endpoint=endpoint)
        if isinstance(exc, AuthError) or code in (-1021, NONCE_REJECTED):
            hint = self.auth.explain(code, msg)
            if hint:       # name the likely configuration mistake in the message every engine logs
                exc = type(exc)(f"{msg} ({hint})", code=code, status=resp.status_code, endpoint=endpoint)
        ban_until = _ban_until_from_msg(msg)
        if isinstance(exc, RateLimitedError) and ban_until is not None:
            exc = BannedError(msg, until_ms=ban_until, code=code, status=resp.status_code, endpoint=endpoint)
        if isinstance(exc, RateLimitedError):
            self.cooldown_until_ms = max(self.cooldown_until_ms, self.now_ms() + int(exc.retry_after * 1000))
        if isinstance(exc, BannedError):
            if ban_until is not None:           # the venue's own "banned until <ms>" beats any estimate
                exc.until_ms = ban_until
            self.banned_until_ms = max(self.banned_until_ms or 0, exc.until_ms)
            log.error("http.banned", f"the venue banned this IP until {self.banned_until_ms}; all requests "
                      "are refused locally until then", until_ms=self.banned_until_ms, endpoint=endpoint)
        raise self._note(exc)

    def _note(self, exc: ExchangeError) -> ExchangeError:
        self.last_error = str(exc)
        return exc


def _venue_code(data: Any) -> int | None:
    """The venue's `code` (an int, or a string on some endpoints, e.g. cancel-all's "200")."""
    if not isinstance(data, dict) or "code" not in data:
        return None
    try:
        return int(str(data["code"]).strip())
    except ValueError:
        return None


def _ban_until_from_msg(msg: str) -> int | None:
    m = _BAN_UNTIL_RE.search(msg or "")
    return int(m.group(1)) if m else None
