"""The venue API over real HTTP and WebSocket, against a paper exchange in a child process."""
from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from tests.paper.api_helpers import Api, WsReader, wait_for

# the reference's worked example (section 2.3), verified to the hex digit
EX_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
EX_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
EX_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
EX_SIG = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
EX3_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
EX3_BODY = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
EX3_SIG = "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"


@pytest.fixture
def api(px, request):
    a = Api(px.url, key=f"k-{request.node.name[:40]}", secret="s" * 16)
    yield a
    a.close()


def test_public_market_data_has_the_venue_shapes(px):
    a = Api(px.url)
    assert a.public("/fapi/v1/ping") == {}
    assert abs(a.public("/fapi/v1/time")["serverTime"] - time.time() * 1000) < 5000
    info = a.public("/fapi/v1/exchangeInfo")
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01" and filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert btc["orderTypes"] == btc["OrderType"] and "TRAILING_STOP_MARKET" in btc["orderTypes"]
    rows = a.public("/fapi/v1/klines", symbol="BTCUSDT", interval="5m", limit=20)
    assert len(rows) == 20 and all(len(r) == 12 for r in rows)
    assert isinstance(rows[0][0], int) and isinstance(rows[0][1], str) and isinstance(rows[0][8], int)
    assert all(rows[i + 1][0] - rows[i][0] == 300_000 for i in range(19))
    assert all(Decimal(r[3]) <= min(Decimal(r[1]), Decimal(r[4])) <= max(Decimal(r[1]), Decimal(r[4]))
               <= Decimal(r[2]) for r in rows)
    book = a.public("/fapi/v1/ticker/bookTicker", symbol="BTCUSDT")
    assert Decimal(book["bidPrice"]) < Decimal(book["askPrice"])
    depth = a.public("/fapi/v1/depth", symbol="BTCUSDT", limit=10)
    bids, asks = [Decimal(b[0]) for b in depth["bids"]], [Decimal(x[0]) for x in depth["asks"]]
    assert len(bids) == len(asks) == 10 and bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]
    prem = a.public("/fapi/v1/premiumIndex", symbol="BTCUSDT")
    assert prem["nextFundingTime"] % (8 * 3600_000) == 0 and prem["nextFundingTime"] > time.time() * 1000
    tickers = a.public("/fapi/v1/ticker/24hr")
    assert {t["symbol"] for t in tickers} == {"BTCUSDT", "ETHUSDT"}
    assert all(float(t["quoteVolume"]) > 75_000 for t in tickers)         # the bot's universe filter admits them
    aggs = a.public("/fapi/v1/aggTrades", symbol="ETHUSDT", limit=5)
    assert len(aggs) == 5 and {"a", "p", "q", "f", "l", "T", "m"} <= set(aggs[0])
    rates = a.public("/fapi/v1/fundingRate", symbol="BTCUSDT", limit=3)
    assert len(rates) == 3 and all(r["fundingTime"] % (8 * 3600_000) == 0 for r in rates)
    with pytest.raises(AssertionError):
        a.public("/fapi/v1/depth", symbol="BTCUSDT", limit=7)
    assert httpx.get(f"{px.url}/fapi/v1/klines", params={"symbol": "NOPE", "interval": "1m"}).json()["code"] == -1121
    assert httpx.get(f"{px.url}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "7m"}).json()["code"] == -1120


def test_every_interval_aggregates_its_one_minute_bars(px):
    a = Api(px.url)
    bars_30m = a.public("/fapi/v1/klines", symbol="ETHUSDT", interval="30m", limit=3)
    closed = bars_30m[-2]
    ones = a.public("/fapi/v1/klines", symbol="ETHUSDT", interval="1m", startTime=closed[0], limit=30)
    assert len(ones) == 30 and ones[0][0] == closed[0] and ones[-1][6] == closed[6]
    assert closed[1] == ones[0][1] and closed[4] == ones[-1][4]
    assert Decimal(closed[2]) == max(Decimal(r[2]) for r in ones)
    assert Decimal(closed[3]) == min(Decimal(r[3]) for r in ones)
    assert abs(float(closed[5]) - sum(float(r[5]) for r in ones)) < 0.01
    assert closed[8] == sum(r[8] for r in ones)


@pytest.mark.parametrize("interval,step", [("1m", 60_000), ("15m", 900_000), ("4h", 14_400_000),
                                           ("1d", 86_400_000)])
def test_up_to_1500_closed_klines_of_any_interval_from_the_first_second(px, interval, step):
    rows = Api(px.url).public("/fapi/v1/klines", symbol="BTCUSDT", interval=interval, limit=1500)
    assert len(rows) == 1500
    assert all(rows[i + 1][0] - rows[i][0] == step for i in range(1499))
    assert rows[-1][0] <= time.time() * 1000 < rows[-1][6] + 5000        # the last one is the forming bar


def test_signature_checked_byte_for_byte_with_the_reference_vectors(px):
    px.admin("POST", "/keys", key=EX_KEY, secret=EX_SECRET)
    h = {"X-MBX-APIKEY": EX_KEY}
    # a valid signature passes the signature check and fails on the (2020) timestamp: -1021
    r = httpx.post(f"{px.url}/fapi/v1/order?{EX_QUERY}&signature={EX_SIG}", headers=h)
    assert (r.status_code, r.json()["code"]) == (400, -1021)
    r = httpx.post(f"{px.url}/fapi/v1/order", content=f"{EX_QUERY}&signature={EX_SIG}",
                   headers={**h, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["code"] == -1021
    r = httpx.post(f"{px.url}/fapi/v1/order?{EX3_QUERY}", content=f"{EX3_BODY}&signature={EX3_SIG}",
                   headers={**h, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["code"] == -1021
    # the doc's erratum (Example 3 printed with Example 1's signature) is rejected: -1022
    r = httpx.post(f"{px.url}/fapi/v1/order?{EX3_QUERY}", content=f"{EX3_BODY}&signature={EX_SIG}",
                   headers={**h, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["code"] == -1022
    r = httpx.post(f"{px.url}/fapi/v1/order?{EX_QUERY.replace('9000', '9001')}&signature={EX_SIG}", headers=h)
    assert r.json()["code"] == -1022


def test_default_pair_is_verified_and_keys_are_required(px):
    good = Api(px.url)
    assert good.signed("GET", "/fapi/v2/balance").status_code == 200
    bad = Api(px.url, secret="not-the-secret")
    assert bad.err("GET", "/fapi/v2/balance") == (400, -1022)
    r = httpx.get(f"{px.url}/fapi/v2/balance", params={"timestamp": int(time.time() * 1000)})
    assert (r.status_code, r.json()["code"]) == (401, -2014)
    r = httpx.get(f"{px.url}/fapi/v2/balance", params={"timestamp": int(time.time() * 1000)},
                  headers={"X-MBX-APIKEY": "other"})
    assert r.json()["code"] == -1102                                      # no signature sent


def test_timestamp_window(api):
    now = int(time.time() * 1000)
    assert api.err("GET", "/fapi/v2/balance", timestamp=now + 3000) == (400, -1021)
    assert api.err("GET", "/fapi/v2/balance", timestamp=now - 9000) == (400, -1021)
    assert api.signed("GET", "/fapi/v2/balance", timestamp=now - 9000, recvWindow=20000).status_code == 200
    assert api.err("GET", "/fapi/v2/balance", recvWindow=70000) == (400, -1130)


def test_order_lifecycle_over_rest(api):
    new = api.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                 quantity="0.010", price="1000.00", newClientOrderId="mr-BTCUSDT.t1-EN")
    assert new["status"] == "NEW" and new["origQty"] == "0.010" and new["price"] == "1000.00"
    got = api.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="mr-BTCUSDT.t1-EN")
    assert got["orderId"] == new["orderId"] and got["status"] == "NEW"
    assert [o["orderId"] for o in api.ok("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")] == [new["orderId"]]
    assert api.ok("GET", "/fapi/v1/openOrder", symbol="BTCUSDT", orderId=new["orderId"])["status"] == "NEW"
    cancelled = api.ok("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=new["orderId"])
    assert cancelled["status"] == "CANCELED"
    assert api.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=new["orderId"])["status"] == "CANCELED"
    assert api.err("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=new["orderId"]) == (400, -2011)
    assert api.err("GET", "/fapi/v1/openOrder", symbol="BTCUSDT", orderId=new["orderId"]) == (400, -2013)
    assert api.err("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=1) == (400, -2013)
    assert [o["orderId"] for o in api.ok("GET", "/fapi/v1/allOrders", symbol="BTCUSDT")] == [new["orderId"]]
    # RESULT: a market order answers its final state; ACK: as accepted
    result = api.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002",
                    newOrderRespType="RESULT")
    assert result["status"] == "FILLED" and Decimal(result["avgPrice"]) > 0
    ack = api.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.002")
    assert ack["status"] == "NEW" and ack["executedQty"] == "0.000"
    assert api.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=ack["orderId"])["status"] == "FILLED"
    trades = api.ok("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert {t["orderId"] for t in trades} == {result["orderId"], ack["orderId"]}
    incomes = api.ok("GET", "/fapi/v1/income", incomeType="COMMISSION")
    assert incomes and all(Decimal(i["income"]) < 0 for i in incomes)
    test_order = api.ok("POST", "/fapi/v1/order/test", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002")
    assert test_order["orderId"] == 0
    assert api.err("POST", "/fapi/v1/order/test", symbol="BTCUSDT", side="BUY", type="MARKET",
                   quantity="0.0001") == (400, -1111)


def test_batch_orders_answer_in_input_order(api):
    import json
    batch = [{"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
              "price": "5000"},
             {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002",
              "price": "5000.001"},
             {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
              "price": "100000"}]
    out = api.ok("POST", "/fapi/v1/batchOrders", batchOrders=json.dumps(batch))
    assert out[0]["status"] == "NEW" and out[1] == {"code": -1111, "msg": out[1]["msg"]} and out[2]["status"] == "NEW"
    assert api.err("POST", "/fapi/v1/batchOrders", batchOrders=json.dumps(batch * 2)) == (400, -4082)
    cancel = api.ok("DELETE", "/fapi/v1/batchOrders", symbol="BTCUSDT", orderIdList=json.dumps([out[0]["orderId"], 5]))
    assert cancel[0]["status"] == "CANCELED" and cancel[1]["code"] == -2011
    assert api.ok("DELETE", "/fapi/v1/allOpenOrders", symbol="ETHUSDT") == {
        "code": "200", "msg": "The operation of cancel all open order is done."}
    assert api.ok("GET", "/fapi/v1/openOrders") == []


def test_account_endpoints(api):
    api.ok("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=5)
    assert api.ok("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED") == {"code": 200,
                                                                                         "msg": "success"}
    assert api.err("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED") == (400, -4046)
    api.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.01")
    rows = api.ok("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
    assert len(rows) == 1 and rows[0]["positionAmt"] == "-0.010" and rows[0]["marginType"] == "isolated"
    assert rows[0]["leverage"] == "5" and Decimal(rows[0]["liquidationPrice"]) > Decimal(rows[0]["entryPrice"])
    assert Decimal(rows[0]["isolatedWallet"]) > 0
    assert [r["symbol"] for r in api.ok("GET", "/fapi/v3/positionRisk")] == ["BTCUSDT"]
    for path in ("/fapi/v2/account", "/fapi/v4/account"):
        acct = api.ok("GET", path)
        assert Decimal(acct["totalMaintMargin"]) > 0 and acct["assets"][0]["asset"] == "USDT"
        assert any(p["symbol"] == "BTCUSDT" and p["positionAmt"] == "-0.010" for p in acct["positions"])
    bal = api.ok("GET", "/fapi/v2/balance")[0]
    assert Decimal(bal["balance"]) < 10000 and Decimal(bal["availableBalance"]) < Decimal(bal["balance"])
    assert api.ok("GET", "/fapi/v1/commissionRate", symbol="BTCUSDT") == {
        "symbol": "BTCUSDT", "makerCommissionRate": "0.0002", "takerCommissionRate": "0.0004"}
    assert api.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}
    assert api.err("POST", "/fapi/v1/positionSide/dual", dualSidePosition="true") == (400, -4068)
    brackets = api.ok("GET", "/fapi/v1/leverageBracket", symbol="BTCUSDT")
    assert brackets["brackets"][0]["initialLeverage"] == 125


def test_user_stream_reports_orders_and_balances(px, api):
    key = api.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    assert api.ok("POST", "/fapi/v1/listenKey")["listenKey"] == key                  # same key while active
    with WsReader(f"{px.ws_url}/ws/{key}") as ws:
        placed = api.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.05",
                        newClientOrderId="mr-ETHUSDT.u1-EN")
        ws.until(lambda m: any(x["e"] == "ACCOUNT_UPDATE" for x in m), what="ACCOUNT_UPDATE")
    updates = [m for m in ws.messages if m["e"] == "ORDER_TRADE_UPDATE"]
    assert [u["o"]["x"] for u in updates][:2] == ["NEW", "TRADE"]
    assert all(u["o"]["i"] == placed["orderId"] and u["o"]["c"] == "mr-ETHUSDT.u1-EN" for u in updates)
    assert updates[-1]["o"]["X"] == "FILLED" and updates[-1]["o"]["z"] == "0.050" and updates[-1]["o"]["N"] == "USDT"
    acct = next(m for m in ws.messages if m["e"] == "ACCOUNT_UPDATE")
    assert acct["a"]["m"] == "ORDER" and acct["a"]["P"][0]["s"] == "ETHUSDT" and acct["a"]["P"][0]["pa"] == "0.050"
    assert api.signed("PUT", "/fapi/v1/listenKey").status_code == 200
    assert api.signed("DELETE", "/fapi/v1/listenKey").status_code == 200
    r = api.signed("PUT", "/fapi/v1/listenKey", listenKey=key)
    assert r.json()["code"] == -1125


def test_market_streams_raw_combined_and_subscribe(px):
    with WsReader(f"{px.ws_url}/stream?streams=btcusdt@bookTicker/ethusdt@markPrice@1s") as ws:
        got = ws.until(lambda m: {x["stream"] for x in m} >= {"btcusdt@bookTicker", "ethusdt@markPrice@1s"},
                       what="both combined streams")
        assert got
        book = next(x["data"] for x in ws.messages if x["stream"] == "btcusdt@bookTicker")
        assert book["e"] == "bookTicker" and Decimal(book["b"]) < Decimal(book["a"])
    with WsReader(f"{px.ws_url}/ws") as ws:
        ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@depth5@100ms"], "id": 1})
        ws.until(lambda m: {"result": None, "id": 1} in m, what="subscribe ack")
        ws.until(lambda m: any(x.get("e") == "depthUpdate" for x in m), what="depth5")
        depth = next(x for x in ws.messages if x.get("e") == "depthUpdate")
        assert len(depth["b"]) == 5 and len(depth["a"]) == 5 and {"U", "u", "pu"} <= set(depth)
        ws.send({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        ws.until(lambda m: any(x.get("id") == 2 for x in m), what="list")
        assert next(x for x in ws.messages if x.get("id") == 2)["result"] == ["btcusdt@aggTrade", "btcusdt@depth5@100ms"]
        ws.ws.send("not json")
        ws.until(lambda m: any(x.get("code") == 3 for x in m), what="invalid JSON error")
        ws.send({"method": "GET_PROPERTY", "params": ["combined"], "id": 4})
        ws.until(lambda m: {"result": False, "id": 4} in m, what="combined property")


def test_admin_drives_stops_through_the_user_stream(px, api):
    key = api.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    admin_key = api.key
    px.admin("POST", "/price", api_key=admin_key, symbol="ETHUSDT", price="3000")
    try:
        api.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.1")
        sl = api.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="SELL", type="STOP_MARKET", stopPrice="2900",
                    closePosition="true", workingType="MARK_PRICE", newClientOrderId="mr-ETHUSDT.s1-SL")
        with WsReader(f"{px.ws_url}/ws/{key}") as ws:
            px.admin("POST", "/price", symbol="ETHUSDT", price="2899")
            ws.until(lambda m: any(x["e"] == "ORDER_TRADE_UPDATE" and x["o"]["X"] == "FILLED" for x in m),
                     what="stop filled")
        state = px.admin("GET", "/state", account=admin_key)["accounts"][admin_key]
        assert state["positions"] == [] and state["open_orders"] == []
        final = api.ok("GET", "/fapi/v1/order", symbol="ETHUSDT", orderId=sl["orderId"])
        assert final["status"] == "FILLED" and final["type"] == "MARKET" and final["origType"] == "STOP_MARKET"
        assert api.ok("GET", "/fapi/v1/ticker/price", symbol="ETHUSDT")["price"] == "2899.00"
    finally:
        px.admin("DELETE", "/price", symbol="ETHUSDT")
    assert wait_for(lambda: api.public("/fapi/v1/ticker/price", symbol="ETHUSDT")["price"] != "2899.00",
                    what="the feed to move the released price")


def test_admin_cancel_expire_fill_and_balance(px, api):
    o = api.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
               quantity="0.010", price="1000")
    filled = px.admin("POST", "/orders/fill", api_key=api.key, symbol="BTCUSDT", orderId=o["orderId"], qty="0.004")
    assert filled["status"] == "PARTIALLY_FILLED" and filled["executedQty"] == "0.004"
    expired = px.admin("POST", "/orders/cancel", api_key=api.key, symbol="BTCUSDT", orderId=o["orderId"],
                       status="EXPIRED")
    assert expired["status"] == "EXPIRED"
    assert px.admin("POST", "/balance", api_key=api.key, balance="777")["balance"] == "777.00000000"
    assert api.ok("GET", "/fapi/v2/balance")[0]["balance"] == "777.00000000"
    with pytest.raises(Exception) as e:
        px.admin("POST", "/orders/cancel", api_key=api.key, symbol="BTCUSDT", orderId=o["orderId"])
    assert "-2011" in str(e.value)
    info = httpx.get(f"{px.url}/paper/info").json()
    assert info["feed"]["name"] == "synthetic" and info["admin"] is True and set(info["symbols"]) == {"BTCUSDT",
                                                                                                   "ETHUSDT"}
