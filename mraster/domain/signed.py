"""Signed instructions between processes of one engine (seed 003: coordinator -> executors).

The signature is HMAC-SHA256 over `<timestamp ms>.<body bytes>` with a shared secret, sent as two
headers. The receiver refuses a bad signature, a timestamp older or newer than `max_age_ms` (stale),
and an instruction id it has already seen within that window (replayed). Pure: the caller passes
the clock, so tests need no sleeps. In the kernel because both the engine and the dashboard (its
emergency-stop button) sign, and applications do not import each other.
"""
from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict

SIG_HEADER = "X-MR-Signature"
TS_HEADER = "X-MR-Timestamp"


class SignatureError(ValueError):
    """The instruction is refused; the message says why (never the secret)."""


def sign(secret: str, timestamp_ms: int, body: bytes) -> str:
    msg = str(int(timestamp_ms)).encode() + b"." + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def headers(secret: str, timestamp_ms: int, body: bytes) -> dict[str, str]:
    """Headers for a request with `body`; without a secret only the timestamp (loopback use)."""
    out = {TS_HEADER: str(int(timestamp_ms))}
    if secret:
        out[SIG_HEADER] = sign(secret, timestamp_ms, body)
    return out


class Verifier:
    """Checks signature, age and replay. `secret` empty: signatures are not checked (the caller binds
    to loopback only), age and replay still are."""

    def __init__(self, secret: str, max_age_ms: int = 10_000, max_ids: int = 100_000):
        self.secret = secret
        self.max_age_ms = max_age_ms
        self.max_ids = max_ids
        self._seen: OrderedDict[str, int] = OrderedDict()     # instruction id -> its timestamp

    def check(self, body: bytes, timestamp: str | None, signature: str | None, instruction_id: str,
              now_ms: int) -> None:
        """Returns when the instruction may be executed (and remembers its id); SignatureError otherwise."""
        try:
            ts = int(timestamp or "")
        except ValueError:
            raise SignatureError(f"missing or malformed {TS_HEADER}") from None
        if self.secret:
            if not signature:
                raise SignatureError(f"missing {SIG_HEADER}")
            if not hmac.compare_digest(sign(self.secret, ts, body), signature):
                raise SignatureError("bad signature")
        if abs(now_ms - ts) > self.max_age_ms:
            raise SignatureError(f"stale: timestamp {ts} is {now_ms - ts} ms from now (limit {self.max_age_ms} ms)")
        if not instruction_id:
            raise SignatureError("missing instruction id")
        self._forget(now_ms)
        if instruction_id in self._seen:
            raise SignatureError(f"replayed instruction {instruction_id}")
        self._seen[instruction_id] = ts
        while len(self._seen) > self.max_ids:
            self._seen.popitem(last=False)

    def _forget(self, now_ms: int) -> None:
        """Ids older than the age window can go: their timestamp alone now refuses them."""
        horizon = now_ms - 2 * self.max_age_ms
        while self._seen:
            key, ts = next(iter(self._seen.items()))
            if ts >= horizon:
                break
            self._seen.popitem(last=False)
