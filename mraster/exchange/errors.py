"""One exception tree for every venue, ordered by what the caller does.

    ExchangeError
    ├── RetryableError            try again later (5xx, timeouts, network, -1001/-1006/-1007)
    │   ├── ExecutionUnknownError the venue may have executed it: look it up before retrying
    │   ├── RateLimitedError      429 (or 403 without a code: the WAF): wait `retry_after` seconds
    │   └── BannedError           418: no request at all until `until_ms`
    ├── RequestError              fix the request; retrying the same thing fails again
    │   ├── InvalidTimestampError -1021 (the client resyncs its clock and retries once)
    │   ├── OrderWouldTriggerError -2021 / -4142: a stop/TP is already through its level
    │   ├── ReduceOnlyRejectedError -2022 / -4118: nothing (or not enough) to reduce
    │   ├── UnknownOrderError     -2011 / -2013 / -20124: no such (open) order
    │   └── DuplicateClientOrderIdError -4116 / -20132: an open order already has this client id
    ├── AuthError                 -1002 / -1022 / -2014 / -2015: keys, signature, permissions
    ├── InsufficientMarginError   -2018 / -2019 / -2027 / -2028
    └── MalformedResponseError    the venue answered something we cannot parse (names the endpoint)

Every instance keeps the venue's `code` and `msg`, the HTTP `status` and the `endpoint`.
"""
from __future__ import annotations

from typing import Any, Mapping


class ExchangeError(Exception):
    def __init__(self, msg: str = "", *, code: int | None = None, status: int | None = None,
                 endpoint: str = ""):
        self.code, self.msg, self.status, self.endpoint = code, msg, status, endpoint
        where = f" [{endpoint}]" if endpoint else ""
        code_txt = f"{code}: " if code is not None else ""
        http = f" (HTTP {status})" if status else ""
        super().__init__(f"{code_txt}{msg}{http}{where}")


class RetryableError(ExchangeError):
    pass


class ExecutionUnknownError(RetryableError):
    """Sent, but no answer: the request may have taken effect."""


class RateLimitedError(RetryableError):
    def __init__(self, msg: str = "", *, retry_after: float = 1.0, **kw: Any):
        super().__init__(msg, **kw)
        self.retry_after = retry_after


class BannedError(RetryableError):
    def __init__(self, msg: str = "", *, until_ms: int = 0, **kw: Any):
        super().__init__(msg, **kw)
        self.until_ms = until_ms


class RequestError(ExchangeError):
    pass


class InvalidTimestampError(RequestError):
    pass


class OrderWouldTriggerError(RequestError):
    pass


class ReduceOnlyRejectedError(RequestError):
    pass


class UnknownOrderError(RequestError):
    pass


class DuplicateClientOrderIdError(RequestError):
    pass


class AuthError(ExchangeError):
    pass


class InsufficientMarginError(ExchangeError):
    pass


class MalformedResponseError(ExchangeError):
    pass


_BY_CODE: dict[int, type[ExchangeError]] = {
    -1000: RetryableError, -1001: RetryableError, -1006: ExecutionUnknownError, -1007: ExecutionUnknownError,
    -1016: RetryableError,
    -1003: RateLimitedError, -1015: RateLimitedError,
    -1021: InvalidTimestampError,
    -2021: OrderWouldTriggerError, -4142: OrderWouldTriggerError,
    -2022: ReduceOnlyRejectedError, -4118: ReduceOnlyRejectedError,
    -2011: UnknownOrderError, -2013: UnknownOrderError,
    -4116: DuplicateClientOrderIdError,
    # Binance algo ids (ccxt's table): "Invalid algo id or it has been completed." / "client algo id is duplicated"
    -20124: UnknownOrderError, -20132: DuplicateClientOrderIdError,
    -1002: AuthError, -1022: AuthError, -2014: AuthError, -2015: AuthError,
    -2018: InsufficientMarginError, -2019: InsufficientMarginError, -2027: InsufficientMarginError,
    -2028: InsufficientMarginError,
}


def error_from_response(status: int, code: int | None, msg: str, endpoint: str = "",
                        headers: Mapping[str, str] | None = None, now_ms: int | None = None) -> ExchangeError:
    """Map an HTTP status plus the venue's {code, msg} to the right exception."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    retry_after = _float(headers.get("retry-after"))
    if status == 418:
        wait = retry_after if retry_after is not None else 120.0
        base = now_ms if now_ms is not None else 0
        return BannedError(msg or "IP banned", until_ms=base + int(wait * 1000), code=code, status=status,
                           endpoint=endpoint)
    if status == 429:
        return RateLimitedError(msg or "rate limited", retry_after=retry_after if retry_after is not None else 1.0,
                                code=code, status=status, endpoint=endpoint)
    if status == 503 or status == 504:
        return ExecutionUnknownError(msg or "no response in time; execution status unknown", code=code,
                                     status=status, endpoint=endpoint)
    if status >= 500:
        return RetryableError(msg or "server error", code=code, status=status, endpoint=endpoint)
    if status == 403 and code is None:      # the venue's web application firewall, not a key problem
        return RateLimitedError(msg or "WAF limit violated", retry_after=retry_after if retry_after is not None
                                else 1.0, status=status, endpoint=endpoint)
    cls = _BY_CODE.get(code) if code is not None else None
    if cls is RateLimitedError:
        return RateLimitedError(msg, retry_after=retry_after or 1.0, code=code, status=status, endpoint=endpoint)
    if cls is None:
        cls = AuthError if status == 401 and code is None else RequestError
    return cls(msg, code=code, status=status, endpoint=endpoint)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
