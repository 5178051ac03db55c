"""The replay feed: recorded klines or book tickers played back on the venue clock (ASTER_PAPER_SPEED).

The clock starts a warm-up into the data (up to 10 days, at most half of it), so indicators have
history from the first request. A bar is revealed as a path open -> first extreme -> second extreme
-> close (down bars touch the high first), at 0, 1/3, 2/3 and the end of the bar; recorded book tickers
are played quote by quote. After the last record the market stands still (logged once).
"""
from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np

from mraster.logs import get_logger
from paper.feeds.base import DAY_MS, AggTradeRow, BarPath, Bars, BookParams, Feed, Quote, empty_bars, slice_bars
from paper.feeds.replay_files import SymbolData, bars_from_quotes, read_all
from paper.feeds.symbols import spec_for

log = get_logger("paper.replay")
MAX_WARMUP_MS = 10 * DAY_MS
SPREAD_BP = 0.2
DEPTH_10BP_SHARE = 2e-4
LEVEL_GAP_BP = 0.5


class ReplayFeed(Feed):
    name = "replay"

    def __init__(self, path: Path, symbols: tuple[str, ...] = (), funding_hours: int = 8,
                 warmup_ms: int | None = None):
        super().__init__()
        self.path = Path(path)
        self.funding_interval_ms = funding_hours * 3_600_000
        data = read_all(self.path)
        usable = {s: d for s, d in data.items() if d.bars is not None or d.quotes is not None}
        if not usable:
            raise ValueError(f"{self.path}: no klines or book tickers found")
        chosen = sorted(set(symbols) & set(usable)) or sorted(usable)
        self.symbols = tuple(chosen)
        self.data: dict[str, SymbolData] = {s: usable[s] for s in chosen}
        steps = []
        for s, d in self.data.items():
            if d.bars is None:
                d.bars = bars_from_quotes(d.quotes)
            t = d.bars["open_time"]
            if len(t) > 1:
                steps.append(int(np.median(np.diff(t))))
        self.base_ms = min(steps) if steps else 60_000
        if self.base_ms <= 0 or self.base_ms % 60_000:
            raise ValueError(f"{self.path}: bars every {self.base_ms} ms; replay needs whole minutes")
        self.ticks: dict[str, Bars] = {}
        for s, d in self.data.items():
            b = d.bars
            spec, entry = spec_for(s, float(b["close"][0]))
            self.specs[s], self.entries[s] = spec, entry
            tick = float(spec.tick)
            arr = {k: v for k, v in b.items()}
            for k in ("open", "high", "low", "close"):
                arr[k] = np.maximum(1, np.rint(b[k] / tick)).astype(np.int64)
            arr["high"] = np.maximum(arr["high"], np.maximum(arr["open"], arr["close"]))
            arr["low"] = np.minimum(arr["low"], np.minimum(arr["open"], arr["close"]))
            arr["trades"] = b["trades"].astype(np.int64)
            self.ticks[s] = arr
        quote_times = [(int(d.quotes["time"][0]), int(d.quotes["time"][-1])) for d in self.data.values()
                       if d.quotes is not None and len(d.quotes["time"])]
        self.t_first = min([int(a["open_time"][0]) for a in self.ticks.values()] + [q[0] for q in quote_times])
        self.t_end = max([int(a["open_time"][-1]) + self.base_ms for a in self.ticks.values()]
                         + [q[1] + 1 for q in quote_times])
        span = self.t_end - self.t_first
        warm = warmup_ms if warmup_ms is not None else min(MAX_WARMUP_MS, span // 2)
        self._start = self.t_first + warm
        if not quote_times:                      # bar data: start on a bar boundary
            self._start = self._start // self.base_ms * self.base_ms
        self._emitted: dict[str, int] = {s: self._start - 1 for s in self.symbols}
        self._ended = False
        self._quote_day_qv = {s: self._daily_quote_volume(s) for s in self.symbols}

    # ------------------------------------------------------------ facts
    def start_time(self, wall_ms: int) -> int:
        return self._start

    @property
    def follows_wall_clock(self) -> bool:
        return False

    def describe(self) -> dict:
        return {"name": self.name, "path": str(self.path), "from": self.t_first, "to": self.t_end,
                "start": self._start, "base_ms": self.base_ms,
                "sources": {s: d.sources for s, d in self.data.items()}}

    def first_time(self, symbol: str) -> int:
        return int(self.ticks[symbol]["open_time"][0])

    def _daily_quote_volume(self, symbol: str) -> float:
        qv = self.ticks[symbol]["quote_volume"]
        return float(np.mean(qv)) * DAY_MS / self.base_ms if len(qv) else 1e6

    # ------------------------------------------------------------ moving market
    def _spread_t(self, symbol: str, price_t: int) -> int:
        return max(1, int(round(price_t * SPREAD_BP * 1e-4)))

    def _bar_points(self, b: Bars, i: int) -> tuple[list[int], list[int]]:
        o, h, l, c = int(b["open"][i]), int(b["high"][i]), int(b["low"][i]), int(b["close"][i])
        first, second = (l, h) if c >= o else (h, l)
        t = int(b["open_time"][i])
        step = self.base_ms // 3
        return [o, first, second, c], [t, t + step, t + 2 * step, t + self.base_ms - 1]

    def _mark_t(self, symbol: str, t: int, last_t: int) -> int:
        marks = self.data[symbol].marks
        if marks is None:
            return last_t
        i = int(np.searchsorted(marks["time"], t, side="right")) - 1
        if i < 0:
            return last_t
        return max(1, int(round(marks["mark"][i] / float(self.specs[symbol].tick))))

    def advance(self, to_ms: int) -> list:
        out: list = []
        to_ms = min(to_ms, self.t_end)
        for s in self.symbols:
            done = self._emitted[s]
            if to_ms <= done:
                continue
            quotes = self.data[s].quotes
            if quotes is not None:
                out.extend(self._quotes(s, quotes, done, to_ms))
            else:
                out.extend(self._bars(s, done, to_ms))
            self._emitted[s] = to_ms
        if to_ms >= self.t_end and not self._ended:
            self._ended = True
            log.info("paper.replay_end", f"replay reached the end of its data ({self.path}); the market stands still",
                     activity=True)
        return out

    def _bars(self, s: str, done: int, to_ms: int) -> list:
        b = self.ticks[s]
        t = b["open_time"]
        out: list = []
        first = int(np.searchsorted(t, done - self.base_ms + 1, side="left"))
        for i in range(max(0, first), len(t)):
            points, times = self._bar_points(b, i)
            if times[0] > to_ms:
                break
            if times[0] > done and times[-1] <= to_ms:
                spread = self._spread_t(s, points[-1])
                out.append(BarPath(s, times[-1], points, spread))
                continue
            for p, tm in zip(points, times):
                if done < tm <= to_ms:
                    spread = self._spread_t(s, p)
                    bid = p - spread // 2
                    out.append(Quote(s, tm, p, self._mark_t(s, tm, p), bid, bid + spread, 0.0, 0.0))
        return out

    def _quotes(self, s: str, q: Bars, done: int, to_ms: int) -> list[Quote]:
        i, j = np.searchsorted(q["time"], done, side="right"), np.searchsorted(q["time"], to_ms, side="right")
        tick = float(self.specs[s].tick)
        out = []
        for k in range(int(i), int(j)):
            bid = max(1, int(round(q["bid"][k] / tick)))
            ask = max(bid + 1, int(round(q["ask"][k] / tick)))
            last = (bid + ask) // 2
            t = int(q["time"][k])
            out.append(Quote(s, t, last, self._mark_t(s, t, last), bid, ask, float(q["bid_qty"][k]),
                             float(q["ask_qty"][k])))
        return out

    def settlement_rate(self, symbol: str, k: int) -> float:
        f = self.data[symbol].funding if symbol in self.data else None
        if f is None or not len(f["time"]):
            return 0.0001
        t = k * self.funding_interval_ms
        i = int(np.searchsorted(f["time"], t + 60_000, side="right")) - 1
        return float(f["rate"][i]) if i >= 0 else float(f["rate"][0])

    # ------------------------------------------------------------ history
    def bars(self, symbol: str, start_ms: int, end_ms: int) -> Bars:
        if symbol not in self.ticks:
            return empty_bars()
        return slice_bars(self.ticks[symbol], start_ms, end_ms)

    def agg_trades(self, symbol: str, start_ms: int, end_ms: int) -> list[AggTradeRow]:
        b = self.bars(symbol, start_ms - self.base_ms, end_ms)
        out = []
        for i in range(len(b["open_time"])):
            points, times = self._bar_points(b, i)
            qty = float(b["volume"][i]) / 4.0
            for n, (p, t) in enumerate(zip(points, times)):
                if start_ms <= t < end_ms and qty > 0:
                    agg = int(b["open_time"][i]) // 60_000 * 1000 + n
                    out.append(AggTradeRow(agg, p, qty, agg * 3, agg * 3 + 2, t, n % 2 == 1))
        return out

    def book_params(self, symbol: str, price_t: int) -> BookParams:
        spec = self.specs[symbol]
        tick = float(spec.tick)
        price = price_t * tick if price_t > 0 else float(self.ticks[symbol]["close"][0]) * tick
        gap = max(1, int(round(price * LEVEL_GAP_BP * 1e-4 / tick)))
        levels_10bp = max(1.0, 10.0 / max(LEVEL_GAP_BP, gap * tick / price * 1e4))
        step = float(spec.rules.step_size) or 1e-8
        qty = self._quote_day_qv[symbol] * DEPTH_10BP_SHARE / price / levels_10bp
        qty = max(step * 2, math.floor(qty / step) * step)
        return BookParams(gap, (Decimal(repr(qty)) / spec.rules.step_size).to_integral_value() * spec.rules.step_size)
