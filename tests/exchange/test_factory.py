"""make_exchange: paper and live addresses and keys, and a clear error when live keys are missing."""
from __future__ import annotations

import pytest

from mraster.exchange.errors import AuthError
from mraster.exchange.factory import PAPER_KEY, PAPER_SECRET, apply_live_settings, make_exchange, ws_url_for
from mraster.settings.loader import Settings


@pytest.mark.parametrize("given, expected", [("http://127.0.0.1:8765", "ws://127.0.0.1:8765"),
                                             ("https://paper.example:9/", "wss://paper.example:9")])
def test_ws_url_for(given, expected):
    assert ws_url_for(given) == expected


@pytest.mark.parametrize("values, keys", [
    ({}, (PAPER_KEY, PAPER_SECRET)),
    ({"api_key": "live-k", "api_secret": "live-s"}, ("live-k", "live-s")),
    ({"api_key": "live-k", "api_secret": "live-s", "paper_api_key": "pk", "paper_api_secret": "ps"}, ("pk", "ps")),
])
async def test_paper_mode(values, keys):
    settings = Settings().with_values(paper=True, paper_url="http://127.0.0.1:9999", **values)
    client = make_exchange(settings)
    try:
        assert client.base_url == "http://127.0.0.1:9999" and client.ws_base == "ws://127.0.0.1:9999"
        assert (client._core.auth._key, client._core.auth._secret) == keys
    finally:
        await client.close()


async def test_live_mode_uses_venue_settings_and_refuses_signed_calls_without_keys():
    settings = Settings().with_values(exchange_base="https://fapi.binance.com/", ws_base="wss://fstream.binance.com/ws",
                                      http_retries=4, http_backoff=1.5, http_timeout=7.0, recv_window=6000)
    client = make_exchange(settings)
    try:
        assert client.base_url == "https://fapi.binance.com" and client.ws_base == "wss://fstream.binance.com"
        assert client._core.retry.retries == 4 and client._core.auth.recv_window_ms == 6000
        client._core._time_sync_tried = True              # no network: fail before anything is sent
        with pytest.raises(AuthError, match="ASTER_API_KEY and ASTER_API_SECRET"):
            await client.balances()
        apply_live_settings(client, settings.with_values(http_retries=0, kline_cache_sec=5.0))
        assert client._core.retry.retries == 0 and client._klines.ttl_s == 5.0
    finally:
        await client.close()


async def test_profiles_from_settings(tmp_path):
    from mraster.exchange.auth import V3Auth
    from mraster.exchange.factory import PAPER_V3_SIGNER, PAPER_V3_USER
    key = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
    paper = make_exchange(Settings().with_values(paper=True, venue_profile="aster-v3", run_dir=str(tmp_path)))
    live = make_exchange(Settings().with_values(venue_profile="aster-v3", v3_user=PAPER_V3_USER, v3_signer_key=key,
                                                v3_network="testnet", run_dir=str(tmp_path)))
    binance = make_exchange(Settings().with_values(venue_profile="binance-usdm", api_key="k", api_secret="s"))
    try:
        assert paper.profile.name == live.profile.name == "aster-v3" and binance.profile.name == "binance-usdm"
        assert isinstance(paper._core.auth, V3Auth) and paper._core.auth.creds.signer_address == PAPER_V3_SIGNER
        creds = live._core.auth.creds
        assert creds.chain_id == 714 and creds.user == PAPER_V3_USER and creds.private_key == key
        assert creds.signer_address == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
        assert key not in repr(creds) and key not in repr(live._core.auth.creds)
        assert binance._algo is not None and binance._core.auth.kind == "hmac" and paper._algo is None
        # nonces live in the run dir, per agent
        live._core._time_sync_tried = True
        query, headers = live._core.auth.prepare([("symbol", "BTCUSDT")], signed=True, api_key=False, now_ms=0,
                                                 endpoint="x")
        assert headers == {} and "signer=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" in query
        assert (tmp_path / "v3-nonce-0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc.hwm").is_file()
    finally:
        for c in (paper, live, binance):
            await c.close()
