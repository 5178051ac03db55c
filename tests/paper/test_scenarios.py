"""Scenarios driven through the admin API, as the bot's and guard's tests drive them: forced liquidation,
funding when the clock passes a settlement, the countdown cancel-all, depth diff streams."""
from __future__ import annotations

from decimal import Decimal

import pytest

from paper.testing import PaperExchange

from tests.paper.api_helpers import Api, WsReader, wait_for

EIGHT_HOURS = 8 * 3_600_000


@pytest.fixture(scope="module")
def ex(tmp_path_factory):
    """Its own exchange: these tests move the venue clock."""
    with PaperExchange(tmp_path_factory.mktemp("scenarios"), symbols=("BTCUSDT", "ETHUSDT"), seed=9) as px:
        yield px


def test_forced_liquidation_reaches_rest_and_stream(ex):
    a = Api(ex.url, key="to-liquidate", secret="q" * 20)
    a.sync_time()
    ex.admin("POST", "/price", symbol="ETHUSDT", price="3000")
    a.ok("POST", "/fapi/v1/marginType", symbol="ETHUSDT", marginType="ISOLATED")
    a.ok("POST", "/fapi/v1/leverage", symbol="ETHUSDT", leverage=20)
    a.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="1")
    stop = a.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="SELL", type="STOP_MARKET", stopPrice="1000",
                closePosition="true")
    key = a.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    [pos] = a.ok("GET", "/fapi/v3/positionRisk")
    with WsReader(f"{ex.ws_url}/ws/{key}") as ws:
        out = ex.admin("POST", "/liquidate", api_key="to-liquidate", symbol="ETHUSDT")
        assert out["liquidated"] is True
        assert Decimal(out["liquidationPrice"]) == Decimal(pos["liquidationPrice"])
        after = out["state"]["accounts"]["to-liquidate"]["positions"]     # the venue in the same step
        assert not [p for p in after if p["symbol"] == "ETHUSDT" and Decimal(p["amount"]) != 0]
        ws.until(lambda m: any(x["e"] == "ORDER_TRADE_UPDATE" and x["o"]["X"] == "NEW_INSURANCE" for x in m),
                 what="the liquidation fill")
    liq = next(x["o"] for x in ws.messages if x["e"] == "ORDER_TRADE_UPDATE" and x["o"]["X"] == "NEW_INSURANCE")
    assert liq["c"].startswith("autoclose-") and liq["x"] == "CALCULATED" and liq["o"] == "LIQUIDATION"
    assert liq["z"] == "1.000" and Decimal(liq["rp"]) < 0
    assert a.ok("GET", "/fapi/v3/positionRisk") == []
    assert a.ok("GET", "/fapi/v1/order", symbol="ETHUSDT", orderId=stop["orderId"])["status"] == "EXPIRED"
    forced = a.ok("GET", "/fapi/v1/forceOrders")
    assert len(forced) == 1 and forced[0]["clientOrderId"] == liq["c"]
    incomes = {i["incomeType"] for i in a.ok("GET", "/fapi/v1/income")}
    assert {"REALIZED_PNL", "COMMISSION", "INSURANCE_CLEAR"} <= incomes
    ex.admin("DELETE", "/price", symbol="ETHUSDT")


def test_funding_is_paid_when_the_clock_passes_a_settlement(ex):
    long_, short = Api(ex.url, key="funding-long", secret="l" * 20), Api(ex.url, key="funding-short", secret="s" * 20)
    for api in (long_, short):
        api.sync_time()
    ex.admin("POST", "/price", symbol="BTCUSDT", price="50000")
    long_.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    short.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.100")
    rate = Decimal(long_.public("/fapi/v1/premiumIndex", symbol="BTCUSDT")["lastFundingRate"])
    key = long_.ok("POST", "/fapi/v1/listenKey")["listenKey"]
    with WsReader(f"{ex.ws_url}/ws/{key}") as ws:
        now = long_.public("/fapi/v1/time")["serverTime"]
        ex.admin("POST", "/clock", advance_ms=(now // EIGHT_HOURS + 1) * EIGHT_HOURS - now + 1000)
        ws.until(lambda m: any(x["e"] == "ACCOUNT_UPDATE" and x["a"]["m"] == "FUNDING_FEE" for x in m),
                 what="the funding account update")
    for api in (long_, short):
        api.sync_time()                                   # the venue clock jumped: clients resync
    paid_long = long_.ok("GET", "/fapi/v1/income", incomeType="FUNDING_FEE")
    paid_short = short.ok("GET", "/fapi/v1/income", incomeType="FUNDING_FEE")
    assert len(paid_long) == len(paid_short) == 1
    expected = Decimal("0.100") * Decimal("50000") * rate
    assert Decimal(paid_long[0]["income"]) == -expected and Decimal(paid_short[0]["income"]) == expected
    assert paid_long[0]["time"] % EIGHT_HOURS == 0
    ex.admin("DELETE", "/price", symbol="BTCUSDT")


def test_countdown_cancels_all_open_orders_unless_renewed(ex):
    a = Api(ex.url, key="countdown", secret="c" * 20)
    a.sync_time()
    a.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010",
         price="1000")
    assert a.ok("POST", "/fapi/v1/countdownCancelAll", symbol="ETHUSDT", countdownTime=300) == {
        "symbol": "ETHUSDT", "countdownTime": "300"}
    wait_for(lambda: a.ok("GET", "/fapi/v1/openOrders", symbol="ETHUSDT") == [], what="the countdown to fire")
    a.ok("POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010",
         price="1000")
    a.ok("POST", "/fapi/v1/countdownCancelAll", symbol="ETHUSDT", countdownTime=200)
    a.ok("POST", "/fapi/v1/countdownCancelAll", symbol="ETHUSDT", countdownTime=0)     # stopped
    assert len(a.ok("GET", "/fapi/v1/openOrders", symbol="ETHUSDT")) == 1


def test_diff_depth_stream_chains_and_removes_levels(ex):
    with WsReader(f"{ex.ws_url}/ws/ethusdt@depth@100ms") as ws:
        ws.until(lambda m: len(m) >= 4, what="four depth updates")
    updates = ws.messages
    assert all(b["pu"] == a["u"] for a, b in zip(updates, updates[1:]))               # pu chains to the last u
    bids, asks = {}, {}
    for u in updates:                                # a client's local book: absolute sizes, "0" deletes
        for book, side in ((bids, u["b"]), (asks, u["a"])):
            for price, qty in side:
                if qty == "0":
                    book.pop(price, None)
                else:
                    book[price] = qty
    assert len(bids) == len(asks) == 20                                                # no stale levels left
    assert max(map(Decimal, bids)) < min(map(Decimal, asks))
