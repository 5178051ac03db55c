"""Kline intervals and aggregation: every interval is built from the feed's base bars (or its daily
summaries), so a bar of any interval always equals the bars it contains."""
from __future__ import annotations

import calendar
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np

from paper.engine.errors import VenueError
from paper.feeds.base import BAR_FIELDS, DAY_MS, Bars, concat_bars, empty_bars

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
    "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
    "1d": DAY_MS, "3d": 3 * DAY_MS, "1w": 7 * DAY_MS, "1M": 0,
}
WEEK_OFFSET = 4 * DAY_MS          # 1970-01-01 was a Thursday; weeks open on Monday


def check_interval(interval: str, base_ms: int) -> None:
    if interval not in INTERVAL_MS:
        raise VenueError(-1120, "Invalid interval.")
    step = INTERVAL_MS[interval]
    if step and step % base_ms != 0:
        raise VenueError(-1120, f"Invalid interval: this feed's data has {base_ms // 60000}m resolution.")


def _month_start(t: int, add: int = 0) -> int:
    d = datetime.fromtimestamp(t / 1000, tz=timezone.utc)
    y, m = d.year, d.month - 1 + add
    y, m = y + m // 12, m % 12 + 1
    return calendar.timegm((y, m, 1, 0, 0, 0)) * 1000


def bar_open(t: int, interval: str) -> int:
    if interval == "1M":
        return _month_start(t)
    step = INTERVAL_MS[interval]
    if interval == "1w":
        return (t - WEEK_OFFSET) // step * step + WEEK_OFFSET
    return t // step * step


def next_open(open_ms: int, interval: str) -> int:
    if interval == "1M":
        return _month_start(open_ms, 1)
    return open_ms + INTERVAL_MS[interval]


def prev_open(open_ms: int, interval: str, n: int) -> int:
    if interval == "1M":
        return _month_start(open_ms, -n)
    return open_ms - n * INTERVAL_MS[interval]


def window(interval: str, start: int | None, end: int | None, limit: int, now: int,
           first_available: int) -> tuple[int, int]:
    """(first bar open, last bar open) of a klines request, venue rules: the most recent bars by
    default; from startTime forward; back from endTime; never beyond the current bar."""
    current = bar_open(now, interval)
    if start is not None:
        first = bar_open(start, interval)
        if first < start:
            first = next_open(first, interval)
        last = current if end is None else min(current, bar_open(end, interval))
        probe = first
        for _ in range(limit - 1):
            nxt = next_open(probe, interval)
            if nxt > last:
                break
            probe = nxt
        last = probe if probe <= last else last
    else:
        last = current if end is None else min(current, bar_open(end, interval))
        first = prev_open(last, interval, limit - 1)
    floor = bar_open(first_available, interval)
    if first_available > floor:
        floor = next_open(floor, interval)
    return max(first, floor), last


def aggregate(base: Bars, interval: str) -> Bars:
    """Group base bars into `interval` bars (open = first open, high = max, ... volumes summed)."""
    t = base["open_time"]
    if len(t) == 0:
        return empty_bars()
    if interval == "1M":
        months = sorted({_month_start(int(x)) for x in t[[0, -1]]})
        edges = [months[0]]
        while edges[-1] <= int(t[-1]):
            edges.append(_month_start(edges[-1], 1))
        keys = np.searchsorted(np.asarray(edges), t, side="right")
    elif interval == "1w":
        keys = (t - WEEK_OFFSET) // INTERVAL_MS["1w"]
    else:
        keys = t // INTERVAL_MS[interval]
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    ends = np.r_[starts[1:], len(t)]
    out = {
        "open_time": np.array([bar_open(int(t[i]), interval) for i in starts], dtype=np.int64),
        "open": base["open"][starts], "close": base["close"][ends - 1],
        "high": np.maximum.reduceat(base["high"], starts), "low": np.minimum.reduceat(base["low"], starts),
    }
    for k in ("volume", "quote_volume", "trades", "taker_buy", "taker_buy_quote"):
        out[k] = np.add.reduceat(base[k], starts)
    return out


class TickText:
    """Fast text of integer tick counts at a symbol's price precision."""

    def __init__(self, tick: Decimal, precision: int):
        sign, digits, exp = tick.normalize().as_tuple()
        self.mult = int("".join(map(str, digits))) * (10 ** exp if exp > 0 else 1)
        self.scale = -exp if exp < 0 else 0
        self.precision = max(precision, self.scale)
        self.div = 10 ** self.scale
        self.pad = "0" * (self.precision - self.scale)
        self.int_suffix = ("." + "0" * self.precision) if self.precision else ""

    def __call__(self, ticks: int) -> str:
        v = int(ticks) * self.mult
        if not self.scale:
            return f"{v}{self.int_suffix}"
        sign = "-" if v < 0 else ""
        q, r = divmod(abs(v), self.div)
        return f"{sign}{q}.{r:0{self.scale}d}{self.pad}"

    def many(self, ticks: np.ndarray) -> list[str]:
        """The same for a whole array (a list comprehension over Python ints: the hot path of klines)."""
        values = (np.asarray(ticks, dtype=np.int64) * self.mult).tolist()
        if not self.scale:
            return [f"{v}{self.int_suffix}" for v in values]
        div, k, pad = self.div, self.scale, self.pad
        return [f"{v // div}.{v % div:0{k}d}{pad}" if v >= 0 else self(v // self.mult) for v in values]


def rows(bars: Bars, interval: str, price_text: TickText, qty_places: int, now: int) -> list[list]:
    """Bars -> the venue's 12-element kline arrays."""
    n = len(bars["open_time"])
    if not n:
        return []
    opens = bars["open_time"].tolist()
    if interval == "1M":
        closes = [next_open(t, interval) - 1 for t in opens]
    else:
        closes = [t + INTERVAL_MS[interval] - 1 for t in opens]
    qspec = f".{qty_places}f"
    o, h, l, c = (price_text.many(bars[k]) for k in ("open", "high", "low", "close"))
    vol = [format(x, qspec) for x in bars["volume"].tolist()]
    qv = [format(x, ".8f") for x in bars["quote_volume"].tolist()]
    tb = [format(x, qspec) for x in bars["taker_buy"].tolist()]
    tbq = [format(x, ".8f") for x in bars["taker_buy_quote"].tolist()]
    trades = [int(x) for x in bars["trades"].tolist()]
    return [[opens[i], o[i], h[i], l[i], c[i], vol[i], closes[i], qv[i], trades[i], tb[i], tbq[i], "0"]
            for i in range(n)]


def merge_partial(bars: Bars, partial: dict | None) -> Bars:
    """Append the still-forming base bar (dict of scalars) to complete bars."""
    if partial is None:
        return bars
    one = {k: np.asarray([partial[k]], dtype=bars[k].dtype if len(bars[k]) else
                         (np.int64 if k in ("open_time", "open", "high", "low", "close", "trades") else np.float64))
           for k in BAR_FIELDS}
    return concat_bars([bars, one])
