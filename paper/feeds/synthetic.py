"""The synthetic feed: a seeded, reproducible market for any list of symbols (maths in synthetic_model.py).

Same seed, same market: the price at a venue time depends only on (seed, symbol, time), so a
restarted paper exchange, or a second one, sees the same market, and history of any length is
there from the first second.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from decimal import Decimal

import numpy as np

from paper.feeds.base import DAY_MS, MIN_MS, AggTradeRow, Bars, BookParams, Feed, Quote, empty_bars
from paper.feeds.symbols import spec_for, symbol_hash
from paper.feeds.synthetic_model import (
    EPOCH_DAY, DailyWalk, MinuteBars, Profile, funding_rate, minute_bars, minute_bars_batch, second_path,
)

# reference price level, sd of daily returns, typical 24h quote volume (USDT). Levels of early 2026;
# volatility and volume of the seven alts measured on Binance USD-M data (Feb 2026), the majors set
# to their usual relation to the alts.
KNOWN_PROFILES: dict[str, tuple[float, float, float]] = {
    "BTCUSDT": (90000.0, 0.025, 2.0e9), "ETHUSDT": (3000.0, 0.035, 1.0e9), "SOLUSDT": (130.0, 0.045, 3.0e8),
    "BNBUSDT": (850.0, 0.030, 1.5e8), "XRPUSDT": (2.0, 0.045, 2.0e8), "DOGEUSDT": (0.15, 0.050, 1.5e8),
    "ADAUSDT": (0.45, 0.050, 8.0e7), "AVAXUSDT": (9.2, 0.052, 1.5e8), "LINKUSDT": (8.8, 0.051, 1.5e8),
    "LTCUSDT": (54.0, 0.043, 9.7e7), "DOTUSDT": (1.66, 0.073, 7.3e7), "NEARUSDT": (1.17, 0.062, 7.4e7),
    "FILUSDT": (1.0, 0.062, 1.0e8), "ALGOUSDT": (0.088, 0.048, 1.5e7),
}
SPREAD_BP = 0.2            # typical touch spread as a fraction of price, in basis points (>= 1 tick)
DEPTH_10BP_SHARE = 2e-4    # book notional within 10 bp of the touch, as a share of 24h quote volume
LEVEL_GAP_BP = 0.5         # distance between simulated book levels
MARK_SMOOTHING_S = 5       # the mark is the mean of the last few seconds' prices
DAY_CACHE = 96


def profile_numbers(symbol: str) -> tuple[float, float, float]:
    if symbol in KNOWN_PROFILES:
        return KNOWN_PROFILES[symbol]
    h = symbol_hash(symbol)
    price = 10 ** (-1.3 + 4.0 * ((h % 10007) / 10007.0))          # 0.05 .. 500, log-uniform
    vol = 0.04 + 0.04 * (((h >> 8) % 997) / 997.0)
    qv = 10 ** (6.7 + 1.0 * (((h >> 16) % 991) / 991.0))
    return price, vol, qv


class SyntheticMarket:
    """The data side of the synthetic feed: minute bars, second paths, funding. No clock."""

    def __init__(self, symbols: tuple[str, ...], seed: int, funding_interval_ms: int = 8 * 3_600_000):
        self.symbols = tuple(symbols)
        self.seed = int(seed)
        self.funding_interval_ms = funding_interval_ms
        self.keys = {s: symbol_hash(s) for s in self.symbols}
        self.specs, self.entries, self.profiles, self.walks = {}, {}, {}, {}
        for s in self.symbols:
            price, vol, qv = profile_numbers(s)
            spec, entry = spec_for(s, price)
            self.specs[s], self.entries[s] = spec, entry
            self.profiles[s] = Profile(price, vol, qv, float(spec.tick), float(spec.rules.step_size))
            self.walks[s] = DailyWalk(self.seed, self.keys[s], self.profiles[s])
        self._days: OrderedDict[tuple[str, int], MinuteBars] = OrderedDict()
        self._summaries: dict[tuple[str, int], tuple] = {}
        self._paths: dict[str, tuple[int, np.ndarray]] = {}

    # ------------------------------------------------------------ minutes and days
    def day(self, symbol: str, day: int) -> MinuteBars:
        key = (symbol, day)
        bars = self._days.get(key)
        if bars is None:
            if day < EPOCH_DAY + 1:
                raise ValueError(f"the synthetic market starts on day {EPOCH_DAY + 1} (2019-01-02)")
            bars = self._days[key] = minute_bars(self.seed, self.keys[symbol], day, self.walks[symbol])
            if len(self._days) > DAY_CACHE:
                self._days.popitem(last=False)
        else:
            self._days.move_to_end(key)
        return bars

    def minute(self, symbol: str, minute_abs: int) -> tuple[int, int, int, int, float, float]:
        """(open, high, low, close ticks, sigma, volume) of one minute."""
        d, i = divmod(minute_abs, 1440)
        b = self.day(symbol, d)
        return int(b.open[i]), int(b.high[i]), int(b.low[i]), int(b.close[i]), float(b.sigma[i]), float(b.volume[i])

    def seconds(self, symbol: str, minute_abs: int) -> np.ndarray:
        cached = self._paths.get(symbol)
        if cached is not None and cached[0] == minute_abs:
            return cached[1]
        o, h, l, c, _, _ = self.minute(symbol, minute_abs)
        path = second_path(self.seed, self.keys[symbol], minute_abs, o, h, l, c)
        self._paths[symbol] = (minute_abs, path)
        return path

    def _day_arrays(self, symbol: str, day: int) -> Bars:
        return self._arrays_of(symbol, day, self.day(symbol, day))

    def history_arrays(self, symbol: str, start_ms: int, end_ms: int) -> Bars:
        """Complete minute bars with open time in [start_ms, end_ms)."""
        start_ms = max(start_ms, (EPOCH_DAY + 1) * DAY_MS)
        if end_ms <= start_ms:
            return empty_bars()
        parts = []
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            arr = self._day_arrays(symbol, day)
            lo = max(0, (start_ms - day * DAY_MS + MIN_MS - 1) // MIN_MS)
            hi = min(1440, (end_ms - day * DAY_MS + MIN_MS - 1) // MIN_MS)
            if hi > lo:
                parts.append({k: v[lo:hi] for k, v in arr.items()})
        if not parts:
            return empty_bars()
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _arrays_of(self, symbol: str, day: int, b: MinuteBars) -> Bars:
        tick = self.profiles[symbol].tick
        typical = (b.open + b.high + b.low + b.close) * (tick / 4.0)
        return {
            "open_time": day * DAY_MS + np.arange(1440, dtype=np.int64) * MIN_MS,
            "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume,
            "quote_volume": b.volume * typical, "trades": b.trades, "taker_buy": b.taker_buy,
            "taker_buy_quote": b.taker_buy * typical,
        }

    def _summarise(self, symbol: str, day: int, a: Bars) -> tuple:
        return (day * DAY_MS, int(a["open"][0]), int(a["high"].max()), int(a["low"].min()), int(a["close"][-1]),
                float(a["volume"].sum()), float(a["quote_volume"].sum()), int(a["trades"].sum()),
                float(a["taker_buy"].sum()), float(a["taker_buy_quote"].sum()))

    def day_summaries(self, symbol: str, d0: int, d1: int) -> list[tuple]:
        """Daily bars of days d0..d1, generating missing days in vectorised batches."""
        missing = [d for d in range(d0, d1 + 1) if (symbol, d) not in self._summaries]
        for i in range(0, len(missing), 64):
            batch = missing[i:i + 64]
            for day, bars in zip(batch, minute_bars_batch(self.seed, self.keys[symbol], batch, self.walks[symbol])):
                self._summaries[(symbol, day)] = self._summarise(symbol, day, self._arrays_of(symbol, day, bars))
        return [self._summaries[(symbol, d)] for d in range(d0, d1 + 1)]

    # ------------------------------------------------------------ funding
    def price_at(self, symbol: str, t_ms: int) -> float:
        minute_abs = t_ms // MIN_MS
        return self.minute(symbol, minute_abs)[0] * self.profiles[symbol].tick

    def settlement_rate(self, symbol: str, k: int) -> float:
        t = k * self.funding_interval_ms
        try:
            ret = math.log(self.price_at(symbol, t - MIN_MS) / self.price_at(symbol, t - self.funding_interval_ms))
        except ValueError:
            ret = 0.0
        return funding_rate(self.seed, self.keys[symbol], k, ret)


class SyntheticFeed(Feed):
    name = "synthetic"

    def __init__(self, symbols: tuple[str, ...], seed: int, funding_hours: int = 8):
        super().__init__()
        self.funding_interval_ms = funding_hours * 3_600_000
        self.market = SyntheticMarket(symbols, seed, self.funding_interval_ms)
        self.symbols = self.market.symbols
        self.specs, self.entries = self.market.specs, self.market.entries
        self._last: dict[str, int] = {}          # last emitted second (ms) per symbol
        self._rate_cache: dict[tuple[str, int], float] = {}

    def start_time(self, wall_ms: int) -> int:
        return wall_ms

    def describe(self) -> dict:
        return {"name": self.name, "seed": self.market.seed}

    # ------------------------------------------------------------ moving market
    def _spread_t(self, symbol: str, price_t: int, sigma: float) -> int:
        p = self.market.profiles[symbol]
        typical = max(1.0, price_t * SPREAD_BP * 1e-4)
        calm = p.daily_vol / math.sqrt(1440.0)
        return max(1, int(round(typical * min(4.0, max(0.6, sigma / calm)))))

    def _touch_qty(self, symbol: str, second: int, salt: int) -> float:
        lvl = float(self.book_params(symbol, 0).level_qty)
        u = ((second * 2654435761 + self.market.keys[symbol] + salt * 40503) % 1000) / 1000.0
        step = self.market.profiles[symbol].step
        return max(step, round(lvl * (0.25 + 1.5 * u) / step) * step)

    def quote_at(self, symbol: str, t_ms: int, path: np.ndarray | None = None) -> Quote:
        minute_abs, ms = divmod(t_ms, MIN_MS)
        s = ms // 1000
        path = self.market.seconds(symbol, minute_abs) if path is None else path
        last = int(path[s])
        mark = int(round(float(path[max(0, s - MARK_SMOOTHING_S + 1):s + 1].mean())))
        sigma = self.market.minute(symbol, minute_abs)[4]
        spread = self._spread_t(symbol, last, sigma)
        bid = last - spread // 2
        sec = t_ms // 1000
        return Quote(symbol, t_ms, last, mark, bid, bid + spread, self._touch_qty(symbol, sec, 1),
                     self._touch_qty(symbol, sec, 2))

    def advance(self, to_ms: int) -> list[Quote]:
        out: list[Quote] = []
        to_sec = to_ms // 1000 * 1000
        for symbol in self.symbols:
            last = self._last.get(symbol)
            if last is None:
                out.append(self.quote_at(symbol, to_sec))
                self._last[symbol] = to_sec
                continue
            if to_sec <= last:
                continue
            t = last + 1000
            if to_sec - last > 120_000:
                # a long step (fast replay or a clock jump): whole minutes as open, high/low, close
                first_full = (t + MIN_MS - 1) // MIN_MS * MIN_MS
                while t < first_full:
                    out.append(self.quote_at(symbol, t))
                    t += 1000
                last_full_end = to_sec // MIN_MS * MIN_MS
                while t + MIN_MS <= last_full_end + 1:
                    minute_abs = t // MIN_MS
                    path = self.market.seconds(symbol, minute_abs)
                    for s in sorted({0, int(np.argmax(path)), int(np.argmin(path)), 59}):
                        out.append(self.quote_at(symbol, t + s * 1000, path))
                    t += MIN_MS
            while t <= to_sec:
                out.append(self.quote_at(symbol, t))
                t += 1000
            self._last[symbol] = to_sec
        return out

    def settlement_rate(self, symbol: str, k: int) -> float:
        key = (symbol, k)
        rate = self._rate_cache.get(key)
        if rate is None:
            rate = self._rate_cache[key] = self.market.settlement_rate(symbol, k)
        return rate

    # ------------------------------------------------------------ history
    def first_time(self, symbol: str) -> int:
        return (EPOCH_DAY + 1) * DAY_MS

    def bars(self, symbol: str, start_ms: int, end_ms: int) -> Bars:
        return self.market.history_arrays(symbol, start_ms, end_ms)

    def day_bars(self, symbol: str, start_ms: int, end_ms: int) -> Bars:
        d0 = max(EPOCH_DAY + 1, -(-start_ms // DAY_MS))
        d1 = (end_ms - 1) // DAY_MS
        rows = self.market.day_summaries(symbol, d0, d1) if d1 >= d0 else []
        if not rows:
            return empty_bars()
        cols = list(zip(*rows))
        keys = ("open_time", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy",
                "taker_buy_quote")
        ints = {"open_time", "open", "high", "low", "close", "trades"}
        return {k: np.asarray(c, dtype=np.int64 if k in ints else np.float64) for k, c in zip(keys, cols)}

    def agg_trades(self, symbol: str, start_ms: int, end_ms: int) -> list[AggTradeRow]:
        """Trades consistent with the second path and the minute's volume (deterministic per minute)."""
        out: list[AggTradeRow] = []
        step = self.market.profiles[symbol].step
        for minute_abs in range(start_ms // MIN_MS, (end_ms - 1) // MIN_MS + 1):
            path = self.market.seconds(symbol, minute_abs)
            _, _, _, _, _, volume = self.market.minute(symbol, minute_abs)
            rng = np.random.default_rng([self.market.seed, self.market.keys[symbol], minute_abs, 0xA66])
            n = int(min(120, max(1, rng.poisson(25))))
            secs = np.sort(rng.integers(0, 60, n))
            ms = rng.integers(0, 1000, n)
            order = np.argsort(secs * 1000 + ms, kind="stable")    # ids rise with time, as on the venue
            secs, ms = secs[order], ms[order]
            share = rng.dirichlet(np.ones(n)) * volume
            for i in range(n):
                t = minute_abs * MIN_MS + int(secs[i]) * 1000 + int(ms[i])
                if not start_ms <= t < end_ms:
                    continue
                qty = max(step, round(share[i] / step) * step)
                agg = minute_abs * 1000 + i
                out.append(AggTradeRow(agg, int(path[secs[i]]), qty, agg * 3, agg * 3 + 2, t, bool(rng.random() < 0.5)))
        return out

    def book_params(self, symbol: str, price_t: int) -> BookParams:
        p = self.market.profiles[symbol]
        price = p.ref_price if price_t <= 0 else price_t * p.tick
        gap = max(1, int(round(price * LEVEL_GAP_BP * 1e-4 / p.tick)))
        levels_10bp = max(1.0, 10.0 / max(LEVEL_GAP_BP, gap * p.tick / price * 1e4))
        qty = p.quote_volume * DEPTH_10BP_SHARE / price / levels_10bp
        step = p.step
        qty = max(step * 2, round(qty / step) * step)
        return BookParams(gap, Decimal(repr(qty)).quantize(Decimal(repr(step))) if step < 1 else Decimal(int(qty)))
