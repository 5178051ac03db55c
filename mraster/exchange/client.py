"""`BinanceCompatibleClient`: the `Exchange` interface over any Binance-compatible futures venue.

Aster, Binance, or the local paper exchange: only the base URLs and keys
differ. The request core (`http.py`) signs, retries, maps errors, keeps the
rate-limit budget, the ban state and the venue clock offset; `wire.py` turns
answers into domain types; `orders.py` keeps a retry from doubling an order;
`klinecache.py` serves cached klines through outages; the stream modules keep
WebSocket feeds alive. Every part that touches time, randomness or the network
can be injected, so tests run against local servers with no patching.
"""
from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import weakref
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence, TypeVar

import httpx

from mraster.domain.rules import SymbolRules
from mraster.domain.types import (
    AccountInfo, AggTrade, Balance, BookTicker, ClientStatus, DepthSnapshot, IncomeRecord, Kline, KlinesStatus,
    LeverageInfo, MarginType, MarkPrice, Order, OrderRequest, OrderStatus, OrderUpdate, Position, Ticker24h,
    UserTrade,
)
from mraster.logs import get_logger
from mraster.exchange import wire
from mraster.exchange import profiles as P
from mraster.exchange.algo import AlgoOrders
from mraster.exchange.auth import Auth
from mraster.exchange.errors import RequestError, UnknownOrderError
from mraster.exchange.auth import MISSING_KEYS_HINT
from mraster.exchange.http import Clock, HttpCore, RetryPolicy, Sleep
from mraster.exchange.interface import Exchange, MarketStream, UserStream
from mraster.exchange.klinecache import KlineCache
from mraster.exchange.market_stream import CombinedMarketStream
from mraster.exchange.orders import order_params, place_without_doubling, validate_request
from mraster.exchange.profiles import VenueProfile, get_profile
from mraster.exchange.wire_algo import AlgoView
from mraster.exchange.user_stream import STREAM_NAME as USER_STREAM_NAME, UserDataStream
from mraster.exchange.ws import StreamOptions

log = get_logger("mraster.exchange.client")
T = TypeVar("T")

_NO_NEED_TO_CHANGE_MARGIN = -4046
_NO_NEED_TO_CHANGE_POSITION_SIDE = -4059


def normalise_ws_base(ws_base: str) -> str:
    """`wss://host`, also when given as `wss://host/ws` or `.../stream`."""
    base = ws_base.strip().rstrip("/")
    for suffix in ("/ws", "/stream"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


class BinanceCompatibleClient(Exchange):
    def __init__(self, base_url: str, ws_base: str, api_key: str = "", api_secret: str = "", *,
                 recv_window_ms: int | None = 10_000, timeout_s: float = 20.0, retries: int = 2,
                 backoff_s: float = 0.6, kline_cache_s: float = 45.0, rate_limit_share: float = 0.8,
                 stream_options: StreamOptions | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Clock = time.time, sleep: Sleep = asyncio.sleep, rng: random.Random | None = None,
                 missing_keys_hint: str = MISSING_KEYS_HINT, profile: VenueProfile | str | None = None,
                 auth: Auth | None = None):
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self.profile = profile if isinstance(profile, VenueProfile) else get_profile(profile)
        self._core = HttpCore(base_url, api_key, api_secret, recv_window_ms=recv_window_ms, timeout_s=timeout_s,
                              retry=RetryPolicy(retries, backoff_s), rate_limit_share=rate_limit_share,
                              transport=transport, clock=clock, sleep=sleep, rng=self._rng,
                              missing_keys_hint=missing_keys_hint, auth=auth, profile=self.profile)
        self._algo = AlgoOrders(self._core, self.profile, get_regular=self._get_regular_order,
                                cancel_regular=self._cancel_regular_order, sleep=sleep, rng=self._rng) \
            if self.profile.uses_algo_service else None
        self.ws_base = normalise_ws_base(ws_base)
        self.stream_options = stream_options or StreamOptions()
        self._klines = KlineCache(kline_cache_s)
        self._rules: dict[str, SymbolRules] | None = None
        self._rules_lock: asyncio.Lock | None = None
        self._account_path = self.profile.account_paths[0]
        self._profile_warning = ""
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def reconfigure(self, *, retries: int | None = None, backoff_s: float | None = None,
                    kline_cache_s: float | None = None) -> None:
        """Apply live-editable settings (ASTER_HTTP_RETRIES, ASTER_HTTP_BACKOFF, ASTER_KLINE_CACHE_SEC)."""
        if retries is not None:
            self._core.retry.retries = retries
        if backoff_s is not None:
            self._core.retry.backoff_s = backoff_s
        if kline_cache_s is not None:
            self._klines.ttl_s = kline_cache_s

    # ------------------------------------------------------------ time / status
    def now_ms(self) -> int:
        return self._core.now_ms()

    async def sync_time(self) -> int:
        return await self._core.sync_time()

    def status(self) -> ClientStatus:
        now = self._core.now_ms()
        ages: dict[str, float] = {}
        for stream in list(self._streams):
            items: Iterable[tuple[str, float]]
            if isinstance(stream, CombinedMarketStream):
                items = stream.staleness().items()
            else:
                items = [(USER_STREAM_NAME, stream.age_s)]
            for name, age in items:
                ages[name] = round(max(age, ages.get(name, 0.0)), 3)
        return ClientStatus(used_weight_1m=self._core.budget.used_weight(now),
                            weight_limit_1m=self._core.budget.weight_limit,
                            order_count_1m=self._core.budget.order_count(now),
                            banned_until_ms=self._core.banned_until(), time_offset_ms=self._core.offset_ms,
                            last_error=self._core.last_error, stale_streams=ages, stale_klines=self._klines.stale())

    async def close(self) -> None:
        for stream in list(self._streams):
            await stream.close()
        await self._core.close()

    def _p(self, op: str) -> str:
        return self.profile.path(op)

    def _forget_stream(self, stream: Any) -> None:
        self._streams.discard(stream)

    async def _get(self, path: str, params: Any = None, *, signed: bool = False) -> Any:
        return await self._core.request("GET", path, params, signed=signed)

    async def _read(self, path: str, parser: Callable[..., T], params: Any = None, *extra: Any,
                    signed: bool = False) -> T:
        """GET `path` and parse the answer; a parse failure names the endpoint."""
        return wire.parse(f"GET {path}", parser, await self._get(path, params, signed=signed), *extra)

    async def _read_all(self, path: str, item: Callable[[Any], T], what: str, params: Any = None, *,
                        signed: bool = False) -> list[T]:
        """GET `path`, an array of `what`, each item parsed by `item`."""
        return await self._read(path, lambda data: wire.many(item, data, what), params, signed=signed)

    # -------------------------------------------------------------- market data
    async def symbol_rules(self, refresh: bool = False) -> dict[str, SymbolRules]:
        if self._rules_lock is None:
            self._rules_lock = asyncio.Lock()
        async with self._rules_lock:
            if self._rules is None or refresh:
                endpoint = f"GET {self._p(P.EXCHANGE_INFO)}"
                data = await self._get(self._p(P.EXCHANGE_INFO))
                rules, weight_limit, order_limit = wire.parse(endpoint, wire.exchange_info, data)
                mismatch = P.exchange_info_mismatch(self.profile, data)
                if mismatch and mismatch != self._profile_warning:
                    self._profile_warning = mismatch
                    log.error("venue.profile_mismatch", f"{mismatch}; check ASTER_VENUE_PROFILE",
                              profile=self.profile.name)
                self._core.budget.set_limits(weight_limit, order_limit)
                self._rules = rules
            return dict(self._rules)

    async def fetch_klines(self, symbol: str, interval: str, limit: int = 500, start_time: int | None = None,
                           end_time: int | None = None) -> list[Kline]:
        """Klines straight from the venue, bypassing the cache (streams use this to fill gaps)."""
        params = {"symbol": symbol, "interval": interval, "startTime": start_time, "endTime": end_time,
                  "limit": limit}
        return await self._read(self._p(P.KLINES), wire.klines, params, self.now_ms())

    async def klines(self, symbol: str, interval: str, limit: int = 500, start_time: int | None = None,
                     end_time: int | None = None) -> list[Kline]:
        key = (symbol, interval, limit, start_time, end_time)
        now_ms = self.now_ms()      # cache ages in venue time: an accelerated paper market ages data faster
        return await self._klines.get(key, lambda: self.fetch_klines(symbol, interval, limit, start_time, end_time),
                                      now_ms / 1000.0, now_ms)

    def klines_status(self, symbol: str, interval: str) -> KlinesStatus | None:
        return self._klines.status(symbol, interval)

    async def book_ticker(self, symbol: str) -> BookTicker:
        return await self._read(self._p(P.BOOK_TICKER), wire.book_ticker, {"symbol": symbol})

    async def book_tickers(self) -> dict[str, BookTicker]:
        rows = await self._read_all(self._p(P.BOOK_TICKER), wire.book_ticker, "book tickers")
        return {t.symbol: t for t in rows}

    async def mark_price(self, symbol: str) -> MarkPrice:
        return await self._read(self._p(P.PREMIUM_INDEX), wire.mark_price, {"symbol": symbol})

    async def mark_prices(self) -> dict[str, MarkPrice]:
        rows = await self._read_all(self._p(P.PREMIUM_INDEX), wire.mark_price, "mark prices")
        return {m.symbol: m for m in rows}

    async def tickers_24h(self) -> list[Ticker24h]:
        return await self._read_all(self._p(P.TICKER_24H), wire.ticker_24h, "24h tickers")

    async def depth(self, symbol: str, limit: int = 5) -> DepthSnapshot:
        return await self._read(self._p(P.DEPTH), wire.depth, {"symbol": symbol, "limit": limit}, symbol)

    async def agg_trades(self, symbol: str, limit: int = 500, start_time: int | None = None,
                         end_time: int | None = None) -> list[AggTrade]:
        params = {"symbol": symbol, "startTime": start_time, "endTime": end_time, "limit": limit}
        return await self._read_all(self._p(P.AGG_TRADES), lambda d: wire.agg_trade(d, symbol), "trades", params)

    # ------------------------------------------------------------------ account
    async def balances(self) -> list[Balance]:
        return await self._read_all(self._p(P.BALANCE), wire.balance, "balances", signed=True)

    async def account(self) -> AccountInfo:
        """The profile's account path; a venue without it (404) gets the next one, remembered from then on
        (aster-v1: /fapi/v4/account then /fapi/v2/account; aster-v3: accountWithJoinMargin then account)."""
        while True:
            try:
                data = await self._get(self._account_path, signed=True)
                break
            except RequestError as exc:
                paths = self.profile.account_paths
                i = paths.index(self._account_path) if self._account_path in paths else len(paths)
                if exc.status != 404 or i + 1 >= len(paths):
                    raise
                log.info("account.fallback", f"{self._account_path} not served here; using {paths[i + 1]}")
                self._account_path = paths[i + 1]
        return wire.parse(f"GET {self._account_path}", wire.account_info, data)

    async def positions(self, symbol: str | None = None) -> list[Position]:
        rows = await self._read_all(self._p(P.POSITION_RISK), wire.position, "positions", {"symbol": symbol},
                                    signed=True)
        return [p for p in rows if not p.is_flat]

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Regular open orders, plus (Algo Service profiles) the untriggered algo orders."""
        regular = await self._read_all(self._p(P.OPEN_ORDERS), wire.order, "orders", {"symbol": symbol}, signed=True)
        if self._algo is None:
            return regular
        return regular + await self._algo.open(symbol, {o.order_id for o in regular})

    async def _get_regular_order(self, symbol: str, *, order_id: int | None = None,
                                 client_order_id: str | None = None) -> Order:
        return await self._read(self._p(P.ORDER), wire.order, _order_ref(symbol, order_id, client_order_id),
                                signed=True)

    async def get_order(self, symbol: str, *, order_id: int | None = None,
                        client_order_id: str | None = None) -> Order:
        """An algo order (Algo Service profiles) is looked up there and followed to the order it became;
        an id this client has not seen is tried as a regular order first, then as an algo order."""
        if self._algo is None:
            return await self._get_regular_order(symbol, order_id=order_id, client_order_id=client_order_id)
        if self._algo.book.knows(order_id, client_order_id):
            return await self._algo.get(symbol, order_id=order_id, client_order_id=client_order_id)
        try:
            order = await self._get_regular_order(symbol, order_id=order_id, client_order_id=client_order_id)
            return self._algo.book.as_child(order)
        except UnknownOrderError as regular_error:
            try:
                return await self._algo.get(symbol, order_id=order_id, client_order_id=client_order_id)
            except UnknownOrderError:
                raise regular_error from None

    async def place_order(self, request: OrderRequest) -> Order:
        validate_request(request)
        problem = self.profile.request_problem(request)
        if problem:
            raise RequestError(f"{request.symbol} {request.client_order_id!r}: {problem}",
                               endpoint=f"POST {self._p(P.ORDER)}")
        if self._algo is not None and request.type.is_conditional:
            order = await self._algo.place(request, retry=self._core.retry)
            log.debug("client.algo_order", f"{order.side.value} {order.type.value} {order.symbol} "
                      f"{order.client_order_id}: algo {order.order_id} {order.status.value}", symbol=order.symbol,
                      client_id=order.client_order_id, order_id=order.order_id)
            return order
        params = order_params(request)
        path = self._p(P.ORDER)

        async def send() -> Order:
            data = await self._core.request("POST", path, params, signed=True, idempotent=False)
            return wire.parse(f"POST {path}", wire.order, data)

        async def lookup() -> Order:
            return await self.get_order(request.symbol, client_order_id=request.client_order_id)

        order = await place_without_doubling(request, send=send, lookup=lookup, retry=self._core.retry,
                                             sleep=self._sleep, rng=self._rng)
        # DEBUG: the caller (bot, guard) logs the order at INFO with its role and reason.
        log.debug("client.order", f"{order.side.value} {order.type.value} {order.symbol} {order.client_order_id}: "
                 f"{order.status.value}", symbol=order.symbol, client_id=order.client_order_id,
                 order_id=order.order_id, status=order.status.value)
        return order

    async def _cancel_regular_order(self, symbol: str, *, order_id: int | None = None,
                                    client_order_id: str | None = None) -> Order:
        """Cancels are retried; if a retry finds the order unknown (-2011) because an earlier attempt
        already cancelled it, the cancelled order is returned. A filled order still raises."""
        ref = _order_ref(symbol, order_id, client_order_id)
        path = self._p(P.ORDER)
        try:
            data = await self._core.request("DELETE", path, ref, signed=True)
        except UnknownOrderError as cancel_error:
            try:
                order = await self._get_regular_order(symbol, order_id=order_id, client_order_id=client_order_id)
            except UnknownOrderError:
                raise cancel_error from None
            if order.status is not OrderStatus.CANCELED:
                raise
            return order
        return wire.parse(f"DELETE {path}", wire.order, data)

    async def cancel_order(self, symbol: str, *, order_id: int | None = None,
                           client_order_id: str | None = None) -> Order:
        if self._algo is None:
            return await self._cancel_regular_order(symbol, order_id=order_id, client_order_id=client_order_id)
        if self._algo.book.knows(order_id, client_order_id):
            return await self._algo.cancel(symbol, order_id=order_id, client_order_id=client_order_id)
        try:
            return await self._cancel_regular_order(symbol, order_id=order_id, client_order_id=client_order_id)
        except UnknownOrderError as regular_error:
            try:
                return await self._algo.cancel(symbol, order_id=order_id, client_order_id=client_order_id)
            except UnknownOrderError:
                raise regular_error from None

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> None:
        """The venue's dead-man switch: it cancels every open order of `symbol` unless this is called again
        within `countdown_ms` (0 switches it off). A process that dies leaves no order resting for long."""
        await self._core.request("POST", self._p(P.COUNTDOWN_CANCEL_ALL),
                                 {"symbol": symbol, "countdownTime": int(countdown_ms)}, signed=True)

    async def cancel_all(self, symbol: str) -> None:
        """Every open order of `symbol`; on Algo Service profiles the algo orders too (both are sent even if
        one fails, then the first failure is raised)."""
        failure: Exception | None = None
        try:
            await self._core.request("DELETE", self._p(P.ALL_OPEN_ORDERS), {"symbol": symbol}, signed=True)
        except Exception as exc:   # noqa: BLE001 - re-raised below, after the algo side was tried
            failure = exc
        if self._algo is not None:
            try:
                await self._algo.cancel_all(symbol)
            except Exception as exc:   # noqa: BLE001
                failure = failure or exc
        if failure is not None:
            raise failure

    def adapt_order_event(self, event: OrderUpdate) -> OrderUpdate:
        """A child order's ORDER_TRADE_UPDATE shows the algo order's client id and type (Algo Service)."""
        if self._algo is None:
            return event
        order = self._algo.book.as_child(event.order)
        return event if order is event.order else dataclasses.replace(event, order=order)

    def note_algo_event(self, view: AlgoView) -> None:
        """The user stream reports an algo order (ALGO_UPDATE): remember its ids and its child order."""
        if self._algo is not None:
            self._algo.book.note(view)

    async def set_leverage(self, symbol: str, leverage: int) -> LeverageInfo:
        path = self._p(P.LEVERAGE)
        data = await self._core.request("POST", path, {"symbol": symbol, "leverage": int(leverage)}, signed=True)
        return wire.parse(f"POST {path}", wire.leverage_info, data)

    async def set_margin_type(self, symbol: str, margin_type: MarginType) -> None:
        try:
            await self._core.request("POST", self._p(P.MARGIN_TYPE),
                                     {"symbol": symbol, "marginType": MarginType(margin_type).value}, signed=True)
        except RequestError as exc:
            if exc.code != _NO_NEED_TO_CHANGE_MARGIN:
                raise

    async def set_position_mode(self, hedge: bool) -> None:
        try:
            await self._core.request("POST", self._p(P.POSITION_SIDE_DUAL), {"dualSidePosition": bool(hedge)},
                                     signed=True)
        except RequestError as exc:
            if exc.code != _NO_NEED_TO_CHANGE_POSITION_SIDE:
                raise

    async def get_position_mode(self) -> bool:
        return await self._read(self._p(P.POSITION_SIDE_DUAL), wire.dual_side, signed=True)

    async def user_trades(self, symbol: str, start_time: int | None = None, end_time: int | None = None,
                          limit: int = 500, from_id: int | None = None) -> list[UserTrade]:
        params = {"symbol": symbol, "startTime": start_time, "endTime": end_time, "fromId": from_id, "limit": limit}
        return await self._read_all(self._p(P.USER_TRADES), wire.user_trade, "trades", params, signed=True)

    async def income(self, symbol: str | None = None, income_type: str | None = None,
                     start_time: int | None = None, end_time: int | None = None,
                     limit: int = 1000) -> list[IncomeRecord]:
        params = {"symbol": symbol, "incomeType": income_type, "startTime": start_time, "endTime": end_time,
                  "limit": limit}
        return await self._read_all(self._p(P.INCOME), wire.income, "income records", params, signed=True)

    async def commission_rate(self, symbol: str) -> tuple[Decimal, Decimal]:
        return await self._read(self._p(P.COMMISSION_RATE), wire.commission_rate, {"symbol": symbol}, signed=True)

    async def max_leverage(self) -> dict[str, int]:
        """Symbol -> the highest leverage its leverage brackets allow (GET leverageBracket): what a
        `set_leverage` above it would be refused for. Symbols the answer leaves out are not listed."""
        data = await self._get(self._p(P.LEVERAGE_BRACKET), None, signed=True)
        out: dict[str, int] = {}
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict) or not isinstance(item.get("brackets"), list):
                continue
            levels = [int(b.get("initialLeverage", 0)) for b in item["brackets"] if isinstance(b, dict)]
            if levels:
                out[str(item.get("symbol", ""))] = max(levels)
        return out

    # ------------------------------------------------------- listen key / streams
    # V1/Binance: API key only; V3: signed like any USER_DATA call (the profile's auth decides).
    async def create_listen_key(self) -> str:
        path = self._p(P.LISTEN_KEY)
        data = await self._core.request("POST", path, api_key=True, signed=self.profile.signs_listen_key)
        return wire.parse(f"POST {path}", wire.listen_key, data)

    async def keepalive_listen_key(self, listen_key: str) -> None:
        await self._core.request("PUT", self._p(P.LISTEN_KEY), {"listenKey": listen_key}, api_key=True,
                                 signed=self.profile.signs_listen_key)

    async def close_listen_key(self, listen_key: str) -> None:
        await self._core.request("DELETE", self._p(P.LISTEN_KEY), {"listenKey": listen_key}, api_key=True,
                                 signed=self.profile.signs_listen_key)

    def user_stream(self) -> UserStream:
        stream = UserDataStream(self, self.ws_base, self.stream_options, clock=self._clock, sleep=self._sleep,
                                rng=self._rng)
        self._streams.add(stream)
        return stream

    def market_stream(self, streams: Sequence[str]) -> MarketStream:
        stream = CombinedMarketStream(self, self.ws_base, streams, self.stream_options, clock=self._clock,
                                      sleep=self._sleep, rng=self._rng)
        self._streams.add(stream)
        return stream


def _order_ref(symbol: str, order_id: int | None, client_order_id: str | None) -> dict[str, Any]:
    if order_id is None and not client_order_id:
        raise RequestError(f"{symbol}: give an order id or a client order id")
    if order_id is not None:
        return {"symbol": symbol, "orderId": int(order_id)}
    return {"symbol": symbol, "origClientOrderId": client_order_id}

