"""Client-side request-weight and order-count budget.

The venue counts weight per IP and orders per account in fixed one-minute
windows and answers 429 (then 418, an IP ban) when a window is overdrawn. We
keep our own count, raised to whatever the venue reports in
`X-MBX-USED-WEIGHT-1M` / `X-MBX-ORDER-COUNT-1M` (those include other processes
on the same IP, e.g. bot and guard), and delay a request to the next window
when it would take usage above `share` of the limit. Pure logic: time comes in
as venue milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

WINDOW_MS = 60_000
DEFAULT_WEIGHT_LIMIT = 2400
DEFAULT_ORDER_LIMIT = 1200
_WINDOW_MARGIN_MS = 50          # start a little after the venue's window turns over


@dataclass
class WindowCounter:
    """Usage within the current fixed one-minute window."""
    used: int = 0
    window_start: int = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % WINDOW_MS
        if start != self.window_start:
            self.window_start, self.used = start, 0

    def current(self, now_ms: int) -> int:
        self.roll(now_ms)
        return self.used

    def observe(self, reported: int, now_ms: int) -> None:
        """The venue's figure counts requests we cannot see; ours counts those still in flight."""
        self.roll(now_ms)
        self.used = max(self.used, reported)

    def wait_ms(self, now_ms: int) -> int:
        return self.window_start + WINDOW_MS - now_ms + _WINDOW_MARGIN_MS


class RateBudget:
    def __init__(self, share: float = 0.8, weight_limit: int = DEFAULT_WEIGHT_LIMIT,
                 order_limit: int = DEFAULT_ORDER_LIMIT):
        if not 0 < share <= 1:
            raise ValueError(f"rate-limit share must be in (0, 1], got {share}")
        self.share = share
        self.weight_limit, self.order_limit = weight_limit, order_limit
        self.weight = WindowCounter()
        self.orders = WindowCounter()

    def set_limits(self, weight_limit: int | None, order_limit: int | None) -> None:
        """Limits announced by exchangeInfo's `rateLimits` replace the documented defaults."""
        if weight_limit and weight_limit > 0:
            self.weight_limit = weight_limit
        if order_limit and order_limit > 0:
            self.order_limit = order_limit

    @property
    def weight_allowance(self) -> int:
        return max(1, int(self.weight_limit * self.share))

    @property
    def order_allowance(self) -> int:
        return max(1, int(self.order_limit * self.share))

    def reserve(self, weight: int, is_order: bool, now_ms: int) -> float:
        """Reserve `weight` (and one order) now and return 0.0, or return the seconds to wait first.
        A request heavier than the whole allowance may go into an empty window, so nothing waits forever."""
        used_w = self.weight.current(now_ms)
        if used_w > 0 and used_w + weight > self.weight_allowance:
            return self.weight.wait_ms(now_ms) / 1000.0
        if is_order:
            used_o = self.orders.current(now_ms)
            if used_o > 0 and used_o + 1 > self.order_allowance:
                return self.orders.wait_ms(now_ms) / 1000.0
            self.orders.used += 1
        self.weight.used += weight
        return 0.0

    def observe_headers(self, headers: Mapping[str, str], now_ms: int) -> None:
        for name, value in headers.items():
            key = name.lower()
            if key == "x-mbx-used-weight-1m":
                reported = _int(value)
                if reported is not None:
                    self.weight.observe(reported, now_ms)
            elif key == "x-mbx-order-count-1m":
                reported = _int(value)
                if reported is not None:
                    self.orders.observe(reported, now_ms)

    def used_weight(self, now_ms: int) -> int:
        return self.weight.current(now_ms)

    def order_count(self, now_ms: int) -> int:
        return self.orders.current(now_ms)


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        return None


# ------------------------------------------------------------------ weights
def _klines_weight(limit: int) -> int:
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def _depth_weight(limit: int) -> int:
    if limit <= 50:
        return 2
    return {100: 5, 500: 10}.get(limit, 20)


_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/fapi/v1/aggTrades"): 20,
    ("GET", "/fapi/v1/historicalTrades"): 20,
    ("GET", "/fapi/v1/allOrders"): 5,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("GET", "/fapi/v1/multiAssetsMargin"): 30,
    ("GET", "/fapi/v2/balance"): 5,
    ("GET", "/fapi/v2/account"): 5,
    ("GET", "/fapi/v4/account"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5,
    ("GET", "/fapi/v1/userTrades"): 5,
    ("GET", "/fapi/v1/adlQuantile"): 5,
    ("GET", "/fapi/v1/income"): 30,
    ("GET", "/fapi/v1/commissionRate"): 20,
    ("POST", "/fapi/v1/batchOrders"): 5,
    ("POST", "/fapi/v1/countdownCancelAll"): 10,
    ("POST", "/fapi/v1/algoOrder"): 0,          # Binance Algo Service: no IP weight, counts as an order
    ("GET", "/fapi/v1/allAlgoOrders"): 5,
}
# with a symbol / without one
_BY_SYMBOL: dict[tuple[str, str], tuple[int, int]] = {
    ("GET", "/fapi/v1/ticker/24hr"): (1, 40),
    ("GET", "/fapi/v1/ticker/price"): (1, 2),
    ("GET", "/fapi/v1/ticker/bookTicker"): (1, 2),
    ("GET", "/fapi/v1/openOrders"): (1, 40),
    ("GET", "/fapi/v1/openAlgoOrders"): (1, 40),
}
_LIMIT_SCALED = {"/fapi/v1/klines", "/fapi/v1/markPriceKlines", "/fapi/v1/indexPriceKlines"}


def request_weight(method: str, path: str, params: Mapping[str, str]) -> int:
    """Documented request weight of one call (1 for anything not listed)."""
    key = (method.upper(), path)
    if key in _FIXED:
        return _FIXED[key]
    if key in _BY_SYMBOL:
        with_symbol, without = _BY_SYMBOL[key]
        return with_symbol if params.get("symbol") else without
    if method.upper() == "GET" and path in _LIMIT_SCALED:
        return _klines_weight(int(params.get("limit", 500)))
    if key == ("GET", "/fapi/v1/depth"):
        return _depth_weight(int(params.get("limit", 500)))
    return 1
