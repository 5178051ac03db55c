"""Order placement that never doubles an order.

Every order carries a client order id. When a placement's outcome is unknown
(timeout, dropped connection, 5xx, -1006/-1007), the venue may have accepted
it, so before placing again we look the order up by that id:

    found          -> return it (it was placed; nothing is sent again)
    -2013 unknown  -> place again, with the SAME client id -- except an order that
                      opens or adds to a position at once (MARKET, or LIMIT IOC/FOK,
                      not reduce-only): the venue may still process the first send
                      late, after the look-up said "unknown", and a second send would
                      double the position. Such an order is never sent again here:
                      `ExecutionUnknownError` goes to the caller, which keeps the trade
                      pending and resolves it from the venue (reconciliation by client
                      id; concluded "not taken" only once recvWindow has passed).
    look-up fails  -> wait (backoff) and look up again

A `-4116` duplicate-client-id answer means an open order with this id already
rests: it is fetched and returned. Rate-limit (429) and ban (418) answers are
reported to the caller (the venue did not take the order). After the retries
are spent with the outcome still unknown, `ExecutionUnknownError` names the
client id so the caller can reconcile.
"""
from __future__ import annotations

import random
from typing import Any, Awaitable, Callable

from mraster.domain.ids import is_valid_client_id
from mraster.domain.types import Order, OrderRequest, OrderType, PositionSide, TimeInForce
from mraster.logs import get_logger
from mraster.exchange.errors import (
    BannedError, DuplicateClientOrderIdError, ExecutionUnknownError, RateLimitedError, RequestError, RetryableError,
    UnknownOrderError,
)
from mraster.exchange.http import RetryPolicy, Sleep

log = get_logger("mraster.exchange.orders")

ENDPOINT = "POST /fapi/v1/order"


def validate_request(req: OrderRequest) -> None:
    """Catch requests the venue would reject anyway, before anything is sent."""
    def bad(msg: str) -> RequestError:
        return RequestError(f"{req.symbol} {req.client_order_id!r}: {msg}", endpoint=ENDPOINT)

    if not is_valid_client_id(req.client_order_id):
        raise bad("client order id must match ^[.A-Z:/a-z0-9_-]{1,36}$")
    if req.close_position:
        if req.type not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
            raise bad("closePosition is only for STOP_MARKET and TAKE_PROFIT_MARKET")
        if req.quantity is not None or req.reduce_only:
            raise bad("closePosition goes without quantity and without reduceOnly")
    elif req.quantity is None or req.quantity <= 0:
        raise bad("a positive quantity is required")
    needs_price = req.type in (OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT)
    if needs_price and (req.price is None or req.price <= 0):
        raise bad(f"{req.type.value} needs a positive price")
    if req.type in (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET) \
            and (req.stop_price is None or req.stop_price <= 0):
        raise bad(f"{req.type.value} needs a positive stop price")
    if req.type is OrderType.TRAILING_STOP_MARKET and req.callback_rate is None:
        raise bad("TRAILING_STOP_MARKET needs a callback rate")
    if req.reduce_only and req.position_side is not PositionSide.BOTH:
        raise bad("reduceOnly is not allowed in hedge mode (positionSide LONG/SHORT)")


def order_params(req: OrderRequest) -> list[tuple[str, Any]]:
    """Wire parameters of POST /fapi/v1/order, in a fixed order; Decimals go out as plain text."""
    tif = req.time_in_force
    if tif is None and req.type is OrderType.LIMIT:
        tif = TimeInForce.GTC
    params: list[tuple[str, Any]] = [("symbol", req.symbol), ("side", req.side.value), ("type", req.type.value)]
    if req.position_side is not PositionSide.BOTH:
        params.append(("positionSide", req.position_side.value))
    params += [("quantity", req.quantity), ("price", req.price), ("stopPrice", req.stop_price),
               ("timeInForce", tif.value if tif else None)]
    if req.reduce_only:
        params.append(("reduceOnly", "true"))
    if req.close_position:
        params.append(("closePosition", "true"))
    if req.working_type is not None:
        params.append(("workingType", req.working_type.value))
    if req.price_protect:
        params.append(("priceProtect", "TRUE"))
    params += [("activationPrice", req.activation_price), ("callbackRate", req.callback_rate),
               ("newClientOrderId", req.client_order_id), ("newOrderRespType", req.response_type or "RESULT")]
    return [(k, v) for k, v in params if v is not None]


def never_resend(req: OrderRequest) -> bool:
    """An order that takes liquidity at once and opens or adds to a position: one look-up answering
    "unknown" is not proof that the venue did not (or will not) execute it."""
    if req.reduce_only or req.close_position:
        return False
    if req.type is OrderType.MARKET:
        return True
    return req.type is OrderType.LIMIT and req.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)


async def place_without_doubling(req: OrderRequest, *, send: Callable[[], Awaitable[Order]],
                                 lookup: Callable[[], Awaitable[Order]], retry: RetryPolicy, sleep: Sleep,
                                 rng: random.Random) -> Order:
    """Place `req` via `send`; see the module docstring for the rules. `lookup` raises UnknownOrderError
    when the venue does not know the client id."""
    cid, uncertain, attempt = req.client_order_id, False, 0
    last_error: Exception | None = None
    while True:
        if uncertain:
            try:
                found = await lookup()
            except UnknownOrderError as unknown:
                if never_resend(req):
                    last_error = unknown
                    log.warning("order.unknown_not_resent", f"{cid} not found after an unclear answer; not sent "
                                "again (the venue may still process it late)", symbol=req.symbol, client_id=cid)
                    break
                log.info("order.lookup_unknown", f"{cid} was not taken by the venue; placing it again with the same "
                         "client id", symbol=req.symbol, client_id=cid)
            except (RateLimitedError, BannedError):
                raise
            except RetryableError as exc:
                last_error = exc
                if attempt >= retry.retries:
                    break
                await sleep(retry.delay(attempt, rng))
                attempt += 1
                continue
            else:
                log.warning("order.found_after_uncertain", f"{cid} had been taken by the venue despite the failed "
                            "answer; not placing it again", symbol=req.symbol, client_id=cid,
                            order_id=found.order_id, status=found.status.value)
                return found
            uncertain = False
        try:
            return await send()
        except DuplicateClientOrderIdError:
            log.warning("order.duplicate_client_id", f"an open order with client id {cid} already rests; "
                        "returning it instead of placing another", symbol=req.symbol, client_id=cid)
            return await lookup()
        except (RateLimitedError, BannedError):
            raise
        except RetryableError as exc:
            last_error, uncertain = exc, True
            log.warning("order.uncertain", f"placing {cid} failed without a clear answer ({exc}); looking it up "
                        "before any new attempt", symbol=req.symbol, client_id=cid, error=type(exc).__name__)
            if attempt >= retry.retries:
                try:
                    return await lookup()       # one last look before giving up
                except UnknownOrderError as unknown:
                    last_error = unknown
                except RetryableError as lookup_exc:
                    last_error = lookup_exc
                break
            await sleep(retry.delay(attempt, rng))
            attempt += 1
    raise ExecutionUnknownError(
        f"order {cid} on {req.symbol}: outcome unknown after {attempt + 1} attempts ({last_error}); look it up by "
        "its client id before acting again", endpoint=ENDPOINT)
