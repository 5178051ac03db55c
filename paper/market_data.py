"""Market-data answers (reference section 6) built from the venue's current state and the feed's history.

Prices of the moment (book ticker, depth, mark) come from the engine's market state, so they are
exactly the prices orders are matched and triggered against, held prices included.
"""
from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import OrderedDict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from mraster.logs import get_logger
from paper.engine.errors import VenueError
from paper.engine.specs import SymbolSpec
from paper.feeds.base import DAY_MS, Bars, concat_bars, empty_bars, slice_bars
from paper.feeds.klines import INTERVAL_MS, aggregate, check_interval, merge_partial, next_open, rows, window
from paper.wire import fixed, plain_price

if TYPE_CHECKING:
    from paper.venue import Venue

log = get_logger("paper.market_data")
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DAY_CACHE_BARS = 250_000            # bars kept in the day cache (formatted ones take ~0.8 kB each)


class MarketData:
    def __init__(self, venue: "Venue"):
        self.v = venue
        self._ticker_cache: dict[str, tuple[int, dict]] = {}
        self._day_cache: OrderedDict[tuple[str, str, int], _DayBars] = OrderedDict()
        self._day_cache_bars = 0

    # ------------------------------------------------------------------ exchange info
    def exchange_info(self) -> dict[str, Any]:
        symbols = []
        for symbol, entry in self.v.feed.entries.items():
            e = dict(entry)
            e.setdefault("pair", symbol)
            e.setdefault("deliveryDate", 4133404800000)
            e.setdefault("onboardDate", 1569398400000)
            e.setdefault("maintMarginPercent", "2.5000")
            e.setdefault("requiredMarginPercent", "5.0000")
            e.setdefault("underlyingType", "COIN")
            e.setdefault("underlyingSubType", [])
            e.setdefault("settlePlan", 0)
            e["OrderType"] = e.get("orderTypes")
            if not self.v.profile.algo_filter:       # Binance dropped it (open algo orders: 200 per account)
                e["filters"] = [x for x in e.get("filters", []) if x.get("filterType") != "MAX_NUM_ALGO_ORDERS"]
            symbols.append(e)
        return {
            "timezone": "UTC", "serverTime": self.v.api_now(), "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.v.config.weight_limit},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": symbols,
        }

    # ------------------------------------------------------------------ klines
    def _plan(self, symbol: str, interval: str, start: int | None, end: int | None,
              limit: int) -> tuple[int, int, int, int] | None:
        """(first open, stop, now, current base-bar open) of a klines request, or None when empty."""
        feed = self.v.feed
        check_interval(interval, feed.base_ms)
        if not 1 <= limit <= 1500:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        if start is not None and end is not None and start > end:
            raise VenueError(-1023, "Start time is greater than end time.")
        now = self.v.now()
        first, last = window(interval, start, end, limit, now, feed.first_time(symbol))
        if last < first:
            return None
        return first, next_open(last, interval), now, now // feed.base_ms * feed.base_ms

    def _intraday(self, interval: str) -> bool:
        step = INTERVAL_MS[interval]
        return self.v.feed.base_ms < step < DAY_MS and DAY_MS % step == 0

    def kline_bars(self, symbol: str, interval: str, start: int | None, end: int | None, limit: int) -> Bars:
        plan = self._plan(symbol, interval, start, end, limit)
        if plan is None:
            return empty_bars()
        first, stop, now, cur_base = plan
        step = INTERVAL_MS[interval]
        if (step == 0 or step >= DAY_MS) and step % DAY_MS == 0:
            today = now // DAY_MS * DAY_MS
            days = self.v.feed.day_bars(symbol, first, min(stop, today))
            if days is not None:
                tail = self._base(symbol, max(first, today), min(stop, cur_base), now) if stop > today else empty_bars()
                return aggregate(concat_bars([days, aggregate(tail, "1d")]), interval)
        if self._intraday(interval):
            return concat_bars([slice_bars(day.bars, lo, hi) if day else fresh
                                for day, fresh, lo, hi in self._by_day(symbol, interval, first, stop, now, cur_base)])
        return aggregate(self._base(symbol, first, min(stop, cur_base), now, with_partial=stop > cur_base), interval)

    def _by_day(self, symbol: str, interval: str, first: int, stop: int, now: int,
                cur_base: int) -> list[tuple["_DayBars | None", Bars, int, int]]:
        """Intraday intervals a day at a time: past days come from a cache of aggregated (and, once asked,
        formatted) bars - a bot asking 360 bars of 30m for 40 symbols every cycle must not regenerate and
        reformat a week of minutes each time. Days with held-price overlays are built fresh."""
        today = now // DAY_MS * DAY_MS
        overlay = self.v.overlay.get(symbol) or {}
        parts: list[tuple[_DayBars | None, Bars, int, int]] = []
        for day in range(first // DAY_MS * DAY_MS, stop, DAY_MS):
            lo, hi = max(first, day), min(stop, day + DAY_MS)
            if day + DAY_MS <= today and not any(day <= t < day + DAY_MS for t in overlay):
                key = (symbol, interval, day)
                cached = self._day_cache.get(key)
                if cached is None:
                    cached = self._day_cache[key] = _DayBars(aggregate(self.v.feed.bars(symbol, day, day + DAY_MS),
                                                                       interval))
                    self._day_cache_bars += len(cached.bars["open_time"])
                    while self._day_cache_bars > DAY_CACHE_BARS and len(self._day_cache) > 1:
                        _, old = self._day_cache.popitem(last=False)
                        self._day_cache_bars -= len(old.bars["open_time"])
                else:
                    self._day_cache.move_to_end(key)
                parts.append((cached, cached.bars, lo, hi))
            else:
                fresh = aggregate(self._base(symbol, lo, min(hi, cur_base), now, with_partial=hi > cur_base), interval)
                parts.append((None, fresh, lo, hi))
        return parts

    def _base(self, symbol: str, start: int, end: int, now: int, with_partial: bool = True) -> Bars:
        """Complete base bars in [start, end) with held-price overlays, plus the forming bar."""
        bars = self.v.feed.bars(symbol, start, end) if end > start else empty_bars()
        overlay = self.v.overlay.get(symbol)
        if overlay and len(bars["open_time"]):
            t = bars["open_time"]
            hits = [(int(np.searchsorted(t, open_t)), ohlc) for open_t, ohlc in overlay.items()
                    if t[0] <= open_t <= t[-1]]
            hits = [(i, ohlc) for i, ohlc in hits if i < len(t) and t[i] in overlay]
            if hits:
                bars = {k: a.copy() for k, a in bars.items()}      # never write into the feed's cached arrays
                for i, (o, h, l, c) in hits:
                    bars["open"][i], bars["high"][i], bars["low"][i], bars["close"][i] = o, h, l, c
        if with_partial:
            bars = merge_partial(bars, self.partial(symbol, now))
        return bars

    def partial(self, symbol: str, now: int) -> dict | None:
        """The base bar still forming: prices as the engine saw them, volume pro rata of the feed's bar."""
        base = self.v.feed.base_ms
        open_t = now // base * base
        tape = self.v.tape.get(symbol)
        if tape is None or tape[0] != open_t:
            m = self.v.engine.markets[symbol]
            if not m.last_t:
                return None
            o = h = l = c = m.last_t
        else:
            _, o, h, l, c = tape
        full = self.v.feed.bars(symbol, open_t, open_t + base)
        share = min(1.0, max(0.0, (now - open_t + 1) / base))
        vol = qv = tb = tbq = 0.0
        trades = 0
        if len(full["open_time"]):
            vol, qv = float(full["volume"][0]) * share, float(full["quote_volume"][0]) * share
            tb, tbq = float(full["taker_buy"][0]) * share, float(full["taker_buy_quote"][0]) * share
            trades = int(int(full["trades"][0]) * share)
        return {"open_time": open_t, "open": o, "high": h, "low": l, "close": c, "volume": vol, "quote_volume": qv,
                "trades": trades, "taker_buy": tb, "taker_buy_quote": tbq}

    def klines(self, symbol: str, interval: str, start: int | None, end: int | None, limit: int) -> list[list]:
        """The venue's kline rows (shared lists from the cache: callers must not modify them)."""
        text, qp, now = self.v.tick_text[symbol], self.v.formats.qp[symbol], self.v.now()
        check_interval(interval, self.v.feed.base_ms)
        if not self._intraday(interval):
            return rows(self.kline_bars(symbol, interval, start, end, limit), interval, text, qp, now)
        plan = self._plan(symbol, interval, start, end, limit)
        if plan is None:
            return []
        first, stop, now, cur_base = plan
        out: list[list] = []
        for day, bars, lo, hi in self._by_day(symbol, interval, first, stop, now, cur_base):
            if day is None:
                out += rows(bars, interval, text, qp, now)
                continue
            if day.rows is None:
                day.rows, day.opens = rows(day.bars, interval, text, qp, now), day.bars["open_time"].tolist()
            out += day.rows[bisect_left(day.opens, lo):bisect_left(day.opens, hi)]
        return out

    def kline_payload(self, symbol: str, interval: str, open_t: int, closed: bool) -> dict[str, Any] | None:
        bars = self.kline_bars(symbol, interval, open_t, None, 1)
        if not len(bars["open_time"]) or int(bars["open_time"][0]) != open_t:
            return None
        r = rows(bars, interval, self.v.tick_text[symbol], self.v.formats.qp[symbol], self.v.now())[0]
        return {"e": "kline", "E": self.v.now(), "s": symbol, "k": {
            "t": r[0], "T": r[6], "s": symbol, "i": interval, "f": r[0], "L": r[0] + int(r[8]), "o": r[1],
            "c": r[4], "h": r[2], "l": r[3], "v": r[5], "n": r[8], "x": closed, "q": r[7], "V": r[9], "Q": r[10],
            "B": "0"}}

    # ------------------------------------------------------------------ book and prices
    def book_ticker(self, symbol: str) -> dict[str, Any]:
        m = self.v.market(symbol)
        f = self.v.formats
        return {"symbol": symbol, "bidPrice": f.ticks(symbol, m.bid_t), "bidQty": f.qty(symbol, m.bid_qty),
                "askPrice": f.ticks(symbol, m.ask_t), "askQty": f.qty(symbol, m.ask_qty), "time": m.time,
                "lastUpdateId": self.v.seq.get(symbol, 0)}

    def price_ticker(self, symbol: str) -> dict[str, Any]:
        m = self.v.market(symbol)
        return {"symbol": symbol, "price": self.v.formats.ticks(symbol, m.last_t), "time": m.time}

    def depth(self, symbol: str, limit: int) -> dict[str, Any]:
        if limit not in DEPTH_LIMITS:
            raise VenueError(-4021, "Invalid depth limit.")
        m = self.v.market(symbol)
        book = m.book()
        book.levels = max(book.levels, limit)
        f = self.v.formats
        bids = [[f.ticks(symbol, p), f.qty(symbol, q)] for (p, q), _ in zip(book.bids(), range(limit))]
        asks = [[f.ticks(symbol, p), f.qty(symbol, q)] for (p, q), _ in zip(book.asks(), range(limit))]
        now = self.v.now()
        return {"lastUpdateId": self.v.seq.get(symbol, 0), "E": now, "T": m.time or now, "bids": bids, "asks": asks}

    def premium_index(self, symbol: str) -> dict[str, Any]:
        m = self.v.market(symbol)
        now = self.v.now()
        fi = self.v.feed.funding(symbol, now, m.mark_t)
        spec = self.v.specs[symbol]
        return {"symbol": symbol, "markPrice": plain_price(spec.price(m.mark_t)),
                "indexPrice": plain_price(spec.price(fi.index_t)),
                "estimatedSettlePrice": plain_price(spec.price(fi.index_t)),
                "lastFundingRate": f"{fi.rate:.8f}", "interestRate": f"{fi.interest_rate:.8f}",
                "nextFundingTime": fi.next_time, "time": now}

    def funding_rates(self, symbol: str | None, start: int | None, end: int | None, limit: int) -> list[dict]:
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        feed = self.v.feed
        step = feed.funding_interval_ms
        now = self.v.now()
        end = min(end if end is not None else now, now)
        symbols = [symbol] if symbol else list(self.v.specs)
        out = []
        for s in symbols:
            self.v.spec(s)
            lo = max(start if start is not None else end - limit * step, feed.first_time(s))
            k0, k1 = -(-lo // step), end // step
            ks = range(k0, k1 + 1)
            if start is None and len(ks) > limit:
                ks = ks[-limit:]
            spec = self.v.specs[s]
            for k in list(ks)[:limit]:
                t = k * step
                bar = feed.bars(s, t - feed.base_ms, t)            # the price as the settlement found it
                mark = spec.price(int(bar["close"][-1])) if len(bar["close"]) else spec.price(
                    self.v.engine.markets[s].mark_t)
                out.append({"symbol": s, "fundingTime": t, "fundingRate": f"{feed.settlement_rate(s, k):.8f}",
                            "markPrice": plain_price(mark)})
        out.sort(key=lambda r: (r["fundingTime"], r["symbol"]))
        return out[:limit] if symbol is None else out

    def funding_info(self) -> list[dict]:
        hours = self.v.feed.funding_interval_ms // 3_600_000
        return [{"symbol": s, "adjustedFundingRateCap": "0.03000000", "adjustedFundingRateFloor": "-0.03000000",
                 "fundingIntervalHours": hours, "fundingFeeCap": 0.03, "fundingFeeFloor": -0.03,
                 "interestRate": "0.00010000", "time": self.v.now(), "disclaimer": False} for s in self.v.specs]

    def ticker_24h(self, symbol: str) -> dict[str, Any]:
        now = self.v.now()
        minute = now // 60_000
        cached = self._ticker_cache.get(symbol)
        m = self.v.market(symbol)
        if cached is None or cached[0] != minute:
            bars = self._base(symbol, now - DAY_MS + self.v.feed.base_ms, now // self.v.feed.base_ms * self.v.feed.base_ms,
                              now, with_partial=False)
            self._ticker_cache[symbol] = cached = (minute, _sums(bars))
        s = dict(cached[1])
        last = m.last_t
        o = s["open"] or last
        hi, lo = max(s["high"] or last, last), min(s["low"] or last, last)
        spec, tt = self.v.specs[symbol], self.v.tick_text[symbol]
        change = spec.price(last) - spec.price(o)
        pct = (change / spec.price(o) * 100) if o else Decimal(0)
        volume, quote = s["volume"], s["quote_volume"]
        vwap = quote / volume if volume else float(spec.price(last))
        qp = self.v.formats.qp[symbol]
        return {"symbol": symbol, "priceChange": tt(last - o), "priceChangePercent": fixed(pct, 3),
                "weightedAvgPrice": f"{vwap:.{self.v.formats.pp[symbol]}f}", "prevClosePrice": tt(o), "lastPrice": tt(last),
                "lastQty": self.v.formats.qty(symbol, spec.rules.min_qty), "openPrice": tt(o), "highPrice": tt(hi),
                "lowPrice": tt(lo), "volume": f"{volume:.{qp}f}", "quoteVolume": f"{quote:.2f}",
                "openTime": now - DAY_MS, "closeTime": now, "firstId": s["first_id"], "lastId": s["first_id"] + s["count"],
                "count": s["count"]}

    def mini_ticker(self, symbol: str) -> dict[str, Any]:
        t = self.ticker_24h(symbol)
        return {"e": "24hrMiniTicker", "E": self.v.now(), "s": symbol, "c": t["lastPrice"], "o": t["openPrice"],
                "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"]}

    def ticker_event(self, symbol: str) -> dict[str, Any]:
        t = self.ticker_24h(symbol)
        return {"e": "24hrTicker", "E": self.v.now(), "s": symbol, "p": t["priceChange"], "P": t["priceChangePercent"],
                "w": t["weightedAvgPrice"], "c": t["lastPrice"], "Q": t["lastQty"], "o": t["openPrice"],
                "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"], "O": t["openTime"],
                "C": t["closeTime"], "F": t["firstId"], "L": t["lastId"], "n": t["count"]}

    # ------------------------------------------------------------------ trades
    def agg_trades(self, symbol: str, from_id: int | None, start: int | None, end: int | None,
                   limit: int) -> list[dict[str, Any]]:
        self.v.spec(symbol)
        if not 1 <= limit <= 1000:
            raise VenueError(-1130, "Data sent for parameter 'limit' is not valid.")
        now = self.v.now()
        if start is not None and end is not None and end - start >= 3_600_000:
            raise VenueError(-1127, "More than 1 hours between startTime and endTime.")
        if from_id is not None:
            start = max(self.v.feed.first_time(symbol), (from_id // 1000) * 60_000)
            end = min(now, start + 3_600_000)
        elif start is None and end is None:
            end, start = now + 1, now - 10 * 60_000
        elif start is None:
            start = end - 3_600_000
        elif end is None:
            end = min(now, start + 3_600_000)
        end = min(end, now + 1)
        trades = self.v.feed.agg_trades(symbol, start, end)
        if from_id is not None:
            trades = [t for t in trades if t.agg_id >= from_id][:limit]
        elif (start is not None and end is not None) and not (from_id is None and len(trades) <= limit):
            trades = trades[:limit] if start is not None else trades[-limit:]
        else:
            trades = trades[-limit:]
        tt, qp = self.v.tick_text[symbol], self.v.formats.qp[symbol]
        return [{"a": t.agg_id, "p": tt(t.price_t), "q": f"{t.qty:.{qp}f}", "f": t.first_id, "l": t.last_id,
                 "T": t.time, "m": t.buyer_is_maker} for t in trades]

    def recent_trades(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        aggs = self.agg_trades(symbol, None, None, None, min(1000, max(1, limit)))
        out = []
        for a in aggs:
            price, qty = Decimal(a["p"]), Decimal(a["q"])
            out.append({"id": a["a"], "price": a["p"], "qty": a["q"], "quoteQty": f"{price * qty:f}", "time": a["T"],
                        "isBuyerMaker": a["m"]})
        return out

    # ------------------------------------------------------------------ brackets
    def leverage_brackets(self, symbol: str | None) -> list[dict[str, Any]] | dict[str, Any]:
        def one(s: str, spec: SymbolSpec) -> dict[str, Any]:
            return {"symbol": s, "notionalCoef": 1.0, "brackets": [
                {"bracket": b.bracket, "initialLeverage": b.initial_leverage, "notionalCap": float(b.notional_cap),
                 "notionalFloor": float(b.notional_floor), "maintMarginRatio": float(b.mmr), "cum": float(b.cum)}
                for b in spec.brackets]}
        if symbol:
            return one(symbol, self.v.spec(symbol))
        return [one(s, sp) for s, sp in self.v.specs.items()]


class _DayBars:
    """One past day of one interval's bars, and their formatted rows once a client asked for them."""

    __slots__ = ("bars", "rows", "opens")

    def __init__(self, bars: Bars):
        self.bars = bars
        self.rows: list[list] | None = None
        self.opens: list[int] = []


def _sums(bars: Bars) -> dict[str, Any]:
    n = len(bars["open_time"])
    if not n:
        return {"open": 0, "high": 0, "low": 0, "volume": 0.0, "quote_volume": 0.0, "count": 0, "first_id": 0}
    return {"open": int(bars["open"][0]), "high": int(bars["high"].max()), "low": int(bars["low"].min()),
            "volume": float(bars["volume"].sum()), "quote_volume": float(bars["quote_volume"].sum()),
            "count": int(bars["trades"].sum()), "first_id": int(bars["open_time"][0] // 60_000 * 1000)}


async def warm_history(data: MarketData, symbols: tuple[str, ...], intervals: tuple[str, ...], bars: int) -> None:
    """Synthesise every symbol's recent history once, right after start, one request's worth at a time
    between the requests being served: the first scan of a bot is then answered from the day cache
    instead of paying the synthesis (about 20 ms per symbol and interval here) on its own clock."""
    if bars <= 0:
        return
    for symbol in symbols:
        for interval in intervals:
            try:
                data.klines(symbol, interval, None, None, min(bars, 1500))
            except VenueError as exc:        # a feed without this history: nothing to warm
                log.debug("paper.warm_skipped", f"{symbol} {interval}: {exc}", symbol=symbol)
            await asyncio.sleep(0)
    data.v.history_warm = True
