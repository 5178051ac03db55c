"""Unmodified ccxt against the paper exchange: `binanceusdm` in the binance-usdm profile (conditional orders
go through the Algo Service, as on Binance since 2025-12-09) and `aster` in the aster-v3 profile (EIP-712
signatures, ccxt's own parameter order and encoding). Everything on 127.0.0.1: ccxt is pointed at the local
URLs through its `urls` override; its other venues' URLs point at a closed local port, so a call we did not
expect fails loudly instead of leaving the machine."""
from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest

ccxt = pytest.importorskip("ccxt")          # in the `test` extra; the suite installs it

from eth_account import Account  # noqa: E402

from paper.testing import PaperExchange  # noqa: E402

NOWHERE = "http://127.0.0.1:9"              # discard port: connection refused at once
KEY, SECRET = "ccxt-binance-key", "ccxt-binance-secret-0123456789"


def local_urls(exchange, base: str) -> dict:
    api = {}
    for name, url in exchange.urls["api"].items():
        path = urlsplit(url).path if isinstance(url, str) else ""
        if path == "/fapi" or path.startswith("/fapi/"):
            api[name] = base + path
        else:
            api[name] = NOWHERE
    return {**exchange.urls, "api": api}


@pytest.fixture(scope="module")
def binance_px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("ccxt-binance"), symbols=("BTCUSDT", "ETHUSDT"), seed=13,
                       profile="binance-usdm") as px:
        px.admin("POST", "/keys", key=KEY, secret=SECRET)        # its HMAC signatures are verified strictly
        yield px


def test_ccxt_binanceusdm_whole_scenario(binance_px):
    ex = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "timeout": 15000,
                           "options": {"fetchCurrencies": False, "adjustForTimeDifference": False}})
    ex.urls = local_urls(ex, binance_px.url)
    markets = ex.load_markets()
    assert "BTC/USDT:USDT" in markets and markets["BTC/USDT:USDT"]["linear"]
    sym = "BTC/USDT:USDT"
    ticker = ex.fetch_ticker(sym)
    assert ticker["last"] > 0
    book = ex.fetch_order_book(sym, limit=5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    candles = ex.fetch_ohlcv(sym, "1m", limit=10)
    assert len(candles) == 10 and candles[1][0] - candles[0][0] == 60_000
    assert ex.fetch_balance()["USDT"]["free"] == 10000.0
    ex.set_leverage(10, sym)
    price = ticker["last"]
    limit = ex.create_order(sym, "limit", "buy", 0.002, round(price * 0.8, 1))
    assert limit["status"] == "open"
    market = ex.create_order(sym, "market", "buy", 0.004)
    assert market["status"] == "closed" and market["filled"] == 0.004
    stop = ex.create_order(sym, "STOP_MARKET", "sell", 0.004, None,
                           {"stopPrice": round(price * 0.9, 1), "reduceOnly": True})
    take = ex.create_order(sym, "TAKE_PROFIT_MARKET", "sell", 0.004, None,
                           {"stopPrice": round(price * 1.1, 1), "reduceOnly": True})
    # ccxt sent both to the Algo Service (the order endpoint would have answered -4120)
    assert stop["id"] and int(stop["id"]) >= 3 * 10 ** 15 and int(take["id"]) >= 3 * 10 ** 15
    assert [o["id"] for o in ex.fetch_open_orders(sym)] == [limit["id"]]
    triggers = ex.fetch_open_orders(sym, params={"trigger": True})
    assert sorted(o["id"] for o in triggers) == sorted([stop["id"], take["id"]])
    assert {o["triggerPrice"] for o in triggers} == {round(price * 0.9, 1), round(price * 1.1, 1)}
    assert all(o["reduceOnly"] for o in triggers)
    assert ex.fetch_order(stop["id"], sym, params={"trigger": True})["status"] == "open"
    ex.cancel_order(take["id"], sym, params={"trigger": True})
    assert ex.fetch_order(take["id"], sym, params={"trigger": True})["status"] == "canceled"
    ex.cancel_all_orders(sym)
    assert ex.fetch_open_orders(sym) == []
    ex.cancel_all_orders(sym, params={"trigger": True})
    assert ex.fetch_open_orders(sym, params={"trigger": True}) == []
    assert ex.fetch_order(stop["id"], sym, params={"trigger": True})["status"] == "canceled"
    close = ex.create_order(sym, "market", "sell", 0.004, None, {"reduceOnly": True})
    assert close["status"] == "closed"
    positions = [p for p in ex.fetch_positions([sym]) if p["contracts"]]
    assert positions == []
    trades = ex.fetch_my_trades(sym)
    assert {t["order"] for t in trades} == {market["id"], close["id"]}
    funding = ex.fetch_funding_rate(sym)
    assert funding["fundingRate"] is not None and funding["fundingTimestamp"] > 0
    assert ex.fetch_funding_rate_history(sym, limit=5)
    assert isinstance(ex.fetch_funding_history(sym), list)


@pytest.fixture(scope="module")
def aster_px(tmp_path_factory):
    with PaperExchange(tmp_path_factory.mktemp("ccxt-aster"), symbols=("BTCUSDT", "ETHUSDT"), seed=17,
                       profile="aster-v3") as px:
        yield px


class MonotonicMs:
    """ccxt's aster nonce is milliseconds x 1000, so two requests in one millisecond would carry the same nonce
    (and the second be refused, as the venue refuses it: aster-v3.md 2.7). The clock ccxt reads is made
    strictly increasing; ccxt's signing itself is untouched."""

    def __init__(self, real):
        self.real, self.last = real, 0

    def __call__(self) -> int:
        self.last = max(self.real(), self.last + 1)
        return self.last


def test_ccxt_aster_in_main_key_mode_against_the_v3_profile(aster_px):
    wallet = Account.from_key(bytes(random.Random(42).getrandbits(8) for _ in range(32)))
    # ccxt signs with the main wallet key and sends signer = user = that address: registered as its own agent
    aster_px.admin("POST", "/agents", user=wallet.address, agent=wallet.address)
    ex = ccxt.aster({"walletAddress": wallet.address, "privateKey": wallet.key.hex(), "timeout": 15000,
                     "options": {"builderFee": False, "defaultType": "swap"}})
    ex.urls = local_urls(ex, aster_px.url)
    ex.urls["api"]["sapiPublic"] = aster_px.url + "/api"       # its spot exchangeInfo: empty on the paper exchange
    ex.milliseconds = MonotonicMs(ex.milliseconds)
    markets = ex.load_markets()
    sym = "ETH/USDT:USDT"
    assert sym in markets
    price = ex.fetch_ticker(sym)["last"]
    assert price > 0 and len(ex.fetch_order_book(sym, limit=5)["asks"]) == 5
    assert ex.fetch_balance()["USDT"]["total"] == 10000.0
    ex.set_leverage(5, sym)
    limit = ex.create_order(sym, "limit", "buy", 0.05, round(price * 0.8, 2))
    assert limit["status"] == "open"
    market = ex.create_order(sym, "market", "buy", 0.05)      # the venue answers ACK (NEW); it filled at once
    assert ex.fetch_order(market["id"], sym)["status"] == "closed"
    stop = ex.create_order(sym, "STOP_MARKET", "sell", 0.05, None,
                           {"stopPrice": round(price * 0.9, 2), "reduceOnly": True})
    assert stop["id"] and int(stop["id"]) < 3 * 10 ** 15              # Aster: a regular conditional order
    assert sorted(o["id"] for o in ex.fetch_open_orders(sym)) == sorted([limit["id"], stop["id"]])
    ex.cancel_all_orders(sym)
    assert ex.fetch_open_orders(sym) == []
    ex.create_order(sym, "market", "sell", 0.05, None, {"reduceOnly": True})
    assert {t["order"] for t in ex.fetch_my_trades(sym)} >= {market["id"]}
    state = aster_px.admin("GET", "/state", account=wallet.address)["accounts"][wallet.address.lower()]
    assert state["positions"] == [] or all(p["amount"] == "0.000" for p in state["positions"])


def test_ccxt_aster_with_an_unregistered_key_is_refused(aster_px):
    stranger = Account.from_key(bytes(random.Random(43).getrandbits(8) for _ in range(32)))
    ex = ccxt.aster({"walletAddress": stranger.address, "privateKey": stranger.key.hex(), "timeout": 15000,
                     "options": {"builderFee": False, "defaultType": "swap"}})
    ex.urls = local_urls(ex, aster_px.url)
    ex.urls["api"]["sapiPublic"] = aster_px.url + "/api"
    with pytest.raises(ccxt.BaseError) as e:
        ex.fetch_balance()
    assert "-1002" in str(e.value)
