"""The binance-usdm profile over HTTP: -4120 on the order endpoints, the Algo Service endpoints, ALGO_UPDATE
on the user stream, a triggered algo order followed to the regular order it became, restarts
(binance-algo-orders.md 2-6, 9.4). Real child paper exchange on 127.0.0.1."""
from __future__ import annotations

import json

import httpx
import pytest

from paper.testing import PaperExchange

from tests.paper.api_helpers import Api, WsReader, wait_for


@pytest.fixture(scope="module")
def bpx(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("binance"), symbols=("BTCUSDT", "ETHUSDT"), seed=9,
                       profile="binance-usdm") as px:
        yield px


@pytest.fixture
def api(bpx, request):
    a = Api(bpx.url, key=f"algo-{request.node.name}")
    a.sync_time()
    yield a
    a.close()


def mark(bpx) -> float:
    return float(httpx.get(bpx.url + "/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"}).json()["markPrice"])


def test_conditional_types_refused_on_the_order_endpoints(api):
    r = api.signed("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice="1000",
                   closePosition="true")
    assert (r.status_code, r.json()) == (400, {"code": -4120, "msg": "Order type not supported for this endpoint. "
                                                                    "Please use the Algo Order API endpoints instead."})
    batch = json.dumps([{"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002", "price": "20000",
                         "timeInForce": "GTC"},
                        {"symbol": "BTCUSDT", "side": "BUY", "type": "TAKE_PROFIT_MARKET", "quantity": "0.002",
                         "stopPrice": "20000"}])
    out = api.ok("POST", "/fapi/v1/batchOrders", batchOrders=batch)
    assert out[0]["status"] == "NEW" and out[1]["code"] == -4120            # per element, in its slot
    api.ok("DELETE", "/fapi/v1/allOpenOrders", symbol="BTCUSDT")


def test_exchange_info_has_no_algo_order_filter(bpx):
    info = httpx.get(bpx.url + "/fapi/v1/exchangeInfo").json()
    kinds = {f["filterType"] for s in info["symbols"] for f in s["filters"]}
    assert "MAX_NUM_ALGO_ORDERS" not in kinds and "MAX_NUM_ORDERS" in kinds


def test_algo_place_query_list_cancel(bpx, api):
    price = mark(bpx)
    new = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
                 type="STOP_MARKET", triggerPrice=f"{round(price * 1.5)}", quantity="0.002", clientAlgoId="up-1",
                 workingType="MARK_PRICE", priceProtect="TRUE")
    assert new["algoStatus"] == "NEW" and new["orderType"] == "STOP_MARKET" and new["algoId"] >= 3 * 10 ** 15
    assert new["clientAlgoId"] == "up-1" and new["priceProtect"] is True and new["triggerTime"] == 0
    got = api.ok("GET", "/fapi/v1/algoOrder", clientAlgoId="up-1")
    assert got["algoId"] == new["algoId"] and got["actualOrderId"] == ""
    assert [o["algoId"] for o in api.ok("GET", "/fapi/v1/openAlgoOrders")] == [new["algoId"]]
    assert api.ok("GET", "/fapi/v1/openOrders", symbol="BTCUSDT") == []              # not a regular order
    assert api.err("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=new["algoId"]) == (400, -2013)
    assert api.err("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=new["algoId"]) == (400, -2011)
    assert api.err("POST", "/fapi/v1/algoOrder", algoType="VP", symbol="BTCUSDT", side="BUY", type="STOP_MARKET",
                   triggerPrice="1", quantity="0.002")[1] == -1130
    assert api.err("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
                   type="STOP_MARKET", quantity="0.002")[1] == -1102                  # triggerPrice missing
    assert api.err("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
                   type="LIMIT", price="1000", quantity="0.002")[1] == -1116
    out = api.ok("DELETE", "/fapi/v1/algoOrder", algoId=new["algoId"])
    assert out == {"algoId": new["algoId"], "clientAlgoId": "up-1", "code": "200", "msg": "success"}
    assert api.ok("GET", "/fapi/v1/algoOrder", algoId=new["algoId"])["algoStatus"] == "CANCELED"
    assert api.err("DELETE", "/fapi/v1/algoOrder", algoId=new["algoId"])[1] == -2011
    for i in range(2):
        api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
               type="TRAILING_STOP_MARKET", quantity="0.002", callbackRate="12.5")
    assert api.err("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
                   type="TRAILING_STOP_MARKET", quantity="0.002", callbackRate="21")[1] == -1130
    assert api.ok("DELETE", "/fapi/v1/algoOpenOrders", symbol="BTCUSDT") == {
        "code": 200, "msg": "The operation of cancel all open order is done."}
    history = api.ok("GET", "/fapi/v1/allAlgoOrders", symbol="BTCUSDT")
    assert [o["algoStatus"] for o in history] == ["CANCELED"] * 3
    assert history[1]["callbackRate"] == "12.5"


def test_triggered_algo_becomes_a_regular_order_with_stream_events(bpx, api):
    key = api.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    price = mark(bpx)
    with WsReader(f"{bpx.ws_url}/ws/{key}") as ws:
        api.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.004")
        trigger = round(price * 0.9)
        algo = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
                      type="STOP_MARKET", triggerPrice=str(trigger), quantity="0.004", reduceOnly="true",
                      clientAlgoId="sl-btc-42")
        bpx.admin("POST", "/price", api_key=api.key, symbol="BTCUSDT", price=str(trigger - 10))
        try:
            done = ws.until(lambda ms: [m for m in ms if m.get("e") == "ALGO_UPDATE" and m["o"]["X"] == "FINISHED"],
                            what="ALGO_UPDATE FINISHED")[0]["o"]
        finally:
            bpx.admin("DELETE", "/price", symbol="BTCUSDT")
        algo_events = [m["o"] for m in ws.messages if m.get("e") == "ALGO_UPDATE"]
        assert [o["X"] for o in algo_events] == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]
        assert all(o["aid"] == algo["algoId"] and o["caid"] == "sl-btc-42" for o in algo_events)
        child_id = int(algo_events[2]["ai"])
        assert algo_events[2]["act"] == "MARKET" and algo_events[2]["tt"] > 0
        assert done["aq"] == "0.004" and float(done["ap"]) > 0
        child = [m["o"] for m in ws.messages if m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["i"] == child_id]
        assert child[0]["c"] == "sl-btc-42" and child[-1]["X"] == "FILLED" and child[-1]["R"] is True
        # no ORDER_TRADE_UPDATE ever carries the algo id
        assert not [m for m in ws.messages if m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["i"] == algo["algoId"]]
    got = api.ok("GET", "/fapi/v1/algoOrder", algoId=algo["algoId"])
    assert (got["algoStatus"], got["actualOrderId"], got["actualType"], got["actualQty"]) == (
        "FINISHED", str(child_id), "MARKET", "0.004")
    assert api.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=child_id)["clientOrderId"] == "sl-btc-42"
    assert api.ok("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")[0]["positionAmt"] == "0.000"


def test_admin_venue_cancel_of_an_algo_order(bpx, api):
    algo = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="ETHUSDT", side="BUY",
                  type="TAKE_PROFIT_MARKET", triggerPrice="100", quantity="0.05")
    state = bpx.admin("GET", "/state", account=api.key)["accounts"][api.key]
    assert [o["algoId"] for o in state["open_algo_orders"]] == [algo["algoId"]] and state["open_orders"] == []
    out = bpx.admin("POST", "/orders/cancel", api_key=api.key, symbol="ETHUSDT", algoId=algo["algoId"],
                    status="EXPIRED")
    assert out["algoStatus"] == "EXPIRED"


def test_aster_profiles_do_not_serve_the_algo_service(px):
    r = httpx.post(px.url + "/fapi/v1/algoOrder", params={"symbol": "BTCUSDT"})
    assert r.status_code == 404


def test_algo_orders_and_their_links_survive_a_restart(tmp_path):
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), profile="binance-usdm") as px:
        api = Api(px.url, key="restart-algo")
        api.sync_time()
        price = mark(px)
        waiting = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
                         type="STOP_MARKET", triggerPrice=str(round(price * 1.3)), quantity="0.002")
        resting = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
                         type="STOP", triggerPrice=str(round(price * 1.01)), price=str(round(price * 0.5)),
                         quantity="0.002", timeInForce="GTC")
        px.admin("POST", "/price", api_key=api.key, symbol="BTCUSDT", price=str(round(price * 1.02)))
        px.admin("DELETE", "/price", symbol="BTCUSDT")
        child = int(api.ok("GET", "/fapi/v1/algoOrder", algoId=resting["algoId"])["actualOrderId"])
        px.restart()
        api.sync_time()
        assert [o["algoId"] for o in api.ok("GET", "/fapi/v1/openAlgoOrders")] == [waiting["algoId"]]
        assert api.ok("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=child)["status"] == "CANCELED"
        assert wait_for(lambda: api.ok("GET", "/fapi/v1/algoOrder", algoId=resting["algoId"])["algoStatus"]
                        == "FINISHED", what="the parent finished after the child was cancelled")
        again = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
                       type="STOP_MARKET", triggerPrice=str(round(price * 1.3)), quantity="0.002")
        assert again["algoId"] > resting["algoId"]                   # ids continue after a restart
        api.close()


def test_event_mixing_switch_drops_triggered_and_shuffles(bpx, api):
    """The admin switch reproduces what Binance clients meet (no TRIGGERED; fills before algo events), so a
    client's reconciliation by ids can be tested; every event but TRIGGERED still arrives."""
    key = api.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    assert bpx.admin("POST", "/algo-events", shuffle=True, drop_triggered=True) == {"shuffle": True,
                                                                                     "drop_triggered": True}
    try:
        with WsReader(f"{bpx.ws_url}/ws/{key}") as ws:
            api.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.05")
            eth = float(httpx.get(bpx.url + "/fapi/v1/premiumIndex", params={"symbol": "ETHUSDT"}).json()["markPrice"])
            trigger = round(eth * 1.1, 2)
            algo = api.ok("POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="ETHUSDT", side="BUY",
                          type="STOP_MARKET", triggerPrice=str(trigger), closePosition="true")
            bpx.admin("POST", "/price", api_key=api.key, symbol="ETHUSDT", price=str(round(trigger * 1.01, 2)))
            try:
                ws.until(lambda ms: any(m.get("e") == "ALGO_UPDATE" and m["o"]["X"] == "FINISHED" for m in ms)
                         and any(m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED"
                                 and m["o"]["c"] == algo["clientAlgoId"] for m in ms), what="the fired stop")
            finally:
                bpx.admin("DELETE", "/price", symbol="ETHUSDT")
        statuses = {m["o"]["X"] for m in ws.messages if m.get("e") == "ALGO_UPDATE"}
        assert statuses == {"NEW", "TRIGGERING", "FINISHED"}                     # TRIGGERED dropped
    finally:
        assert bpx.admin("POST", "/algo-events") == {"shuffle": False, "drop_triggered": False}
    assert api.ok("GET", "/fapi/v1/algoOrder", algoId=algo["algoId"])["actualOrderId"] != ""   # REST still links
