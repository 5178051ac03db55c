"""The aster-v3 profile end to end against a local V3 venue double (real HTTP and WebSocket on 127.0.0.1):
/fapi/v3 paths for every call, EIP-712 agent signatures verified server-side over the raw string,
nonces unique and fresh, signed listenKey calls, clear errors for the common mistakes."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

from mraster.domain.types import OrderRequest, OrderType, Side, StreamResynced
from mraster.exchange.auth import V3Auth, V3Credentials
from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.errors import AuthError
from mraster.exchange.ws import StreamOptions

from tests.exchange.conftest import Collector, RecordingSleep
from tests.exchange.fake_profiles import FakeV3Venue

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
USER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"   # Hardhat account 2
MAIN_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"    # Hardhat account 1 = USER


@pytest.fixture
async def v3venue(exchange_info):
    v = FakeV3Venue(agents={SIGNER: USER}, exchange_info=exchange_info)
    await v.start()
    try:
        yield v
    finally:
        await v.stop()


@pytest.fixture
async def v3client(v3venue, tmp_path):
    clients: list[BinanceCompatibleClient] = []

    def build(creds: V3Credentials | None = None, **kw) -> BinanceCompatibleClient:
        auth = V3Auth(creds or V3Credentials(USER, SIGNER, KEY, 1666), run_dir=tmp_path / "run")
        options = dict(timeout_s=1.0, retries=1, backoff_s=0.01, sleep=RecordingSleep(), rng=random.Random(3),
                       stream_options=StreamOptions(backoff_s=0.02, max_backoff_s=0.1, close_timeout_s=1.0),
                       profile="aster-v3", auth=auth)
        options.update(kw)
        client = BinanceCompatibleClient(v3venue.url, v3venue.ws_url, **options)
        clients.append(client)
        return client

    yield build
    for c in clients:
        await c.close()


async def test_every_call_uses_v3_paths_and_verified_signatures(v3venue, v3client):
    client = v3client()
    rules = await client.symbol_rules()
    assert "BTCUSDT" in rules
    await client.book_ticker("BTCUSDT")
    await client.depth("BTCUSDT")
    balances = await client.balances()
    assert balances[0].asset == "USDT"
    info = await client.account()
    assert info.total_wallet_balance == Decimal("1000")
    order = await client.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, "mr-v3-1",
                                                  quantity=Decimal("0.001"), price=Decimal("60000")))
    assert order.client_order_id == "mr-v3-1"
    await client.cancel_order("BTCUSDT", client_order_id="mr-v3-1")
    paths = {s.path for s in v3venue.seen}
    assert paths and all(p.startswith("/fapi/v3/") for p in paths), paths
    assert "/fapi/v3/accountWithJoinMargin" in paths and "/fapi/v3/order" in paths
    # signed calls: no timestamp/recvWindow, nonce/user/signer present, no API-key header needed
    signed = [s for s in v3venue.seen if "signature" in s.params]
    assert signed and all("timestamp" not in s.params and "recvWindow" not in s.params for s in signed)
    assert all(s.params["signer"] == SIGNER and s.params["user"] == USER for s in signed)
    assert len(v3venue.verified) == len(signed)
    # market data travels unsigned
    assert all("signature" not in s.params for s in v3venue.seen if s.path in ("/fapi/v3/depth", "/fapi/v3/time"))
    nonces = [v.nonce for v in v3venue.verified]
    assert nonces == sorted(nonces) and len(set(nonces)) == len(nonces)
    assert all(len(str(n)) == 16 for n in nonces)                     # microseconds, not milliseconds


async def test_user_stream_listen_key_calls_are_signed(v3venue, v3client):
    client = v3client()
    feed = Collector(client.user_stream())
    await feed.wait_for(lambda ev: any(isinstance(e, StreamResynced) for e in ev))
    await feed.close()
    creates = v3venue.requests("POST", "/fapi/v3/listenKey")
    closes = v3venue.requests("DELETE", "/fapi/v3/listenKey")
    assert creates and closes and all("signature" in r.params for r in creates + closes)
    assert v3venue.ws_paths and v3venue.ws_paths[0] == f"/ws/{v3venue.closed_keys[0]}"


async def test_signer_not_an_approved_agent_is_an_auth_error(v3venue, v3client):
    client = v3client(V3Credentials(USER, "", OTHER_KEY, 1666))
    with pytest.raises(AuthError) as err:
        await client.balances()
    assert err.value.code == -1002 and "approved, unexpired API wallet (agent)" in str(err.value)
    assert OTHER_KEY[2:] not in str(err.value)


async def test_wrong_chain_id_is_refused_as_a_bad_signature(v3venue, v3client):
    client = v3client(V3Credentials(USER, SIGNER, KEY, 714))
    with pytest.raises(AuthError) as err:
        await client.balances()
    assert err.value.code == -1022
    assert "chain id 714" in str(err.value) and "mainnet needs 1666" in str(err.value)   # what every engine logs


async def test_signer_that_does_not_match_the_key_fails_before_sending(v3venue, v3client):
    client = v3client(V3Credentials(USER, SIGNER, OTHER_KEY, 1666))
    with pytest.raises(AuthError) as err:
        await client.balances()
    assert "not the address of ASTER_V3_SIGNER_KEY" in str(err.value) and OTHER_KEY[2:] not in str(err.value)
    assert not any(s.path == "/fapi/v3/balance" for s in v3venue.seen)


async def test_replayed_nonce_is_refused_and_client_resigns_once(v3venue, v3client):
    client = v3client()
    await client.balances()
    first = v3venue.verified[-1]
    # the venue refuses a replay of the very same signed string
    assert v3venue.nonce_problem(first.signer, first.nonce) == (-4225, "Nonce Expired")
    # a -4225 answer makes the client sign again with a fresh nonce (nothing was executed)
    v3venue.add_fault("GET", "/fapi/v3/balance", "status", status=400, body={"code": -4225, "msg": "Nonce Expired"})
    await client.balances()
    tries = v3venue.requests("GET", "/fapi/v3/balance")
    assert len(tries) == 3 and tries[1].params["nonce"] != tries[2].params["nonce"]


async def test_two_clients_of_one_agent_never_share_a_nonce(v3venue, v3client):
    """Bot and guard on one account: same agent, same run dir, interleaved requests."""
    a, b = v3client(), v3client()
    for _ in range(5):
        await a.balances()
        await b.balances()
    nonces = [v.nonce for v in v3venue.verified]
    assert len(nonces) == 10 and len(set(nonces)) == 10 and nonces == sorted(nonces)


async def test_main_wallet_key_is_refused_locally(v3venue, v3client):
    client = v3client(V3Credentials(USER, "", MAIN_KEY, 1666))
    with pytest.raises(AuthError) as err:
        await client.balances()
    assert "main wallet's key" in str(err.value) and not v3venue.verified


async def test_values_that_need_encoding_are_signed_exactly_as_sent(v3venue, v3client):
    """The venue verifies the raw query string: a client id with ':' '/' '.' survives the HTTP library."""
    client = v3client()
    cid = "mr-BTC:x/y.z_1"
    order = await client.place_order(OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, cid,
                                                  stop_price=Decimal("58000.5"), close_position=True))
    assert order.client_order_id == cid
    raw = v3venue.requests("POST", "/fapi/v3/order")[0].raw_query
    assert "newClientOrderId=mr-BTC%3Ax%2Fy.z_1" in raw and v3venue.verified[-1].params["newClientOrderId"] == cid
