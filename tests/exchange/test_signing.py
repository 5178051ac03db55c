"""Signing: the reference's worked example to the hex digit, and the exact bytes a signed call sends."""
from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import parse_qsl

import httpx
import pytest

from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.signing import encode_params, signature, signed_query

SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
API_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
EXAMPLE_PARAMS = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "9000"),
                  ("timeInForce", "GTC")]


@pytest.mark.parametrize("payload, expected", [
    # Example 1/2: everything in the query or everything in the body
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
     "&timestamp=1591702613943", "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"),
    # Example 3: query and body concatenated without '&' (the doc's printed value is an erratum)
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=9000&recvWindow=5000"
     "&timestamp=1591702613943", "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"),
    # same parameters in another order sign differently
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=9000&recvWindow=5000"
     "&timestamp=1591702613943", "ec11dcc17e67e47f0d3c3f513dfe9062307e37619c5c82ebaa8fe0bdf3d59519"),
])
def test_reference_signature_vectors(payload, expected):
    assert signature(SECRET, payload) == expected


def test_signed_query_reproduces_worked_example():
    query = signed_query(EXAMPLE_PARAMS, SECRET, timestamp_ms=1591702613943, recv_window_ms=5000)
    assert query == ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
                     "&timestamp=1591702613943&signature="
                     "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9")


def test_signature_is_last_and_caller_cannot_smuggle_timestamp():
    query = signed_query([("symbol", "X"), ("timestamp", "1"), ("signature", "bad")], "s", timestamp_ms=5,
                         recv_window_ms=None)
    pairs = parse_qsl(query)
    assert [k for k, _ in pairs] == ["symbol", "timestamp", "signature"]
    assert dict(pairs)["timestamp"] == "5"


def test_encoding_escapes_reserved_characters():
    assert encode_params([("origClientOrderId", "mr-BTC.x:y/z"), ("a", "b c&d")]) == \
        "origClientOrderId=mr-BTC.x%3Ay%2Fz&a=b%20c%26d"


async def test_client_sends_exactly_the_signed_bytes_with_key_header(caplog):
    """A MockTransport sees the request as sent: the HMAC of the query before `&signature=` must match,
    the key travels only in the header, and neither key nor secret nor signature reaches the log."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/fapi/v1/time":
            return httpx.Response(200, json={"serverTime": 1591702613000})
        return httpx.Response(200, json=[])

    caplog.set_level(logging.DEBUG)
    client = BinanceCompatibleClient("http://venue.test", "ws://venue.test", API_KEY, SECRET,
                                     transport=httpx.MockTransport(handler), recv_window_ms=5000)
    try:
        await client.open_orders("BTCUSDT")
    finally:
        await client.close()
    request = seen[-1]
    raw = request.url.query.decode()
    payload, sig = raw.rsplit("&signature=", 1)
    assert hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest() == sig
    params = dict(parse_qsl(raw))
    assert params["recvWindow"] == "5000" and params["symbol"] == "BTCUSDT"
    assert request.headers["X-MBX-APIKEY"] == API_KEY
    assert "X-MBX-APIKEY" not in seen[0].headers        # the public /time call carries no key
    text = caplog.text
    assert SECRET not in text and API_KEY not in text and sig not in text


async def test_v3_client_logs_no_signature_or_key(caplog):
    """aster-v3 through a MockTransport: the signed query is sent as signed, and httpx's request log line
    shows neither the 0x signature nor the agent key."""
    from mraster.exchange import v3sign
    from mraster.exchange.auth import V3Auth, V3Credentials
    key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/fapi/v3/time":
            return httpx.Response(200, json={"serverTime": 1591702613000})
        return httpx.Response(200, json=[])

    caplog.set_level(logging.DEBUG)
    client = BinanceCompatibleClient("http://venue.test", "ws://venue.test", transport=httpx.MockTransport(handler),
                                     profile="aster-v3", auth=V3Auth(V3Credentials("", "", key)))
    try:
        await client.open_orders("BTCUSDT")
    finally:
        await client.close()
    raw = seen[-1].url.query.decode()
    got = v3sign.verify_payload(raw, 1666)
    assert got.ok and seen[-1].url.path == "/fapi/v3/openOrders" and "X-MBX-APIKEY" not in seen[-1].headers
    sig = raw.rsplit("&signature=", 1)[1]
    assert sig.startswith("0x") and sig[2:] not in caplog.text and key[2:] not in caplog.text
    assert "signature=***" in caplog.text or "openOrders" not in caplog.text
