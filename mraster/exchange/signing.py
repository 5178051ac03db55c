"""HMAC-SHA256 request signing of the Binance-compatible V1 API.

The venue hashes the parameter string exactly as transmitted, so the client
builds that string once (`encode_params`), signs those very bytes and sends
them unchanged with `signature` as the last parameter.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Iterable
from urllib.parse import quote, urlencode

Params = list[tuple[str, str]]


def encode_params(params: Iterable[tuple[str, str]]) -> str:
    """`a=1&b=2` in the given order, strictly percent-encoded (RFC 3986; only `A-Za-z0-9_.-~` stay as
    they are), so the bytes the venue hashes are exactly the bytes we signed."""
    return urlencode(list(params), quote_via=quote, safe="")


def signature(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of `payload` keyed with the API secret."""
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_query(params: Iterable[tuple[str, str]], secret: str, *, timestamp_ms: int,
                 recv_window_ms: int | None) -> str:
    """The full query string of a signed request: params, recvWindow, timestamp, then signature."""
    items: Params = [(k, v) for k, v in params if k not in ("timestamp", "recvWindow", "signature")]
    if recv_window_ms is not None:
        items.append(("recvWindow", str(int(recv_window_ms))))
    items.append(("timestamp", str(int(timestamp_ms))))
    query = encode_params(items)
    return f"{query}&signature={signature(secret, query)}"
