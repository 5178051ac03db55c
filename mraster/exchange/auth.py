"""How a request is authenticated, per venue profile: HMAC + API key, or an Aster V3 agent signature.

`HttpCore` asks its `Auth` for the exact query string and headers of one
attempt; the string returned is sent unchanged (signed string == transmitted
string). Each attempt is signed afresh (new timestamp or new nonce).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from mraster.logs import register_secrets
from mraster.exchange import v3sign
from mraster.exchange.errors import AuthError
from mraster.exchange.nonce import NonceSource
from mraster.exchange.signing import Params, encode_params, signed_query

MISSING_KEYS_HINT = "set ASTER_API_KEY and ASTER_API_SECRET (in .env or the environment)"
MISSING_V3_HINT = ("set ASTER_V3_USER, ASTER_V3_SIGNER and ASTER_V3_SIGNER_KEY (the key in .env or the "
                   "environment only)")


class Auth(Protocol):
    kind: str

    def prepare(self, items: Params, *, signed: bool, api_key: bool, now_ms: int, endpoint: str
                ) -> tuple[str, dict[str, str]]:
        """(query string, headers) of one attempt; raises AuthError when credentials are missing."""

    def explain(self, code: int | None, msg: str = "") -> str:
        """The likely configuration mistake behind an authentication refusal ('' when none applies)."""


class HmacAuth:
    """V1 / Binance: `X-MBX-APIKEY` header; signed calls add recvWindow, timestamp and an HMAC-SHA256."""
    kind = "hmac"

    def __init__(self, api_key: str = "", api_secret: str = "", *, recv_window_ms: int | None = 10_000,
                 missing_hint: str = MISSING_KEYS_HINT):
        self._key, self._secret = api_key or "", api_secret or ""
        register_secrets([self._key, self._secret])
        self.recv_window_ms = recv_window_ms
        self.missing_hint = missing_hint

    def prepare(self, items: Params, *, signed: bool, api_key: bool, now_ms: int, endpoint: str
                ) -> tuple[str, dict[str, str]]:
        if not (signed or api_key):
            return encode_params(items), {}
        if not self._key or (signed and not self._secret):
            raise AuthError(f"API key and secret are needed for this call; {self.missing_hint}", endpoint=endpoint)
        headers = {"X-MBX-APIKEY": self._key}
        if not signed:
            return encode_params(items), headers
        return signed_query(items, self._secret, timestamp_ms=now_ms, recv_window_ms=self.recv_window_ms), headers

    def explain(self, code: int | None, msg: str = "") -> str:
        """The likely configuration mistake behind an authentication refusal ('' when none applies)."""
        if code == -1022:
            return "ASTER_API_SECRET does not belong to ASTER_API_KEY."
        if code in (-2015, -2014, -1002):
            return "wrong API key, IP not whitelisted, or futures trading not enabled for it."
        if code == -1021:
            return "sync the system clock (NTP)."
        return ""


@dataclass(frozen=True)
class V3Credentials:
    """An Aster API wallet: the main wallet (`user`), the agent address (`signer`) and the agent's key.
    The key never appears in repr, logs or errors."""
    user: str
    signer: str
    private_key: str
    chain_id: int = v3sign.MAINNET_CHAIN_ID

    def __repr__(self) -> str:
        return f"V3Credentials(user={self.user!r}, signer={self.signer!r}, private_key='***', chain_id={self.chain_id})"

    __str__ = __repr__

    def problems(self) -> list[str]:
        """Configuration mistakes, each as one sentence (empty when usable)."""
        out: list[str] = []
        if not self.private_key:
            out.append("ASTER_V3_SIGNER_KEY (the API wallet's private key) is not set")
        if self.user and not v3sign.is_address(self.user):
            out.append(f"ASTER_V3_USER={self.user!r} is not an address (0x + 40 hex)")
        if self.signer and not v3sign.is_address(self.signer):
            out.append(f"ASTER_V3_SIGNER={self.signer!r} is not an address (0x + 40 hex)")
        if self.private_key:
            try:
                derived = v3sign.address_of(self.private_key)
            except v3sign.SignatureError as exc:
                out.append(f"ASTER_V3_SIGNER_KEY: {exc}")
            else:
                if self.signer and v3sign.is_address(self.signer) and derived.lower() != self.signer.lower():
                    out.append(f"ASTER_V3_SIGNER={self.signer} is not the address of ASTER_V3_SIGNER_KEY "
                               f"(that key belongs to {derived})")
                if self.user and derived.lower() == self.user.lower():
                    out.append("ASTER_V3_SIGNER_KEY is the main wallet's key; give the bot an API wallet (agent) "
                               "key instead, created on the venue's API wallet page")
        return out

    @property
    def signer_address(self) -> str:
        return self.signer or (v3sign.address_of(self.private_key) if self.private_key else "")


class V3Auth:
    """Aster V3: every TRADE / USER_DATA / USER_STREAM call carries nonce (µs), user, signer and an
    EIP-712 signature of the parameter string; no API-key header, no timestamp/recvWindow."""
    kind = "eip712"

    def __init__(self, creds: V3Credentials, *, run_dir: Path | str | None = None,
                 missing_hint: str = MISSING_V3_HINT, send_user: bool = True):
        self.creds = creds
        register_secrets([creds.private_key, creds.private_key[2:] if creds.private_key[:2] == "0x" else ""])
        self.missing_hint = missing_hint
        self.send_user = send_user
        self._run_dir = run_dir
        self._now_us: Callable[[], int] | None = None
        self.nonces: NonceSource | None = None
        self.last_nonce = 0
        self._problems: list[str] | None = None
        self._signer = ""

    def bind_clock(self, now_us: Callable[[], int]) -> None:
        """Nonces follow the venue's clock (local + measured offset), which is what the venue judges."""
        self._now_us = now_us
        self.nonces = None

    def _source(self) -> NonceSource:
        if self.nonces is None:
            kwargs = {"now_us": self._now_us} if self._now_us is not None else {}
            self.nonces = NonceSource(self.creds.signer_address, self._run_dir, **kwargs)
        return self.nonces

    def explain(self, code: int | None, msg: str = "") -> str:
        """The likely configuration mistake behind a refusal (aster-v3.md §2.7, §6; '' when none applies)."""
        c = self.creds
        if code == -1022:
            return (f"the usual cause is the chain id: this account signs for chain id {c.chain_id} "
                    "(ASTER_V3_NETWORK); mainnet needs 1666, testnet 714. Also check that ASTER_V3_SIGNER_KEY is the "
                    "API wallet's key.")
        if code in (-1002, -2015, -2014, -1011):
            return (f"signer {c.signer_address} must be an approved, unexpired API wallet (agent) of user "
                    f"{c.user or '(ASTER_V3_USER not set)'} with futures trading allowed (API wallet page, 'Pro API' "
                    "tab), and ASTER_V3_USER must be the main wallet that approved it.")
        if code in (-4225, -1021):
            return ("nonces are microseconds since the epoch (16 digits), within the venue's window of its clock; a "
                    "millisecond nonce or a clock off by more than a few seconds is refused. Sync the system clock "
                    "(NTP).")
        return ""

    def prepare(self, items: Params, *, signed: bool, api_key: bool, now_ms: int, endpoint: str
                ) -> tuple[str, dict[str, str]]:
        if not (signed or api_key):
            return encode_params(items), {}
        if self._problems is None:       # the credentials are fixed: judged once
            self._problems = self.creds.problems()
            self._signer = "" if self._problems else self.creds.signer_address
        if self._problems or not self._signer:
            raise AuthError(f"V3 API wallet not usable: {'; '.join(self._problems) or 'no signer'}; "
                            f"{self.missing_hint}", endpoint=endpoint)
        business = [(k, v) for k, v in items if k not in ("timestamp", "recvWindow")]
        nonce = self._source().next()
        self.last_nonce = nonce
        query = v3sign.signed_payload(business, signer=self._signer, private_key=self.creds.private_key,
                                      nonce_us=nonce, chain_id=self.creds.chain_id,
                                      user=self.creds.user if self.send_user and self.creds.user else None)
        return query, {}
