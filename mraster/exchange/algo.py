"""Conditional orders through Binance's Algo Service (`/fapi/v1/algoOrder`), behind the `Exchange` methods.

For a profile whose conditional route is the Algo Service (binance-usdm), the
client sends STOP / STOP_MARKET / TAKE_PROFIT / TAKE_PROFIT_MARKET /
TRAILING_STOP_MARKET here, with the renamed fields (stopPrice -> triggerPrice,
activationPrice -> activatePrice, newClientOrderId -> clientAlgoId) and
`algoType=CONDITIONAL`. Bot and guard keep calling place/get/cancel/open/
cancel-all; the returned `Order`s look like any conditional order
(`order_id` = algoId, `client_order_id` = clientAlgoId).

Rules kept here:
* never double: placement follows `orders.place_without_doubling` (after a
  timeout/5xx, look the client algo id up before placing again; a duplicate
  client algo id returns the resting algo order);
* follow a triggered algo order: once it has an `actualOrderId`, `get` returns
  that regular order (same client id, `orig_type` the conditional type) and
  `cancel` cancels it on the regular endpoint;
* ids are dispatched by what the client has seen (`AlgoBook`), and an id the
  client does not know (after a restart) is tried on both routes.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Any, Awaitable, Callable

from mraster.domain.types import Order, OrderRequest, OrderStatus
from mraster.logs import get_logger
from mraster.exchange import wire
from mraster.exchange.errors import ExchangeError, UnknownOrderError
from mraster.exchange.http import HttpCore, RetryPolicy, Sleep
from mraster.exchange.orders import order_params, place_without_doubling
from mraster.exchange.profiles import ALGO_OPEN_ORDERS, ALGO_ORDER, OPEN_ALGO_ORDERS, VenueProfile
from mraster.exchange.wire_algo import AlgoView, algo_order

log = get_logger("mraster.exchange.algo")

GetRegular = Callable[..., Awaitable[Order]]
_DROPPED = {"newOrderRespType"}     # not a parameter of the REST algo endpoint


def algo_params(req: OrderRequest, renames: dict[str, str] | Any) -> list[tuple[str, Any]]:
    """POST /fapi/v1/algoOrder parameters of a conditional request: the order parameters renamed."""
    out: list[tuple[str, Any]] = [("algoType", "CONDITIONAL")]
    for key, value in order_params(req):
        if key in _DROPPED:
            continue
        out.append((renames.get(key, key), value))
    return out


class AlgoBook:
    """What the client has seen of algo orders: ids, client ids and the last view of each."""

    def __init__(self) -> None:
        self.views: dict[int, AlgoView] = {}
        self.by_client: dict[str, int] = {}
        self.by_child: dict[int, int] = {}

    def note(self, view: AlgoView) -> AlgoView:
        self.views[view.algo_id] = view
        self.by_client[view.order.client_order_id] = view.algo_id
        if view.child_order_id is not None:
            self.by_child[view.child_order_id] = view.algo_id
        return view

    def as_child(self, order: Order) -> Order:
        """A regular order that a known algo order became carries the algo's client id and conditional type
        (the venue is observed to reuse the client id, but does not document it)."""
        algo_id = self.by_child.get(order.order_id)
        if algo_id is None:
            return order
        algo = self.views[algo_id].order
        return dataclasses.replace(order, client_order_id=algo.client_order_id, orig_type=algo.type)

    def knows(self, order_id: int | None, client_order_id: str | None) -> bool:
        return (order_id is not None and order_id in self.views) or (
            client_order_id is not None and client_order_id in self.by_client)

    def view(self, order_id: int | None, client_order_id: str | None) -> AlgoView | None:
        if order_id is not None and order_id in self.views:
            return self.views[order_id]
        algo_id = self.by_client.get(client_order_id or "")
        return self.views.get(algo_id) if algo_id is not None else None


class AlgoOrders:
    def __init__(self, core: HttpCore, profile: VenueProfile, *, get_regular: GetRegular,
                 cancel_regular: GetRegular, sleep: Sleep, rng: random.Random):
        self._core, self._profile = core, profile
        self._get_regular, self._cancel_regular = get_regular, cancel_regular
        self._sleep, self._rng = sleep, rng
        self.book = AlgoBook()
        self.path = profile.path(ALGO_ORDER)

    # ----------------------------------------------------------------- reads
    async def query(self, symbol: str, *, algo_id: int | None = None, client_algo_id: str | None = None) -> AlgoView:
        """GET /fapi/v1/algoOrder by algoId or clientAlgoId; UnknownOrderError when the venue has none."""
        params: dict[str, Any] = {"algoId": algo_id} if algo_id is not None else {"clientAlgoId": client_algo_id}
        data = await self._core.request("GET", self.path, params, signed=True)
        view = wire.parse(f"GET {self.path}", algo_order, data)
        if view.order.symbol != symbol:
            raise UnknownOrderError(f"algo order {algo_id or client_algo_id} is on {view.order.symbol}, not {symbol}",
                                    code=-2013, endpoint=f"GET {self.path}")
        return self.book.note(view)

    async def get(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        view = await self.query(symbol, algo_id=order_id, client_algo_id=None if order_id is not None
                                else client_order_id)
        return await self.follow(view)

    async def follow(self, view: AlgoView) -> Order:
        """A triggered algo order is the regular order it became (kept under the algo's client id and
        conditional type); before that, the algo order itself."""
        if view.child_order_id is None:
            return view.order
        try:
            child = await self._get_regular(view.order.symbol, order_id=view.child_order_id)
        except UnknownOrderError:
            log.warning("algo.child_unknown", f"algo order {view.algo_id} triggered into order {view.child_order_id}, "
                        "which the venue does not show; reporting the algo order", symbol=view.order.symbol)
            return view.order
        return dataclasses.replace(self.book.as_child(child), stop_price=child.stop_price or view.order.stop_price)

    async def open(self, symbol: str | None = None, listed: set[int] | frozenset[int] = frozenset()) -> list[Order]:
        """Open algo orders. A triggered one whose child is among the regular open orders (`listed` ids) is
        left out (the child stands for it); one whose child is not listed is still in flight (TRIGGERING,
        or a market child executing) and is kept as working, so a check in that moment sees the stop."""
        path = self._profile.path(OPEN_ALGO_ORDERS)
        data = await self._core.request("GET", path, {"symbol": symbol}, signed=True)
        views = wire.parse(f"GET {path}", lambda d: wire.many(algo_order, d, "algo orders"), data)
        return [self.book.note(v).order for v in views
                if v.is_open and (v.child_order_id is None or v.child_order_id not in listed)]

    # ---------------------------------------------------------------- writes
    async def place(self, req: OrderRequest, *, retry: RetryPolicy) -> Order:
        params = algo_params(req, self._profile.algo_renames)
        endpoint = f"POST {self.path}"

        async def send() -> Order:
            data = await self._core.request("POST", self.path, params, signed=True, idempotent=False)
            return self.book.note(wire.parse(endpoint, algo_order, data)).order

        async def lookup() -> Order:
            return (await self.query(req.symbol, client_algo_id=req.client_order_id)).order

        return await place_without_doubling(req, send=send, lookup=lookup, retry=retry, sleep=self._sleep,
                                            rng=self._rng)

    async def cancel(self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        """Cancel an algo order; a triggered one is cancelled as the regular order it became. Retries that
        find it already cancelled return it; a finished (filled) one raises UnknownOrderError."""
        known = self.book.view(order_id, client_order_id)
        if known is not None and known.child_order_id is not None:
            return await self._cancel_child(known)
        params: dict[str, Any] = {"algoId": order_id} if order_id is not None else {"clientAlgoId": client_order_id}
        try:
            await self._core.request("DELETE", self.path, params, signed=True)
        except UnknownOrderError as cancel_error:
            try:
                view = await self.query(symbol, algo_id=order_id, client_algo_id=client_order_id)
            except UnknownOrderError:
                raise cancel_error from None
            if view.child_order_id is not None and view.is_open:
                return await self._cancel_child(view)
            if view.order.status is not OrderStatus.CANCELED:
                raise
            return view.order
        try:
            view = await self.query(symbol, algo_id=order_id, client_algo_id=client_order_id)
        except ExchangeError:
            if known is None:
                raise
            view = self.book.note(dataclasses.replace(
                known, order=dataclasses.replace(known.order, status=OrderStatus.CANCELED), algo_status="CANCELED"))
        return view.order

    async def _cancel_child(self, view: AlgoView) -> Order:
        log.info("algo.cancel_child", f"algo order {view.algo_id} has triggered; cancelling the order it became "
                 f"({view.child_order_id})", symbol=view.order.symbol, client_id=view.order.client_order_id)
        return self.book.as_child(await self._cancel_regular(view.order.symbol, order_id=view.child_order_id))

    async def cancel_all(self, symbol: str) -> None:
        path = self._profile.path(ALGO_OPEN_ORDERS)
        await self._core.request("DELETE", path, {"symbol": symbol}, signed=True)
