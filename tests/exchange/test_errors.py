"""Every venue error maps to the exception a caller acts on, keeping the venue's code and message."""
from __future__ import annotations

import pytest

from mraster.exchange.errors import (
    AuthError, BannedError, DuplicateClientOrderIdError, ExchangeError, ExecutionUnknownError, InsufficientMarginError,
    InvalidTimestampError, OrderWouldTriggerError, RateLimitedError, ReduceOnlyRejectedError, RequestError,
    RetryableError, UnknownOrderError, error_from_response,
)


@pytest.mark.parametrize("code, cls", [
    (-1000, RetryableError), (-1001, RetryableError), (-1016, RetryableError),
    (-1006, ExecutionUnknownError), (-1007, ExecutionUnknownError),
    (-1003, RateLimitedError), (-1015, RateLimitedError),
    (-1021, InvalidTimestampError),
    (-2021, OrderWouldTriggerError), (-4142, OrderWouldTriggerError),
    (-2022, ReduceOnlyRejectedError), (-4118, ReduceOnlyRejectedError),
    (-2011, UnknownOrderError), (-2013, UnknownOrderError),
    (-4116, DuplicateClientOrderIdError),
    (-1002, AuthError), (-1022, AuthError), (-2014, AuthError), (-2015, AuthError),
    (-2018, InsufficientMarginError), (-2019, InsufficientMarginError), (-2027, InsufficientMarginError),
    (-2028, InsufficientMarginError),
    (-1121, RequestError), (-4164, RequestError), (-1111, RequestError), (-4046, RequestError),
])
def test_code_mapping_keeps_code_message_status_endpoint(code, cls):
    exc = error_from_response(400, code, "venue text", "POST /fapi/v1/order")
    assert type(exc) is cls
    assert (exc.code, exc.msg, exc.status, exc.endpoint) == (code, "venue text", 400, "POST /fapi/v1/order")
    assert str(code) in str(exc) and "venue text" in str(exc) and "POST /fapi/v1/order" in str(exc)


@pytest.mark.parametrize("status, cls", [(500, RetryableError), (502, RetryableError), (503, ExecutionUnknownError),
                                         (504, ExecutionUnknownError), (401, AuthError), (403, RateLimitedError),
                                         (404, RequestError)])
def test_status_mapping_without_code(status, cls):
    exc = error_from_response(status, None, "", "GET /x")
    assert type(exc) is cls and exc.status == status


def test_429_and_418_carry_their_waits():
    limited = error_from_response(429, -1003, "slow down", headers={"Retry-After": "12"})
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 12.0
    assert error_from_response(429, -1003, "x").retry_after == 1.0
    banned = error_from_response(418, -1003, "banned", headers={"retry-after": "300"}, now_ms=1_000)
    assert isinstance(banned, BannedError) and banned.until_ms == 301_000
    assert error_from_response(418, None, "", now_ms=0).until_ms == 120_000      # documented minimum ban


def test_tree_is_ordered_by_what_the_caller_does():
    retry_later = (ExecutionUnknownError, RateLimitedError, BannedError)
    fix_request = (InvalidTimestampError, OrderWouldTriggerError, ReduceOnlyRejectedError, UnknownOrderError,
                   DuplicateClientOrderIdError)
    assert all(issubclass(c, RetryableError) for c in retry_later)
    assert all(issubclass(c, RequestError) for c in fix_request)
    assert not issubclass(AuthError, (RetryableError, RequestError))
    assert not issubclass(InsufficientMarginError, (RetryableError, RequestError))
    assert all(issubclass(c, ExchangeError) for c in retry_later + fix_request)


@pytest.mark.parametrize("status, body, cls, code", [
    (400, {"code": -2019, "msg": "Margin is insufficient."}, InsufficientMarginError, -2019),
    (400, {"code": "-2013", "msg": "Order does not exist."}, UnknownOrderError, -2013),     # code as a string
    (200, {"code": -1121, "msg": "Invalid symbol."}, RequestError, -1121),                 # error inside a 200
    (401, {"code": -2015, "msg": "Invalid API-key"}, AuthError, -2015),
    (502, "<html>bad gateway</html>", RetryableError, None),                               # not JSON
])
async def test_error_bodies_over_http(venue, make_client, status, body, cls, code):
    venue.add_fault("GET", "/fapi/v1/depth", "status", status=status, body=body)
    client = make_client(retries=0)
    with pytest.raises(cls) as info:
        await client.depth("BTCUSDT")
    assert info.value.code == code and info.value.endpoint == "GET /fapi/v1/depth"


async def test_success_pseudo_codes_are_success(venue, make_client):
    client = make_client()
    await client.set_position_mode(True)          # {"code": 200, "msg": "success"}
    await client.cancel_all("BTCUSDT")           # {"code": "200", ...}
