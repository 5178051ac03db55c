"""make_exchange: paper and live addresses and keys, and a clear error when live keys are missing."""
from __future__ import annotations

import pytest

from bot.exchange.errors import AuthError
from bot.exchange.factory import PAPER_KEY, PAPER_SECRET, apply_live_settings, make_exchange, ws_url_for
from bot.settings.loader import Settings


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
