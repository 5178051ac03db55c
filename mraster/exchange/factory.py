"""The one place that turns settings into an exchange client (paper or live), for the account's profile."""
from __future__ import annotations

from typing import Any

from mraster.exchange import v3sign
from mraster.exchange.auth import MISSING_V3_HINT, Auth, V3Auth, V3Credentials
from mraster.exchange.client import BinanceCompatibleClient
from mraster.exchange.profiles import EIP712, VenueProfile, get_profile

PAPER_KEY, PAPER_SECRET = "paper-key", "paper-secret"
LIVE_KEYS_HINT = "set ASTER_API_KEY and ASTER_API_SECRET (in .env or the environment), or use paper mode"
# The paper exchange's default V3 agent when no API wallet is configured: the public Hardhat/Anvil
# development accounts of the reference's test vectors (aster-v3.md §2.8). Never fund them.
PAPER_V3_USER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PAPER_V3_SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PAPER_V3_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


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


def profile_of(settings: Any) -> VenueProfile:
    return get_profile(getattr(settings, "venue_profile", None))


def v3_credentials(settings: Any) -> V3Credentials:
    """The account's API wallet; in paper mode without one, the paper exchange's development agent."""
    key = getattr(settings, "v3_signer_key", "") or ""
    chain_id = v3sign.CHAIN_IDS[getattr(settings, "v3_network", "mainnet") or "mainnet"]
    if settings.paper and not key:
        return V3Credentials(PAPER_V3_USER, PAPER_V3_SIGNER, PAPER_V3_KEY, chain_id)
    return V3Credentials(getattr(settings, "v3_user", "") or "", getattr(settings, "v3_signer", "") or "", key,
                         chain_id)


def auth_for(settings: Any, profile: VenueProfile) -> Auth | None:
    """None = the client's default (HMAC with the key pair it is given)."""
    if profile.auth != EIP712:
        return None
    hint = MISSING_V3_HINT + ("" if settings.paper else ", or use paper mode")
    return V3Auth(v3_credentials(settings), run_dir=getattr(settings, "run_dir", None) or None, missing_hint=hint)


def make_exchange(settings: Any, **overrides: Any) -> BinanceCompatibleClient:
    """Client for `settings` (a mraster.settings Settings). `overrides` go to the constructor (tests, tools)."""
    profile = profile_of(settings)
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
        rate_limit_share=settings.rate_limit_share, missing_keys_hint=hint, profile=profile,
        auth=auth_for(settings, profile))
    options.update(overrides)
    return BinanceCompatibleClient(base, ws_base, key, secret, **options)


def apply_live_settings(client: BinanceCompatibleClient, settings: Any) -> None:
    """Pass settings that may change while running (retries, backoff, kline cache lifetime) to a client."""
    client.reconfigure(retries=settings.http_retries, backoff_s=settings.http_backoff,
                       kline_cache_s=settings.kline_cache_sec)
