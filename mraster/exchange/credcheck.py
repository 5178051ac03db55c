"""Checking an account's venue profile and credentials before anything trades.

`static_problems(settings)` needs no network: profile vs URL, V3 wallet
settings (addresses, key matches signer, not the main wallet's key, network vs
URL). `check_credentials(client)` makes the venue judge them with a harmless
signed read (balances) after measuring the clock, and turns the usual refusals
into a sentence that names the likely mistake (aster-v3.md §2.7, §3.5, §6).

`preflight(settings)` is both together, as run before a live engine starts (bot, guard, and the
dashboard before it starts either). Its `kind` tells a refusal (the settings are wrong: restarting
cannot help) from a venue that did not answer usably (it may answer later): the bot starts only on
"ok"; the guard refuses only on "refused", since a guard that waits for the venue still protects
positions once it answers (`may_start`).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from mraster.exchange.auth import V3Auth
from mraster.exchange.errors import AuthError, ExchangeError, InvalidTimestampError, RequestError, RetryableError
from mraster.exchange.profiles import EIP712, EXCHANGE_INFO, VenueProfile, exchange_info_mismatch, profile_for_host

MAX_SKEW_MS = 1_000
PREFLIGHT_TIMEOUT_S = 15.0
OK, REFUSED, UNREACHABLE, SKIPPED = "ok", "refused", "unreachable", "skipped"


@dataclass
class CredentialCheck:
    ok: bool
    lines: list[str] = field(default_factory=list)     # what was found (safe to print: no secrets)
    problem: str = ""                                  # the one-sentence diagnosis when not ok
    kind: str = ""     # ok | refused (the settings are wrong) | unreachable (try later) | skipped (nothing checked)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "problem": self.problem, "lines": list(self.lines)}


def may_start(check: CredentialCheck, engine: str) -> bool:
    """The bot trades only with credentials the venue accepted; the guard refuses only when they are
    wrong (a venue that does not answer yet must not keep it from protecting positions once it does)."""
    if engine == "guard":
        return check.kind != REFUSED
    return check.ok


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


def _kind(exc: ExchangeError) -> str:
    """A venue that answered 'no' (refused) against one that did not answer usably (unreachable)."""
    if isinstance(exc, RequestError) and exc.status == 404:
        return REFUSED
    if isinstance(exc, (AuthError, InvalidTimestampError)) or exc.code == -4225:
        return REFUSED
    if isinstance(exc, RetryableError) or exc.status is None or exc.status >= 500:
        return UNREACHABLE
    return REFUSED


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
    result = CredentialCheck(ok=False, kind=REFUSED)
    try:
        offset = await client.sync_time()
    except ExchangeError as exc:
        result.kind = _kind(exc) if isinstance(exc, RequestError) and exc.status == 404 else UNREACHABLE
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
        result.kind = _kind(exc)
        result.problem = _diagnose(exc, profile, client, url)
        return result
    mismatch = exchange_info_mismatch(profile, info)
    if mismatch:
        result.problem = f"{mismatch}; set ASTER_VENUE_PROFILE to this venue's profile"
        return result
    try:
        balances = await client.balances()
    except ExchangeError as exc:
        result.kind = _kind(exc)
        result.problem = _diagnose(exc, profile, client, url)
        return result
    assets = ", ".join(f"{b.asset} {b.available_balance}" for b in balances[:4]) or "no assets"
    result.lines.append(f"signed read OK ({profile.name}): {assets}")
    result.ok, result.kind = True, OK
    return result


async def preflight(settings: Any, *, make: Any = None, require_credentials: bool = True,
                    timeout_s: float = PREFLIGHT_TIMEOUT_S) -> CredentialCheck:
    """Static checks, then the venue's judgement (`check_credentials`) with a client of its own (no
    retries: one harmless read). `make(settings)` builds the client (default `make_exchange`).
    Live without credentials: refused when `require_credentials` (an engine), else skipped."""
    from mraster.exchange.factory import make_exchange, profile_of
    profile = profile_of(settings)
    problems = static_problems(settings, profile)
    if problems:
        return CredentialCheck(ok=False, problem="; ".join(problems), kind=REFUSED)
    if not settings.paper and not has_credentials(settings, profile):
        if not require_credentials:
            return CredentialCheck(ok=False, kind=SKIPPED,
                                   lines=[f"no credentials set for live trading ({profile.docs}); nothing to check"])
        what = ("ASTER_V3_USER, ASTER_V3_SIGNER and ASTER_V3_SIGNER_KEY" if profile.auth == EIP712
                else "ASTER_API_KEY and ASTER_API_SECRET")
        return CredentialCheck(ok=False, kind=REFUSED,
                               problem=f"live trading needs {what} (in .env or the environment); or set "
                                       "ASTER_PAPER=true to trade on the paper exchange")
    try:
        client = make(settings) if make is not None else make_exchange(
            settings, retries=0, timeout_s=min(10.0, float(settings.http_timeout)))
    except Exception as exc:      # a client that cannot even be built: say so, never raise to the caller
        return CredentialCheck(ok=False, kind=UNREACHABLE, problem=f"no exchange client: {type(exc).__name__}: {exc}")
    try:
        return await asyncio.wait_for(check_credentials(client), timeout_s)
    except TimeoutError:
        url = settings.paper_url if settings.paper else settings.exchange_base
        return CredentialCheck(ok=False, kind=UNREACHABLE,
                               problem=f"the venue at {url} did not answer within {timeout_s:g} s; try again later.")
    except Exception as exc:      # transport failures the client did not map
        return CredentialCheck(ok=False, kind=UNREACHABLE, problem=f"the check failed: {type(exc).__name__}: {exc}")
    finally:
        try:
            await client.close()
        except Exception:
            pass


def profile_summary(settings: Any) -> str:
    """One line: the account's venue profile, where it points and who signs (no secrets)."""
    from mraster.exchange.factory import profile_of, v3_credentials
    from mraster.exchange.v3sign import CHAIN_IDS
    profile = profile_of(settings)
    url = settings.paper_url if settings.paper else settings.exchange_base
    where = f"{'paper exchange' if settings.paper else 'LIVE'} {url}"
    if profile.auth == EIP712:
        creds = v3_credentials(settings)
        try:
            signer = creds.signer_address or "(not set)"
        except ValueError:
            signer = creds.signer or "(invalid key)"
        who = (f"API wallet {signer} of {creds.user or '(user not set)'}, {settings.v3_network} "
               f"(chain id {CHAIN_IDS[settings.v3_network]})")
    else:
        who = "API key " + ("set" if settings.api_key else "not set")
    return f"venue profile {profile.name}: {profile.title}; {where}; {who}"
