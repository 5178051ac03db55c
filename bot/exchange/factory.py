"""The one place that turns settings into an exchange client (paper or live)."""
from __future__ import annotations

from typing import Any

from .client import BinanceCompatibleClient

PAPER_KEY, PAPER_SECRET = "paper-key", "paper-secret"
LIVE_KEYS_HINT = "set ASTER_API_KEY and ASTER_API_SECRET (in .env or the environment), or use paper mode"


def ws_url_for(http_url: str) -> str:
    """The WebSocket address served on the same host and port as `http_url` (the paper exchange)."""
    url = http_url.strip().rstrip("/")
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):]
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):]
    return url


def paper_keys(settings: Any) -> tuple[str, str]:
    """The paper exchange's own pair if set, else the user's live pair if set, else a placeholder pair
    (the paper exchange accepts any non-empty pair unless ASTER_PAPER_API_KEY is set)."""
    if settings.paper_api_key and settings.paper_api_secret:
        return settings.paper_api_key, settings.paper_api_secret
    if settings.api_key and settings.api_secret:
        return settings.api_key, settings.api_secret
    return PAPER_KEY, PAPER_SECRET


def make_exchange(settings: Any, **overrides: Any) -> BinanceCompatibleClient:
    """Client for `settings` (a bot.settings Settings). `overrides` go to the constructor (tests, tools)."""
    if settings.paper:
        base, ws_base = settings.paper_url, ws_url_for(settings.paper_url)
        key, secret = paper_keys(settings)
        hint = "set ASTER_PAPER_API_KEY and ASTER_PAPER_API_SECRET to the pair the paper exchange expects"
    else:
        base, ws_base = settings.exchange_base, settings.ws_base
        key, secret = settings.api_key, settings.api_secret
        hint = LIVE_KEYS_HINT
    options: dict[str, Any] = dict(
        recv_window_ms=settings.recv_window, timeout_s=settings.http_timeout, retries=settings.http_retries,
        backoff_s=settings.http_backoff, kline_cache_s=settings.kline_cache_sec,
        rate_limit_share=settings.rate_limit_share, missing_keys_hint=hint)
    options.update(overrides)
    return BinanceCompatibleClient(base, ws_base, key, secret, **options)


def apply_live_settings(client: BinanceCompatibleClient, settings: Any) -> None:
    """Pass settings that may change while running (retries, backoff, kline cache lifetime) to a client."""
    client.reconfigure(retries=settings.http_retries, backoff_s=settings.http_backoff,
                       kline_cache_s=settings.kline_cache_sec)
