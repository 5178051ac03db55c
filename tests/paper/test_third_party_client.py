"""An unmodified third-party Binance-futures client (binance-futures-connector) trading on the paper exchange."""
from __future__ import annotations

from decimal import Decimal

import pytest
from binance.error import ClientError
from binance.um_futures import UMFutures

from tests.paper.api_helpers import WsReader

KEY, SECRET = "third-party-key", "third-party-secret-0123456789"


@pytest.fixture(scope="module")
def client(px):
    px.admin("POST", "/keys", key=KEY, secret=SECRET)             # its signatures are verified strictly
    return UMFutures(key=KEY, secret=SECRET, base_url=px.url)


def test_market_data_through_the_connector(client):
    assert client.ping() == {}
    assert client.time()["serverTime"] > 0
    symbols = {s["symbol"] for s in client.exchange_info()["symbols"]}
    assert {"BTCUSDT", "ETHUSDT"} <= symbols
    klines = client.klines("BTCUSDT", "15m", limit=10)
    assert len(klines) == 10 and klines[1][0] - klines[0][0] == 900_000
    assert Decimal(client.mark_price("BTCUSDT")["markPrice"]) > 0
    assert len(client.depth("ETHUSDT", limit=5)["bids"]) == 5
    assert client.book_ticker("ETHUSDT")["symbol"] == "ETHUSDT"
    assert float(client.ticker_24hr_price_change("BTCUSDT")["quoteVolume"]) > 75_000


def test_place_query_cancel_and_positions_through_the_connector(px, client):
    assert client.change_leverage(symbol="BTCUSDT", leverage=10)["leverage"] == 10
    resting = client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=0.002,
                               price=5000, newClientOrderId="tp-limit-1")
    assert resting["status"] == "NEW"
    assert client.query_order(symbol="BTCUSDT", orderId=resting["orderId"])["clientOrderId"] == "tp-limit-1"
    assert [o["orderId"] for o in client.get_orders(symbol="BTCUSDT")] == [resting["orderId"]]
    assert client.cancel_order(symbol="BTCUSDT", orderId=resting["orderId"])["status"] == "CANCELED"
    filled = client.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.003, newOrderRespType="RESULT")
    assert filled["status"] == "FILLED"
    pos = client.get_position_risk(symbol="BTCUSDT")
    assert len(pos) == 1 and pos[0]["positionAmt"] == "0.003" and Decimal(pos[0]["entryPrice"]) > 0
    account = client.account()
    assert Decimal(account["totalPositionInitialMargin"]) > 0
    assert client.balance()[0]["asset"] == "USDT"
    trades = client.get_account_trades(symbol="BTCUSDT")
    assert [t["orderId"] for t in trades] == [filled["orderId"]]
    assert any(i["incomeType"] == "COMMISSION" for i in client.get_income_history())
    stop = client.new_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice=1000, closePosition="true")
    assert stop["status"] == "NEW" and stop["closePosition"] is True
    assert client.cancel_open_orders(symbol="BTCUSDT")["code"] == "200"
    assert client.get_orders(symbol="BTCUSDT") == []


def test_connector_batch_orders_with_its_special_encoding(client):
    out = client.new_batch_order([
        {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "1000"},
        {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
         "price": "90000", "reduceOnly": True},
    ])
    assert out[0]["status"] == "NEW" and out[1]["code"] == -2022                      # nothing to reduce
    client.cancel_open_orders(symbol="ETHUSDT")


def test_connector_sees_the_venues_errors(client):
    with pytest.raises(ClientError) as e:
        client.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity=0.0001, price=5000)
    assert (e.value.status_code, e.value.error_code) == (400, -1111)
    with pytest.raises(ClientError) as e:
        client.query_order(symbol="BTCUSDT", orderId=42)
    assert e.value.error_code == -2013
    bad = UMFutures(key=KEY, secret="wrong-secret", base_url=client.base_url)
    with pytest.raises(ClientError) as e:
        bad.balance()
    assert e.value.error_code == -1022


def test_connector_listen_key_and_user_stream(px, client):
    key = client.new_listen_key()["listenKey"]
    with WsReader(f"{px.ws_url}/ws") as ws:                          # the connector's way: bare /ws + SUBSCRIBE
        ws.send({"method": "SUBSCRIBE", "params": [key], "id": 7})
        ws.until(lambda m: {"result": None, "id": 7} in m, what="subscribe ack")
        client.new_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=0.02)
        ws.until(lambda m: any(x.get("e") == "ORDER_TRADE_UPDATE" and x["o"]["X"] == "FILLED" for x in m),
                 what="the fill on the user stream")
    assert client.renew_listen_key(key) == {}
