"""Named accounts: who an engine instance trades as.

The default account `main` keeps `ASTER_API_KEY`/`ASTER_API_SECRET` (or the V3 API wallet settings) and
every exchange setting of the flat `ASTER_*` file. A named account `<N>` (one upper-case word such as
seed 003's A, B, C) is declared by its credentials, read only from `.env` or the process environment
(never from dashboard_config.json):

    ASTER_<N>_KEY / ASTER_<N>_SECRET                 API key + HMAC secret (HMAC venue profiles)
    ASTER_<N>_V3_USER / _V3_SIGNER / _V3_SIGNER_KEY   an Aster V3 API wallet (EIP-712 profile)
    ASTER_<N>_VENUE_PROFILE, ASTER_<N>_EXCHANGE_BASE, ASTER_<N>_WS_BASE, ASTER_<N>_MARGIN_TYPE,
    ASTER_<N>_V3_NETWORK                              optional, default: the main account's
    ASTER_<N>_ACCOUNT_MAX_NOTIONAL_USDT, ASTER_<N>_ACCOUNT_MAX_POSITIONS, ASTER_<N>_GUARD_MANUAL
                                                      optional account-wide settings (risk gate, guard)

`ASTER_ACCOUNTS=A,B` declares accounts without credentials (paper mode needs none). In paper mode each
account without its own pair trades as `paper-<n>` on the paper exchange, a separate account with its
own balance (the paper exchange makes one per key).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from mraster.exchange.profiles import PROFILE_NAMES as PROFILES

DEFAULT_ACCOUNT = "main"
NAME_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
RESERVED = frozenset({"API", "PAPER", "V3", "WS", "HTTP", "DASHBOARD", "EXCHANGE", "ACCOUNTS"})
_CRED_RE = re.compile(r"^ASTER_([A-Z][A-Z0-9]{0,7})_(KEY|SECRET|V3_SIGNER_KEY)$")
_OPTIONAL = {"VENUE_PROFILE": "venue_profile", "EXCHANGE_BASE": "exchange_base", "WS_BASE": "ws_base",
             "MARGIN_TYPE": "margin_type", "V3_USER": "v3_user", "V3_SIGNER": "v3_signer",
             "V3_NETWORK": "v3_network"}
# Per-account values of account-wide settings (the risk gate's caps, the guard's hand positions), typed
# by the flat setting's spec: ASTER_<N>_ACCOUNT_MAX_POSITIONS=3 is account N's ASTER_ACCOUNT_MAX_POSITIONS.
_TYPED = {"ACCOUNT_MAX_NOTIONAL_USDT": "account_max_notional_usdt", "ACCOUNT_MAX_POSITIONS": "account_max_positions",
          "GUARD_MANUAL": "guard_manual"}


class AccountError(ValueError):
    """A named account is declared wrongly; the message names the variable."""


@dataclass(frozen=True)
class Account:
    """One account's credentials and venue. `overrides` are Settings attributes that differ from main."""
    name: str
    api_key: str = ""
    api_secret: str = ""
    v3_signer_key: str = ""
    overrides: tuple[tuple[str, Any], ...] = ()

    def __repr__(self) -> str:   # secrets never reach a log line through repr
        return f"Account(name={self.name!r}, overrides={dict(self.overrides)!r})"

    def public(self) -> dict[str, Any]:
        """What may be shown anywhere: name, venue settings, whether credentials are set."""
        return {"name": self.name, **dict(self.overrides),
                "has_key": bool(self.api_key), "has_v3_wallet": bool(self.v3_signer_key)}


def account_env(dotenv_file: Path | str | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`.env` values under the process environment (the only two places credentials may come from)."""
    merged: dict[str, str] = {}
    if dotenv_file and Path(dotenv_file).is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def is_account_variable(name: str) -> bool:
    """`ASTER_ACCOUNTS` or `ASTER_<N>_<suffix>` of a named account (not a flat setting, not a typo)."""
    if name == "ASTER_ACCOUNTS":
        return True
    for suffix in ("KEY", "SECRET", "V3_SIGNER_KEY", *_OPTIONAL, *_TYPED):
        head = f"_{suffix}"
        if name.startswith("ASTER_") and name.endswith(head):
            account = name[len("ASTER_"):-len(head)]
            if NAME_RE.match(account) and account not in RESERVED:
                return True
    return False


def check_account_name(name: str) -> str:
    if name == DEFAULT_ACCOUNT:
        return name
    if not NAME_RE.match(name or "") or name in RESERVED:
        raise AccountError(f"account name {name!r}: expected {DEFAULT_ACCOUNT!r} or one upper-case word of up "
                           f"to 8 letters/digits (not {', '.join(sorted(RESERVED))})")
    return name


def declared_names(env: Mapping[str, str]) -> list[str]:
    """Names of the accounts the environment declares, `main` first."""
    names = set()
    for raw in (env.get("ASTER_ACCOUNTS") or "").split(","):
        if raw.strip():
            names.add(check_account_name(raw.strip().upper()))
    for var in env:
        m = _CRED_RE.match(var)
        if m and m.group(1) not in RESERVED:
            names.add(m.group(1))
    return [DEFAULT_ACCOUNT] + sorted(names)


def load_accounts(env: Mapping[str, str]) -> dict[str, Account]:
    """Every declared account. AccountError for a key without its secret or a bad profile."""
    out = {DEFAULT_ACCOUNT: Account(DEFAULT_ACCOUNT)}
    for name in declared_names(env)[1:]:
        key, secret = env.get(f"ASTER_{name}_KEY", ""), env.get(f"ASTER_{name}_SECRET", "")
        if bool(key) != bool(secret):
            raise AccountError(f"account {name}: ASTER_{name}_KEY and ASTER_{name}_SECRET must be set together")
        overrides = tuple((attr, env[f"ASTER_{name}_{suffix}"]) for suffix, attr in _OPTIONAL.items()
                          if env.get(f"ASTER_{name}_{suffix}"))
        overrides += _typed_overrides(env, name)
        profile = dict(overrides).get("venue_profile")
        if profile is not None and profile not in PROFILES:
            raise AccountError(f"ASTER_{name}_VENUE_PROFILE={profile!r}: expected one of {', '.join(PROFILES)}")
        out[name] = Account(name, key, secret, env.get(f"ASTER_{name}_V3_SIGNER_KEY", ""), overrides)
    return out


def _typed_overrides(env: Mapping[str, str], name: str) -> tuple[tuple[str, Any], ...]:
    from mraster.settings.fields import FIELDS_BY_ENV
    from mraster.settings.schema import FieldError
    out = []
    for suffix, attr in _TYPED.items():
        var = f"ASTER_{name}_{suffix}"
        if env.get(var):
            try:
                out.append((attr, FIELDS_BY_ENV[f"ASTER_{suffix}"].parse(env[var], var)))
            except FieldError as exc:
                raise AccountError(str(exc)) from None
    return tuple(out)


def settings_for_account(settings: Any, account: Account) -> Any:
    """The Settings an engine on `account` runs with: main's, with the account's credentials and venue.
    In paper mode an account without its own pair gets `paper-<name>` (its own paper account)."""
    if account.name == DEFAULT_ACCOUNT:
        return settings
    values: dict[str, Any] = dict(account.overrides)
    key, secret = account.api_key, account.api_secret
    if settings.paper and not key:
        key, secret = f"paper-{account.name.lower()}", "paper-secret"
    values.update(api_key=key, api_secret=secret, v3_signer_key=account.v3_signer_key)
    if settings.paper:
        values.update(paper_api_key="", paper_api_secret="")
    return replace(settings, **values)
