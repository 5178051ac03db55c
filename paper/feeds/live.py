"""The live feed: public market data from a real venue (ASTER_EXCHANGE_BASE), fills simulated locally.

Polls the venue's all-symbol book tickers, last prices and premium index once a second (about 300
request weight a minute, an eighth of the venue's limit) and keeps each symbol's last 1500 one-minute
bars fresh for streams and 24h statistics. Kline, trade and funding-history requests are passed
through to the venue, so history is the venue's own. Contract filters come from its exchangeInfo.
"""
from __future__ import annotations

import asyncio
import math
import time
from decimal import Decimal
from typing import Any

import httpx
import numpy as np

from mraster.logs import get_logger
from mraster.aio import cancel_and_wait
from paper.feeds.base import MIN_MS, Bars, BookParams, Feed, Quote, empty_bars, slice_bars
from paper.feeds.symbols import spec_from_exchange_info

log = get_logger("paper.live")
POLL_S = 1.0
BARS_REFRESH_S = 15.0
KEEP_BARS = 1500
DEPTH_10BP_SHARE = 2e-4
LEVEL_GAP_BP = 0.5
PASS_THROUGH = ("/fapi/v1/klines", "/fapi/v1/markPriceKlines", "/fapi/v1/aggTrades", "/fapi/v1/trades",
                "/fapi/v1/fundingRate")


class LiveFeedError(RuntimeError):
    pass


class LiveFeed(Feed):
    name = "live"

    def __init__(self, base_url: str, symbols: tuple[str, ...], funding_hours: int = 8,
                 poll_s: float = POLL_S, timeout_s: float = 10.0):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.wanted = tuple(symbols)
        self.funding_interval_ms = funding_hours * 3_600_000
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.client: httpx.AsyncClient | None = None
        self._latest: dict[str, dict[str, Any]] = {}
        self._fresh: set[str] = set()
        self._bars: dict[str, Bars] = {}
        self._bars_at: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self.last_error = ""
        self.polls = 0

    def describe(self) -> dict:
        return {"name": self.name, "source": self.base_url, "polls": self.polls, "last_error": self.last_error}

    def start_time(self, wall_ms: int) -> int:
        return wall_ms

    # ------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s,
                                        headers={"User-Agent": "mraster-paper-exchange"})
        info = await self._get("/fapi/v1/exchangeInfo")
        entries = {e["symbol"]: e for e in info.get("symbols", [])
                   if e.get("contractType", "PERPETUAL") == "PERPETUAL" and e.get("status", "TRADING") == "TRADING"}
        chosen = [s for s in self.wanted if s in entries] or sorted(entries)[:40]
        if not chosen:
            raise LiveFeedError(f"{self.base_url} lists no trading perpetual contracts")
        missing = [s for s in self.wanted if s not in entries]
        if missing:
            log.warning("paper.live_missing", f"{self.base_url} does not list {', '.join(missing)}", missing=missing)
        self.symbols = tuple(chosen)
        for s in self.symbols:
            self.specs[s] = spec_from_exchange_info(entries[s])
            self.entries[s] = entries[s]
        await self._poll()
        await asyncio.gather(*(self._refresh_bars(s) for s in self.symbols))
        self._task = asyncio.create_task(self._run(), name="paper-live-feed")

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        if self.client is not None:
            await self.client.aclose()

    async def _get(self, path: str, params: dict | None = None) -> Any:
        assert self.client is not None
        resp = await self.client.get(path, params=params)
        if resp.status_code != 200:
            raise LiveFeedError(f"{self.base_url}{path}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp.json()

    async def pass_through(self, path: str, query: bytes) -> tuple[int, bytes]:
        """Forward a public market-data request to the venue (history is the venue's own)."""
        assert self.client is not None
        resp = await self.client.get(path + ("?" + query.decode() if query else ""))
        return resp.status_code, resp.content

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self._poll()
                now = time.monotonic()
                for s in self.symbols:
                    if now - self._bars_at.get(s, 0.0) >= BARS_REFRESH_S:
                        await self._refresh_bars(s)
                if self.last_error:
                    log.info("paper.live_recovered", f"{self.base_url} answers again")
                    self.last_error = ""
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # the venue may be down for a while: keep the last prices, say so
                if str(exc) != self.last_error:
                    log.warning("paper.live_poll_failed", f"polling {self.base_url} failed: {exc}", error=str(exc))
                self.last_error = str(exc)

    async def _poll(self) -> None:
        books, prices, marks = await asyncio.gather(self._get("/fapi/v1/ticker/bookTicker"),
                                                    self._get("/fapi/v1/ticker/price"),
                                                    self._get("/fapi/v1/premiumIndex"))
        now_ms = int(time.time() * 1000)
        wanted = set(self.symbols) or None
        by = {}
        for b in books:
            by.setdefault(b["symbol"], {}).update(bid=float(b["bidPrice"]), bid_qty=float(b["bidQty"]),
                                                   ask=float(b["askPrice"]), ask_qty=float(b["askQty"]))
        for p in prices:
            by.setdefault(p["symbol"], {})["last"] = float(p["price"])
        for m in marks:
            by.setdefault(m["symbol"], {}).update(mark=float(m["markPrice"]), index=float(m.get("indexPrice") or 0),
                                                   rate=float(m.get("lastFundingRate") or 0),
                                                   next=int(m.get("nextFundingTime") or 0))
        for s, d in by.items():
            if wanted is not None and s not in wanted:
                continue
            if {"bid", "ask", "last", "mark"} <= d.keys():
                d["time"] = now_ms
                self._latest[s] = d
                self._fresh.add(s)
        self.polls += 1

    async def _refresh_bars(self, symbol: str) -> None:
        have = self._bars.get(symbol)
        limit = KEEP_BARS if have is None or not len(have["open_time"]) else 10
        rows = await self._get("/fapi/v1/klines", {"symbol": symbol, "interval": "1m", "limit": limit})
        tick = float(self.specs[symbol].tick)
        now_ms = int(time.time() * 1000)
        rows = [r for r in rows if int(r[6]) < now_ms]          # complete bars only
        part = {"open_time": np.array([int(r[0]) for r in rows], dtype=np.int64)}
        for k, i in (("open", 1), ("high", 2), ("low", 3), ("close", 4)):
            part[k] = np.array([max(1, round(float(r[i]) / tick)) for r in rows], dtype=np.int64)
        for k, i in (("volume", 5), ("quote_volume", 7), ("taker_buy", 9), ("taker_buy_quote", 10)):
            part[k] = np.array([float(r[i]) for r in rows], dtype=np.float64)
        part["trades"] = np.array([int(r[8]) for r in rows], dtype=np.int64)
        if have is not None and len(have["open_time"]):
            keep = have["open_time"] < (part["open_time"][0] if len(rows) else 2 ** 62)
            part = {k: np.concatenate([have[k][keep], part[k]])[-KEEP_BARS:] for k in part}
        self._bars[symbol] = part
        self._bars_at[symbol] = time.monotonic()

    # ------------------------------------------------------------ feed interface
    def advance(self, to_ms: int) -> list[Quote]:
        out = []
        for s in sorted(self._fresh):
            d = self._latest[s]
            spec = self.specs[s]
            tick = float(spec.tick)
            bid = max(1, int(round(d["bid"] / tick)))
            ask = max(bid + 1, int(round(d["ask"] / tick)))
            out.append(Quote(s, to_ms, max(1, int(round(d["last"] / tick))), max(1, int(round(d["mark"] / tick))),
                             bid, ask, d["bid_qty"], d["ask_qty"]))
        self._fresh.clear()
        return out

    def settlement_rate(self, symbol: str, k: int) -> float:
        return float(self._latest.get(symbol, {}).get("rate", 0.0001))

    def funding(self, symbol: str, now: int, mark_t: int):
        from paper.feeds.base import FundingInfo
        d = self._latest.get(symbol, {})
        tick = float(self.specs[symbol].tick)
        nxt = d.get("next") or (now // self.funding_interval_ms + 1) * self.funding_interval_ms
        index_t = int(round(d["index"] / tick)) if d.get("index") else mark_t
        return FundingInfo(float(d.get("rate", 0.0001)), nxt, index_t)

    def first_time(self, symbol: str) -> int:
        b = self._bars.get(symbol)
        return int(b["open_time"][0]) if b is not None and len(b["open_time"]) else int(time.time() * 1000) // MIN_MS * MIN_MS

    def bars(self, symbol: str, start_ms: int, end_ms: int) -> Bars:
        b = self._bars.get(symbol)
        return slice_bars(b, start_ms, end_ms) if b is not None else empty_bars()

    def book_params(self, symbol: str, price_t: int) -> BookParams:
        spec = self.specs[symbol]
        tick = float(spec.tick)
        price = price_t * tick if price_t > 0 else self._latest.get(symbol, {}).get("last", 1.0)
        b = self._bars.get(symbol)
        day_qv = float(b["quote_volume"][-1440:].sum()) if b is not None and len(b["open_time"]) else 1e7
        gap = max(1, int(round(price * LEVEL_GAP_BP * 1e-4 / tick)))
        levels_10bp = max(1.0, 10.0 / max(LEVEL_GAP_BP, gap * tick / price * 1e4))
        step = float(spec.rules.step_size) or 1e-8
        qty = max(step * 2, math.floor(day_qv * DEPTH_10BP_SHARE / price / levels_10bp / step) * step)
        return BookParams(gap, (Decimal(repr(qty)) / spec.rules.step_size).to_integral_value() * spec.rules.step_size)
