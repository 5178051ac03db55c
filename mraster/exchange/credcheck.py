"""Checking an account's venue profile and credentials before anything trades.

`static_problems(settings)` needs no network: profile vs URL, V3 wallet
settings (addresses, key matches signer, not the main wallet's key, network vs
URL). `check_credentials(client)` makes the venue judge them with a harmless
signed read (balances) after measuring the clock, and turns the usual refusals
into a sentence that names the likely mistake (aster-v3.md §2.7, §3.5, §6).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mraster.exchange.auth import V3Auth
from mraster.exchange.errors import AuthError, ExchangeError, InvalidTimestampError, RequestError, RetryableError
from mraster.exchange.profiles import EIP712, EXCHANGE_INFO, VenueProfile, exchange_info_mismatch, profile_for_host

MAX_SKEW_MS = 1_000


@dataclass
class CredentialCheck:
    ok: bool
    lines: list[str] = field(default_factory=list)     # what was found (safe to print: no secrets)
    problem: str = ""                                  # the one-sentence diagnosis when not ok


def has_credentials(settings: Any, profile: VenueProfile) -> bool:
    if profile.auth == EIP712:
        return bool(getattr(settings, "v3_signer_key", ""))
    return bool(settings.api_key and settings.api_secret)


def static_problems(settings: Any, profile: VenueProfile) -> list[str]:
    """Mistakes visible without asking the venue (empty when none)."""
    from mraster.exchange.factory import v3_credentials       # late: factory imports the client
    out: list[str] = []
    url = settings.paper_url if settings.paper else settings.exchange_base
    owners = profile_for_host(url)
    if owners and profile.name not in owners:
        out.append(f"ASTER_VENUE_PROFILE={profile.name} but {urlparse(url).hostname} is a "
                   f"{' / '.join(owners)} venue; set ASTER_VENUE_PROFILE to match ASTER_EXCHANGE_BASE")
    if profile.auth == EIP712:
        if getattr(settings, "v3_signer_key", ""):
            out += v3_credentials(settings).problems()
        elif (getattr(settings, "v3_signer", "") or getattr(settings, "v3_user", "")) and not settings.paper:
            out.append("ASTER_V3_SIGNER_KEY (the API wallet's private key) is not set; put it in .env or the "
                       "environment")
        host = (urlparse(url).hostname or "").lower()
        network = getattr(settings, "v3_network", "mainnet")
        if "testnet" in host and network != "testnet":
            out.append(f"{host} is a testnet host but ASTER_V3_NETWORK={network} signs for chain id 1666; "
                       "set ASTER_V3_NETWORK=testnet (chain id 714)")
        if host.endswith("asterdex.com") and network == "testnet":
            out.append(f"{host} is mainnet but ASTER_V3_NETWORK=testnet signs for chain id 714; "
                       "set ASTER_V3_NETWORK=mainnet (chain id 1666)")
    return out


def _diagnose(exc: ExchangeError, profile: VenueProfile, client: Any, url: str) -> str:
    if isinstance(exc, RequestError) and exc.status == 404:
        return (f"{url} does not serve {exc.endpoint.split(' ')[-1]}: ASTER_VENUE_PROFILE={profile.name} does "
                "not seem to be this venue's API.")
    if isinstance(exc, RetryableError):
        return f"the venue at {url} did not answer usably ({exc}); try again later."
    if isinstance(exc, (AuthError, InvalidTimestampError)) or exc.code == -4225:
        return f"the venue refused the signed read ({exc.code}: {exc.msg})"   # HttpCore appended the likely cause
    return f"the signed read failed: {exc}"


async def check_credentials(client: Any) -> CredentialCheck:
    """Clock, then one signed read (balances). Never places or changes anything."""
    profile: VenueProfile = client.profile
    url = client.base_url
    result = CredentialCheck(ok=False)
    try:
        offset = await client.sync_time()
    except ExchangeError as exc:
        result.problem = _diagnose(exc, profile, client, url) if isinstance(exc, RequestError) and exc.status == 404 \
            else f"cannot read the venue clock at {url}: {exc}"
        return result
    result.lines.append(f"venue clock offset {offset} ms")
    if abs(offset) > MAX_SKEW_MS and profile.auth == EIP712:
        result.lines.append(f"warning: the local clock is {abs(offset)} ms off the venue's; nonces follow the "
                            "venue clock, but sync the system clock (NTP)")
    auth = getattr(client._core, "auth", None)
    if isinstance(auth, V3Auth):
        nonce = auth._source().next()
        venue_us = client.now_ms() * 1000
        if len(str(nonce)) != 16 or abs(nonce - venue_us) > 5_000_000:
            result.problem = (f"the nonce source gives {nonce}, not microseconds near the venue's time ({venue_us}); "
                              "the venue would refuse every request")
            return result
    try:
        info = await client._core.request("GET", profile.path(EXCHANGE_INFO))
    except ExchangeError as exc:
        result.problem = _diagnose(exc, profile, client, url)
        return result
    mismatch = exchange_info_mismatch(profile, info)
    if mismatch:
        result.problem = f"{mismatch}; set ASTER_VENUE_PROFILE to this venue's profile"
        return result
    try:
        balances = await client.balances()
    except (AuthError, RequestError, ExchangeError) as exc:
        result.problem = _diagnose(exc, profile, client, url)
        return result
    assets = ", ".join(f"{b.asset} {b.available_balance}" for b in balances[:4]) or "no assets"
    result.lines.append(f"signed read OK ({profile.name}): {assets}")
    result.ok = True
    return result
