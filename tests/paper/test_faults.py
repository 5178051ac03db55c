"""Every fault-injection mode, as a client observes it."""
from __future__ import annotations

import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.paper.api_helpers import Api, WsReader, wait_for


@pytest.fixture
def api(px, request):
    a = Api(px.url, key=f"f-{request.node.name[:40]}", secret="s" * 16)
    yield a
    px.admin("DELETE", "/faults")
    a.close()


def open_orders(api: Api) -> list:
    return api.ok("GET", "/fapi/v1/openOrders")


def test_latency_delays_venue_requests(px, api):
    px.admin("POST", "/faults", latency_ms=300)
    t = time.monotonic()
    assert api.public("/fapi/v1/ping") == {}
    assert time.monotonic() - t >= 0.29
    assert px.admin("GET", "/faults")["faults"] == {"latency_ms": 300}


def test_burst_429_with_retry_after_spares_admin_and_info(px, api):
    px.admin("POST", "/faults", burst_429=2)
    assert httpx.get(f"{px.url}/paper/info").status_code == 200           # never faulted
    for _ in range(2):
        r = httpx.get(f"{px.url}/fapi/v1/time")
        assert (r.status_code, r.json()["code"], r.headers["retry-after"]) == (429, -1003, "1")
    assert httpx.get(f"{px.url}/fapi/v1/time").status_code == 200


def test_error_rate_answers_5xx_and_executes_nothing(px, api):
    px.admin("POST", "/faults", error_rate=1.0)
    r = api.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                   quantity="0.002", price="5000", newClientOrderId="mr-BTCUSDT.e1-EN")
    assert r.status_code == 500 and r.json()["code"] == -1001
    px.admin("DELETE", "/faults")
    assert open_orders(api) == []


def test_drop_rate_closes_the_connection_and_executes_nothing(px, api):
    px.admin("POST", "/faults", drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        api.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                   quantity="0.002", price="5000")
    px.admin("DELETE", "/faults")
    assert open_orders(api) == []


def test_lost_order_response_executes_the_order(px, api):
    px.admin("POST", "/faults", lose_order_response=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                   quantity="0.002", price="5000", newClientOrderId="mr-BTCUSDT.l1-EN")
    found = api.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="mr-BTCUSDT.l1-EN")
    assert found["status"] == "NEW"
    again = api.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                       quantity="0.002", price="5000", newClientOrderId="mr-BTCUSDT.l1-EN")
    assert again.json()["code"] == -4116                                   # a blind retry cannot double it


def test_late_order_answers_unknown_then_executes_after_the_lookup(px, api):
    """The order is answered 503 -1007, a look-up right after says -2013, and the venue executes it later:
    the situation in which a client that places again doubles its position (issue 12 item 3)."""
    px.admin("POST", "/faults", late_order=1, late_order_ms=800)
    assert px.admin("GET", "/faults")["faults"] == {"late_order": 1, "late_order_ms": 800}
    r = api.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002",
                   newClientOrderId="mr-BTCUSDT.t1-EN")
    assert r.status_code == 503 and r.json()["code"] == -1007
    assert api.err("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="mr-BTCUSDT.t1-EN") == (400, -2013)
    found = wait_for(lambda: api.signed("GET", "/fapi/v1/order", symbol="BTCUSDT",
                                        origClientOrderId="mr-BTCUSDT.t1-EN").json().get("status"),
                     timeout=5, what="the late execution")
    assert found == "FILLED"
    (pos,) = [p for p in api.ok("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT") if float(p["positionAmt"])]
    assert pos["positionAmt"] == "0.002"
    assert px.admin("GET", "/faults")["faults"] == {"late_order_ms": 800}    # one placement only


def test_ban_418_until_it_ends(px, api):
    px.admin("POST", "/faults", ban_418=1)
    r = httpx.get(f"{px.url}/fapi/v1/ping")
    assert r.status_code == 418 and r.json()["code"] == -1003 and int(r.headers["retry-after"]) >= 1
    wait_for(lambda: httpx.get(f"{px.url}/fapi/v1/ping").status_code == 200, timeout=5, what="the ban to end")


def test_clock_skew_gives_1021_until_the_client_resyncs(px, api):
    px.admin("POST", "/faults", clock_skew_ms=30_000)
    assert api.err("GET", "/fapi/v2/balance") == (400, -1021)
    assert api.sync_time() > 25_000
    assert api.signed("GET", "/fapi/v2/balance").status_code == 200


def test_ws_disconnect_drops_every_websocket(px, api):
    with WsReader(f"{px.ws_url}/ws/btcusdt@bookTicker") as ws:
        ws.until(lambda m: m, what="a first message")
        assert px.admin("POST", "/faults", ws_disconnect=1)["ws_dropped"] >= 1
        with pytest.raises(ConnectionClosed):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                ws.ws.recv(timeout=1)
    with WsReader(f"{px.ws_url}/ws/btcusdt@bookTicker") as ws:            # reconnecting works
        ws.until(lambda m: m, what="a message after reconnect")


def test_bad_fault_names_are_refused(px):
    with pytest.raises(Exception) as e:
        px.admin("POST", "/faults", latency=5)
    assert "unknown fault" in str(e.value)
