"""Order placement never doubles an order, whatever the venue does to the first attempt."""
from __future__ import annotations

from decimal import Decimal

import pytest

from mraster.domain.types import OrderRequest, OrderStatus, OrderType, PositionSide, Side, TimeInForce, WorkingType
from mraster.exchange.errors import (
    BannedError, ExecutionUnknownError, OrderWouldTriggerError, RateLimitedError, RequestError, UnknownOrderError,
)
from mraster.exchange.orders import order_params, validate_request

ORDER = "/fapi/v1/order"
CID = "mr-BTCUSDT.lq3k2x1a-EN"


def market(cid: str = CID, qty: str = "0.010") -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, cid, quantity=Decimal(qty))


def stop(cid: str = "mr-BTCUSDT.lq3k2x1a-SL") -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, cid, stop_price=Decimal("29000.10"),
                        close_position=True, working_type=WorkingType.MARK_PRICE)


def placed_ids(venue) -> list[str]:
    return [r.params["newClientOrderId"] for r in venue.requests("POST", ORDER)]


async def test_no_duplicate_when_first_placement_times_out_after_the_venue_accepted_it(venue, make_client):
    venue.add_fault("POST", ORDER, "accept_hang")
    client = make_client(timeout_s=0.3)
    order = await client.place_order(market())
    assert len(venue.orders) == 1                          # exactly one order exists
    assert venue.count("POST", ORDER) == 1                 # and it was never sent again
    assert order.client_order_id == CID and order.status is OrderStatus.FILLED
    lookups = venue.requests("GET", ORDER)
    assert lookups and lookups[0].params["origClientOrderId"] == CID


async def test_503_after_acceptance_is_found_not_replaced(venue, make_client):
    venue.add_fault("POST", ORDER, "accept_status", status=503, body={"code": -1007, "msg": "Timeout waiting"})
    client = make_client()
    order = await client.place_order(stop())
    assert len(venue.orders) == 1 and venue.count("POST", ORDER) == 1
    assert order.close_position and order.type is OrderType.STOP_MARKET


def resting_limit(cid: str = CID) -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, cid, quantity=Decimal("0.010"),
                        price=Decimal("20000"), time_in_force=TimeInForce.GTC)


@pytest.mark.parametrize("req", [resting_limit(), stop(CID),
                                 OrderRequest("BTCUSDT", Side.SELL, OrderType.MARKET, CID, quantity=Decimal("0.010"),
                                              reduce_only=True)],
                         ids=["limit-gtc", "close-position-stop", "reduce-only-market"])
async def test_503_before_acceptance_is_placed_again_with_the_same_client_id(venue, make_client, req):
    """Orders that cannot open or add to a position at once may be sent again after a look-up."""
    venue.add_fault("POST", ORDER, "status", status=503, body={"code": -1001, "msg": "Internal error"})
    client = make_client()
    order = await client.place_order(req)
    assert len(venue.orders) == 1
    assert placed_ids(venue) == [CID, CID]
    assert venue.requests("GET", ORDER)[0].params["origClientOrderId"] == CID     # looked up in between
    assert order.order_id == next(iter(venue.orders))


@pytest.mark.parametrize("req", [market(), OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, CID,
                                                        quantity=Decimal("0.010"), price=Decimal("20000"),
                                                        time_in_force=TimeInForce.IOC)],
                         ids=["market", "limit-ioc"])
@pytest.mark.parametrize("status, code", [(503, -1001), (503, -1007), (500, -1006)])
async def test_market_or_ioc_entry_with_an_unknown_result_is_never_sent_again(venue, make_client, req, status, code):
    """Issue 12 item 3: the venue may process the first send late, after the look-up said "unknown";
    a second send would double the position. The caller gets ExecutionUnknownError naming the id."""
    venue.add_fault("POST", ORDER, "status", status=status, body={"code": code, "msg": "unknown"}, times=5)
    client = make_client(retries=3)
    with pytest.raises(ExecutionUnknownError, match=CID):
        await client.place_order(req)
    assert venue.count("POST", ORDER) == 1                  # sent once, never again
    assert venue.requests("GET", ORDER)[0].params["origClientOrderId"] == CID


async def test_lookup_that_fails_is_retried_before_any_new_placement(venue, make_client, sleep):
    venue.add_fault("POST", ORDER, "accept_hang")
    venue.add_fault("GET", ORDER, "status", status=502, body={"code": -1000, "msg": "x"}, times=1)
    client = make_client(timeout_s=0.3, retries=3)
    order = await client.place_order(market())
    assert len(venue.orders) == 1 and venue.count("POST", ORDER) == 1
    assert order.client_order_id == CID


async def test_duplicate_client_id_returns_the_resting_order(venue, make_client):
    resting = venue.add_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", clientOrderId=stop().client_order_id,
                              origQty="0", stopPrice="29000.1", closePosition=True)
    client = make_client()
    order = await client.place_order(stop())
    assert order.order_id == resting["orderId"] and len(venue.orders) == 1


async def test_outcome_still_unknown_after_retries_names_the_client_id(venue, make_client):
    venue.add_fault("POST", ORDER, "hang", times=10)
    venue.add_fault("GET", ORDER, "status", status=503, body={"code": -1007, "msg": "x"}, times=10)
    client = make_client(timeout_s=0.2, retries=1)
    with pytest.raises(ExecutionUnknownError, match=CID):
        await client.place_order(market())
    assert venue.orders == {}


async def test_rate_limited_placement_is_reported_not_retried(venue, make_client, sleep):
    venue.add_fault("POST", ORDER, "status", status=429, body={"code": -1003, "msg": "Too many"},
                    headers={"Retry-After": "3"})
    client = make_client()
    with pytest.raises(RateLimitedError) as info:
        await client.place_order(market())
    assert info.value.retry_after == 3.0 and venue.count("POST", ORDER) == 1 and venue.orders == {}


async def test_banned_placement_is_reported(venue, make_client):
    venue.add_fault("POST", ORDER, "status", status=418, body={"code": -1003, "msg": "banned"},
                    headers={"Retry-After": "60"})
    client = make_client()
    with pytest.raises(BannedError):
        await client.place_order(market())
    assert venue.count("POST", ORDER) == 1


async def test_request_errors_are_not_retried(venue, make_client):
    venue.add_fault("POST", ORDER, "status", status=400, body={"code": -2021, "msg": "Order would immediately trigger."})
    client = make_client()
    with pytest.raises(OrderWouldTriggerError):
        await client.place_order(stop())
    assert venue.count("POST", ORDER) == 1 and venue.count("GET", ORDER) == 0


def test_order_params_use_plain_decimals_and_always_carry_the_client_id():
    req = OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "mr-X.a-EN", quantity=Decimal("0.35"),
                       price=Decimal("1E+1"), time_in_force=None, reduce_only=True)
    params = dict(order_params(req))
    assert params["quantity"] == Decimal("0.35") and params["price"] == Decimal("1E+1")
    from mraster.exchange.http import wire_params
    wire = dict(wire_params(order_params(req)))
    assert wire["quantity"] == "0.35" and wire["price"] == "10" and wire["timeInForce"] == "GTC"
    assert wire["newClientOrderId"] == "mr-X.a-EN" and wire["newOrderRespType"] == "RESULT"
    assert wire["reduceOnly"] == "true" and "positionSide" not in wire
    wire = dict(wire_params(order_params(stop())))
    assert wire["closePosition"] == "true" and wire["workingType"] == "MARK_PRICE" and "quantity" not in wire
    assert "reduceOnly" not in wire


@pytest.mark.parametrize("req, problem", [
    (OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, "has space", quantity=Decimal(1)), "client order id"),
    (OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, "x" * 37, quantity=Decimal(1)), "client order id"),
    (OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, "ok"), "positive quantity"),
    (OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "ok", quantity=Decimal(1)), "price"),
    (OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, "ok", quantity=Decimal(1)), "stop price"),
    (OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, "ok", quantity=Decimal(1), stop_price=Decimal(1),
                  close_position=True), "without quantity"),
    (OrderRequest("BTCUSDT", Side.SELL, OrderType.LIMIT, "ok", quantity=Decimal(1), price=Decimal(1),
                  close_position=True), "closePosition is only"),
    (OrderRequest("BTCUSDT", Side.SELL, OrderType.MARKET, "ok", quantity=Decimal(1), reduce_only=True,
                  position_side=PositionSide.LONG), "hedge mode"),
    (OrderRequest("BTCUSDT", Side.SELL, OrderType.TRAILING_STOP_MARKET, "ok", quantity=Decimal(1)), "callback"),
])
def test_invalid_requests_are_refused_before_sending(req, problem):
    with pytest.raises(RequestError, match=problem):
        validate_request(req)


async def test_get_cancel_and_cancel_all(venue, make_client):
    client = make_client()
    a = await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "mr-BTCUSDT.a-EN",
                                              quantity=Decimal("0.01"), price=Decimal("20000.5"),
                                              time_in_force=TimeInForce.GTC))
    await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "mr-BTCUSDT.b-EN",
                                          quantity=Decimal("0.01"), price=Decimal("20000"),
                                          time_in_force=TimeInForce.GTC))
    assert {o.client_order_id for o in await client.open_orders("BTCUSDT")} == {"mr-BTCUSDT.a-EN", "mr-BTCUSDT.b-EN"}
    assert (await client.get_order("BTCUSDT", order_id=a.order_id)).price == Decimal("20000.5")
    cancelled = await client.cancel_order("BTCUSDT", client_order_id="mr-BTCUSDT.a-EN")
    assert cancelled.status is OrderStatus.CANCELED
    await client.cancel_all("BTCUSDT")                     # answers {"code": "200", ...}: success
    assert await client.open_orders() == []
    with pytest.raises(UnknownOrderError):
        await client.get_order("BTCUSDT", client_order_id="mr-BTCUSDT.zz-EN")
    with pytest.raises(RequestError, match="order id"):
        await client.get_order("BTCUSDT")


async def test_cancel_retried_after_timeout_returns_the_cancelled_order(venue, make_client):
    resting = venue.add_order(symbol="BTCUSDT", side="BUY", type="LIMIT", clientOrderId="mr-BTCUSDT.c-EN",
                              origQty="1", price="10")
    venue.add_fault("DELETE", ORDER, "accept_hang")
    client = make_client(timeout_s=0.3)
    order = await client.cancel_order("BTCUSDT", order_id=resting["orderId"])
    assert order.status is OrderStatus.CANCELED and venue.count("DELETE", ORDER) == 2


async def test_cancel_of_a_filled_order_still_raises(venue, make_client):
    filled = venue.add_order(symbol="BTCUSDT", side="BUY", type="LIMIT", clientOrderId="mr-BTCUSDT.d-EN",
                             origQty="1", price="10", status="FILLED")
    client = make_client()
    with pytest.raises(UnknownOrderError):
        await client.cancel_order("BTCUSDT", order_id=filled["orderId"])
