"""The aster-v3 profile: API-wallet (EIP-712) signatures verified over the raw received string, agents,
nonce window and replay rules, `/fapi/v3` paths, signed user stream (aster-v3.md 5, 6, 7).

Real child paper exchange on 127.0.0.1; requests are signed here with mraster/exchange/v3sign.py (the
project's signer) or with a reimplementation of the official demo's way of building the string."""
from __future__ import annotations

import json
import random
import time
from urllib.parse import urlencode

import httpx
import pytest
from eth_account import Account

from mraster.exchange import v3sign
from paper.testing import PaperExchange

from tests.paper.api_helpers import WsReader

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def keypair(rng: random.Random):
    return Account.from_key(bytes(rng.getrandbits(8) for _ in range(32)))


@pytest.fixture(scope="module")
def v3px(tmp_path_factory):
    rng = random.Random(1666)
    user, agent = keypair(rng), keypair(rng)
    with PaperExchange(tmp_path_factory.mktemp("v3"), symbols=("BTCUSDT", "ETHUSDT"), seed=5, profile="aster-v3",
                       env={"ASTER_PAPER_AGENTS": f"{user.address}:{agent.address}"}) as px:
        px.user, px.agent, px.rng = user, agent, rng
        yield px


class V3:
    """Signs with the project's signer (business params, nonce, [user,] signer; strict percent-encoding)."""

    def __init__(self, url: str, agent, user=None, chain_id: int = 1666):
        self.url, self.agent, self.user, self.chain_id = url, agent, user, chain_id
        self.http = httpx.Client(base_url=url, timeout=15.0)
        self.offset_us = (self.http.get("/fapi/v3/time").json()["serverTime"] - int(time.time() * 1000)) * 1000
        self.last = 0

    def nonce(self) -> int:
        self.last = max(int(time.time() * 1e6) + self.offset_us, self.last + 1)
        return self.last

    def payload(self, params: dict, nonce: int | None = None) -> str:
        return v3sign.signed_payload([(k, str(v)) for k, v in params.items()], signer=self.agent.address,
                                     private_key=self.agent.key.hex(), nonce_us=nonce or self.nonce(),
                                     chain_id=self.chain_id, user=self.user)

    def call(self, method: str, path: str, nonce: int | None = None, in_body: bool | None = None,
             **params) -> httpx.Response:
        payload = self.payload(params, nonce)
        if in_body is None:
            in_body = method != "GET"
        if in_body:
            return self.http.request(method, path, content=payload, headers=FORM)
        return self.http.request(method, f"{path}?{payload}")

    def ok(self, method: str, path: str, **params):
        r = self.call(method, path, **params)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def code(self, method: str, path: str, **params) -> int:
        r = self.call(method, path, **params)
        assert r.status_code != 200, r.text
        return r.json()["code"]


def test_signed_round_trip_with_random_keys_and_a_signed_user_stream(v3px):
    api = V3(v3px.url, v3px.agent)
    assert api.ok("POST", "/fapi/v3/leverage", symbol="BTCUSDT", leverage=10)["leverage"] == 10
    key = api.ok("POST", "/fapi/v3/listenKey")["listenKey"]
    with WsReader(f"{v3px.ws_url}/ws/{key}") as ws:
        order = api.ok("POST", "/fapi/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002")
        ws.until(lambda ms: any(m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["i"] == order["orderId"]
                                and m["o"]["X"] == "FILLED" for m in ms), what="the fill on the V3 listenKey")
    pos = api.ok("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
    assert pos[0]["positionAmt"] == "0.002"
    # the account is the owner's: the admin API sees it under the user address
    state = v3px.admin("GET", "/state", account=v3px.user.address)
    assert state["accounts"][v3px.user.address.lower()]["positions"][0]["amount"] == "0.002"
    assert api.ok("GET", "/fapi/v3/accountWithJoinMargin")["totalPositionInitialMargin"] != "0.00000000"
    assert api.ok("PUT", "/fapi/v3/listenKey") == {}
    assert api.ok("POST", "/fapi/v3/noop") == {"code": 200, "msg": "success"}
    # query-only POST (the official demo's send_by_url) and body POST both verify
    stop = api.call("POST", "/fapi/v3/order", in_body=False, symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                    stopPrice="1000", closePosition="true")
    assert stop.status_code == 200 and stop.json()["origType"] == "STOP_MARKET"      # Aster: no -4120
    assert api.ok("DELETE", "/fapi/v3/allOpenOrders", symbol="BTCUSDT")["code"] == "200"


def test_market_data_under_v3_needs_no_signature(v3px):
    http = httpx.Client(base_url=v3px.url, timeout=10.0)
    assert http.get("/fapi/v3/ping").json() == {}
    assert len(http.get("/fapi/v3/depth", params={"symbol": "BTCUSDT", "limit": 5}).json()["bids"]) == 5
    assert len(http.get("/fapi/v3/klines", params={"symbol": "ETHUSDT", "interval": "1m", "limit": 3}).json()) == 3
    assert {s["symbol"] for s in http.get("/fapi/v3/exchangeInfo").json()["symbols"]} == {"BTCUSDT", "ETHUSDT"}


def test_user_given_must_be_the_agents_owner(v3px):
    assert V3(v3px.url, v3px.agent, user=v3px.user.address).ok("GET", "/fapi/v3/balance")[0]["asset"] == "USDT"
    other = keypair(v3px.rng)
    assert V3(v3px.url, v3px.agent, user=other.address).code("GET", "/fapi/v3/balance") == -1002


def test_replayed_nonce_refused(v3px):
    api = V3(v3px.url, v3px.agent)
    n = api.nonce()
    assert api.call("GET", "/fapi/v3/openOrders", nonce=n).status_code == 200
    r = api.call("GET", "/fapi/v3/openOrders", nonce=n)
    assert (r.status_code, r.json()) == (400, {"code": -4225, "msg": "Nonce Expired"})
    # the exact same bytes sent again (a captured request) are refused too
    payload = api.payload({"symbol": "BTCUSDT"})
    assert api.http.get(f"/fapi/v3/openOrders?{payload}").status_code == 200
    assert api.http.get(f"/fapi/v3/openOrders?{payload}").json()["code"] == -4225


def test_stale_future_and_millisecond_nonces_refused(v3px):
    api = V3(v3px.url, v3px.agent)
    now = api.nonce()
    assert api.call("GET", "/fapi/v3/balance", nonce=now - 120_000_000).json()["code"] == -4225      # 2 min old
    assert api.call("GET", "/fapi/v3/balance", nonce=now + 120_000_000).json()["code"] == -1021      # 2 min ahead
    assert api.call("GET", "/fapi/v3/balance", nonce=now // 1000).json()["code"] == -4225            # milliseconds
    assert api.call("GET", "/fapi/v3/balance", nonce=now - 30_000_000).status_code == 200            # inside 60 s


def test_last_hundred_nonces_per_agent(v3px):
    rng = random.Random(7)
    agent = keypair(rng)
    v3px.admin("POST", "/agents", user=v3px.user.address, agent=agent.address)
    api = V3(v3px.url, agent)
    oldest = api.nonce()
    newer = [oldest + 1000 + 10 * i for i in range(100)]      # not increasing in order of arrival: allowed
    for n in reversed(newer):
        assert api.call("POST", "/fapi/v3/noop", nonce=n).status_code == 200
    assert api.call("POST", "/fapi/v3/noop", nonce=oldest).json()["code"] == -4225    # older than all 100 kept
    assert api.call("POST", "/fapi/v3/noop", nonce=newer[0] + 5).status_code == 200   # unseen, newer than the min
    assert api.call("POST", "/fapi/v3/noop", nonce=newer[0]).json()["code"] == -4225  # evicted as the minimum


def test_wrong_chain_tampered_and_unregistered_signers(v3px):
    assert V3(v3px.url, v3px.agent, chain_id=714).code("GET", "/fapi/v3/balance") == -1022       # testnet id
    assert V3(v3px.url, v3px.agent, chain_id=56).code("GET", "/fapi/v3/balance") == -1022
    api = V3(v3px.url, v3px.agent)
    payload = api.payload({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002",
                           "price": "30000", "timeInForce": "GTC"})
    r = api.http.post("/fapi/v3/order", content=payload.replace("price=30000", "price=30001"), headers=FORM)
    assert r.json()["code"] == -1022
    stranger = keypair(v3px.rng)                       # a valid signature by a key nobody registered
    assert V3(v3px.url, stranger).code("GET", "/fapi/v3/balance") == -1002
    # a signer that claims to be the agent but is not: recovers another address
    forged = v3sign.signed_payload([], signer=v3px.agent.address, private_key=stranger.key.hex(),
                                   nonce_us=api.nonce(), chain_id=1666)
    assert api.http.get(f"/fapi/v3/balance?{forged}").json()["code"] == -1022
    # HMAC on a /fapi/v3 route is not accepted in this profile; a missing signature is -1102
    assert api.http.get("/fapi/v3/balance?timestamp=1&signature=" + "0" * 64,
                        headers={"X-MBX-APIKEY": "paper-key"}).json()["code"] == -1102
    assert api.http.get(f"/fapi/v3/balance?nonce={api.nonce()}&signer={v3px.agent.address}").json()["code"] == -1102


def test_expired_and_permissionless_agents(v3px):
    rng = random.Random(11)
    expired, no_perp = keypair(rng), keypair(rng)
    v3px.admin("POST", "/agents", user=v3px.user.address, agent=expired.address, expired=1000)
    v3px.admin("POST", "/agents", user=v3px.user.address, agent=no_perp.address, canPerpTrade=False)
    assert V3(v3px.url, expired).code("GET", "/fapi/v3/balance") == -1002
    assert V3(v3px.url, no_perp).code("GET", "/fapi/v3/balance") == -2015
    v3px.admin("DELETE", "/agents", agent=no_perp.address)
    assert V3(v3px.url, no_perp).code("GET", "/fapi/v3/balance") == -1002


def test_guarded_cancel_repeats_the_placement_nonce(v3px):
    """aster-v3.md 1.4: a guarded cancel carries the nonce that placed the order (the one exception to the
    repeat rule); any other nonce leaves the order alone."""
    api = V3(v3px.url, v3px.agent)
    limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002", "price": "20000",
             "timeInForce": "GTC"}
    n1 = api.nonce()
    first = api.ok("POST", "/fapi/v3/order", nonce=n1, **limit)
    second = api.ok("POST", "/fapi/v3/order", **limit)
    assert api.code("DELETE", "/fapi/v3/guardedCancelOrder", nonce=n1, symbol="BTCUSDT",
                    orderId=second["orderId"]) == -4225                          # not the nonce that placed it
    assert api.ok("DELETE", "/fapi/v3/guardedCancelOrder", nonce=n1, symbol="BTCUSDT",
                  orderId=first["orderId"])["status"] == "CANCELED"
    assert api.code("POST", "/fapi/v3/order", nonce=n1, **limit) == -4225         # still a used nonce otherwise
    n2 = api.nonce()
    batch = json.dumps([limit, limit])
    placed = api.ok("POST", "/fapi/v3/batchOrders", nonce=n2, batchOrders=batch)
    ids = json.dumps([o["orderId"] for o in placed] + [second["orderId"]])
    out = api.ok("DELETE", "/fapi/v3/guardedBatchOrders", nonce=n2, symbol="BTCUSDT", orderIdList=ids)
    assert [o.get("status") or o["code"] for o in out] == ["CANCELED", "CANCELED", -4225]
    assert [o["orderId"] for o in api.ok("GET", "/fapi/v3/openOrders", symbol="BTCUSDT")] == [second["orderId"]]
    api.ok("DELETE", "/fapi/v3/allOpenOrders", symbol="BTCUSDT")


def demo_string(params: list[tuple[str, str]], signer: str, nonce: int) -> str:
    """The official Python demo's way: business params in insertion order, then nonce, then signer, encoded
    with urllib's urlencode (quote_plus: space -> '+', quotes escaped)."""
    return urlencode(params + [("nonce", str(nonce)), ("signer", signer)])


def test_official_demo_encoding_and_unprefixed_signature_verify(v3px):
    """The demo encodes differently from the project's client (quote_plus) and, with eth-account 0.12, prints
    the signature without 0x: the server verifies the bytes as received either way."""
    api = V3(v3px.url, v3px.agent)
    batch = str([{"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.05", "price": "1000",
                  "timeInForce": "GTC"}])                 # Python's repr, with spaces and single quotes
    msg = demo_string([("batchOrders", batch)], v3px.agent.address, api.nonce())
    assert "+" in msg and "%27" in msg and msg != v3sign.encode_params(
        [("batchOrders", batch), ("nonce", "1"), ("signer", "x")])
    sig = v3sign.sign_msg(msg, v3px.agent.key.hex(), 1666)[2:].upper()
    r = api.http.post(f"/fapi/v3/batchOrders?{msg}&signature={sig}")        # send_by_url: all in the URL
    assert r.status_code == 200 and r.json()[0]["status"] == "NEW", r.text
    msg = demo_string([("symbol", "ETHUSDT")], v3px.agent.address, api.nonce())
    sig = v3sign.sign_msg(msg, v3px.agent.key.hex(), 1666)
    r = api.http.request("DELETE", "/fapi/v3/allOpenOrders", content=f"{msg}&signature={sig}", headers=FORM)
    assert r.status_code == 200, r.text


def test_agents_and_used_nonces_survive_a_restart(tmp_path):
    rng = random.Random(3)
    user, agent = keypair(rng), keypair(rng)
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), profile="aster-v3") as px:
        px.admin("POST", "/agents", user=user.address, agent=agent.address, name="bot")
        assert V3(px.url, agent).ok("GET", "/fapi/v3/balance")
        api = V3(px.url, agent)
        captured = api.payload({"symbol": "BTCUSDT"})
        assert api.http.get(f"/fapi/v3/openOrders?{captured}").status_code == 200
        px.restart()
        assert V3(px.url, agent).ok("GET", "/fapi/v3/balance")[0]["balance"] == "10000.00000000"
        r = httpx.get(f"{px.url}/fapi/v3/openOrders?{captured}")       # a replay across the restart
        assert r.json()["code"] == -4225
        assert [a["name"] for a in px.admin("GET", "/agents")["agents"] if a["agent"] == agent.address.lower()] \
            == ["bot"]


def test_the_accounts_own_wallet_and_the_development_agent_are_known_from_the_start(tmp_path):
    """One .env serves the bot and its paper exchange: ASTER_V3_USER with the address of ASTER_V3_SIGNER_KEY
    is registered at start, and so is the public development agent the client uses in paper mode without a
    wallet. ASTER_V3_NETWORK=testnet makes the exchange verify with chain id 714."""
    from mraster.exchange.factory import PAPER_V3_KEY, PAPER_V3_SIGNER, PAPER_V3_USER
    rng = random.Random(5)
    user, agent = keypair(rng), keypair(rng)
    env = {"ASTER_V3_USER": user.address, "ASTER_V3_SIGNER_KEY": agent.key.hex(), "ASTER_V3_NETWORK": "testnet"}
    with PaperExchange(tmp_path, symbols=("BTCUSDT",), profile="aster-v3", env=env) as px:
        assert V3(px.url, agent, chain_id=714).ok("GET", "/fapi/v3/balance")
        assert V3(px.url, agent, chain_id=1666).code("GET", "/fapi/v3/balance") == -1022
        dev = Account.from_key(PAPER_V3_KEY)
        assert dev.address == PAPER_V3_SIGNER
        assert V3(px.url, dev, user=PAPER_V3_USER, chain_id=714).ok("GET", "/fapi/v3/balance")
        assert "ASTER_V3_SIGNER_KEY" not in px.out_path.read_text() and agent.key.hex()[2:] not in \
            px.log_path.read_text()
        for name in ("ASTER_V3_USER", "ASTER_V3_SIGNER_KEY"):      # the wallet taken out of the settings:
            del px.extra_env[name]
        px.restart()
        assert V3(px.url, agent, chain_id=714).code("GET", "/fapi/v3/balance") == -1002     # gone after a restart
