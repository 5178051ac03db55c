"""API keys, signatures and timestamps, as the venue checks them (reference 2.2-2.4).

The HMAC is computed over the raw bytes as sent (query string, then body, the trailing
`signature=` pair removed), so any client that signs correctly for the venue signs correctly here.

Which keys are accepted:
- ASTER_PAPER_API_KEY set: only that key, and only with signatures made with ASTER_PAPER_API_SECRET.
- otherwise any non-empty key (each is its own account). A key whose secret the exchange knows is
  verified strictly: the default pair paper-key/paper-secret and pairs registered with
  `POST /admin/keys`. For other keys the secret is unknown, so the signature is only checked for form
  (64 hex digits): an HMAC cannot be verified without its secret.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Mapping

from paper.engine.errors import VenueError, mandatory

_HEX64 = re.compile(rb"^[0-9a-fA-F]{64}$")
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000


def split_signature(query: bytes, body: bytes) -> tuple[bytes, bytes | None]:
    """(signed payload, signature) with the trailing `signature=...` pair removed from its part."""
    for part in ("query", "body"):
        raw = query if part == "query" else body
        if not raw:
            continue
        i = raw.rfind(b"signature=")
        if i < 0 or (i > 0 and raw[i - 1:i] != b"&"):
            continue
        sig = raw[i + len(b"signature="):]
        if b"&" in sig:
            continue                  # not the last parameter
        rest = raw[:max(0, i - 1)] if i > 0 else b""
        return (rest + body, sig) if part == "query" else (query + rest, sig)
    return query + body, None


def sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


class Authenticator:
    def __init__(self, known: Mapping[str, str], fixed_key: str | None = None,
                 also: Mapping[str, str] | None = None):
        self.known = dict(known)         # key -> secret, verified strictly
        self.fixed_key = fixed_key       # only this key (and the named accounts' keys, `also`) when set
        self.also = dict(also or {})

    def register(self, key: str, secret: str) -> None:
        self.known[key] = secret

    def api_key(self, header: str | None) -> str:
        """The account key of a secured request (-2014 missing/malformed, -2015 not accepted)."""
        if header is None or not header.strip():
            raise VenueError(-2014, "API-key format invalid.", 401)
        key = header.strip()
        if len(key) > 128 or any(c.isspace() for c in key):
            raise VenueError(-2014, "API-key format invalid.", 401)
        if self.fixed_key is not None and key != self.fixed_key and key not in self.also:
            raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return key

    def check_signed(self, key: str, query: bytes, body: bytes, timestamp: str | None, recv_window: str | None,
                     server_ms: int) -> None:
        """Signature (-1022) and timestamp (-1021) of a USER_DATA / TRADE request."""
        payload, sig = split_signature(query, body)
        if not sig:
            raise mandatory("signature")
        secret = self.known.get(key)
        if secret is not None:
            if not hmac.compare_digest(sign(secret, payload), sig.decode("ascii", "replace").lower()):
                raise VenueError(-1022, "Signature for this request is not valid.")
        elif not _HEX64.match(sig):
            raise VenueError(-1022, "Signature for this request is not valid.")
        if timestamp is None or timestamp == "":
            raise mandatory("timestamp")
        try:
            ts = int(timestamp)
        except ValueError:
            raise mandatory("timestamp") from None
        window = DEFAULT_RECV_WINDOW
        if recv_window not in (None, ""):
            try:
                window = int(recv_window)
            except ValueError:
                raise mandatory("recvWindow") from None
            if window <= 0 or window > MAX_RECV_WINDOW:
                raise VenueError(-1130, "Data sent for parameter 'recvWindow' is not valid.")
        if not (ts < server_ms + 1000 and server_ms - ts <= window):
            raise VenueError(-1021, "Timestamp for this request is outside of the recvWindow.")
