"""A momentum engine on a real paper exchange (child process), for the engine's tests and benchmarks.

Each rig trades its own paper account (its own API key), so tests sharing one exchange stay independent.
Prices are held with the admin API and the engine's own market cache is waited on (a condition with a
deadline, never a sleep as synchronisation)."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from mraster.engines import get_kind
from mraster.exchange.factory import make_exchange
from mraster.exchange.market_cache import MarketCache
from mraster.journal import Journal
from mraster.safety import killswitch
from mraster.settings.loader import load_settings

from momentum.config import config_from
from momentum.engine import Engine


async def until(what: str, probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Rig:
    def __init__(self, px: Any, workdir: Path, key: str, symbols=("BTCUSDT", "ETHUSDT"), env: dict | None = None,
                 **values: Any):
        self.px, self.wd, self.key, self.symbols = px, Path(workdir), key, tuple(symbols)
        self.values = {**get_kind("momentum").defaults(), "SYMBOLS": self.symbols, "ENABLE_TRADING": True,
                       "ORDER_NOTIONAL": 200.0, "k": 1e6, **values}     # only forced signals, unless asked
        env = {**px.env(), "ASTER_API_KEY": key, "ASTER_API_SECRET": f"{key}-secret",
               "ASTER_RUN_DIR": str(self.wd / "run"), "ASTER_JOURNAL_FILE": str(self.wd / "journal.sqlite"),
               "ASTER_LOG_DIR": str(self.wd / "logs"), **(env or {})}
        self.wd.mkdir(parents=True, exist_ok=True)
        self.settings = load_settings(env=env, cwd=self.wd).settings
        self.client = make_exchange(self.settings)
        self.cache = MarketCache(self.client, list(self.symbols))
        self.journal = Journal(self.wd / "journal.sqlite")
        self.engine: Engine | None = None

    def new_engine(self, instance: str = "mom1", gate: Any = None) -> Engine:
        cfg = config_from(self.values, instance=instance, status_path=self.wd / "run" / f"{instance}.status.json",
                          state_path=self.wd / "run" / f"{instance}.state.json", base_dir=self.wd)
        latch, account = killswitch.latch_path(self.settings), killswitch.account_key(self.settings)
        self.engine = Engine(self.client, self.cache, cfg, settings=self.settings, journal=self.journal,
                             entries_blocked=lambda: killswitch.entries_blocked(self.settings),
                             fire_latch=lambda reason, d: killswitch.fire(latch, account, f"momentum:{instance}",
                                                                          reason, **d), gate=gate)
        return self.engine

    async def start(self, instance: str = "mom1") -> Engine:
        await self.cache.start()
        e = self.new_engine(instance)
        await e.start()
        for s in self.symbols:
            await until(f"a quote of {s}", lambda s=s: self.cache.snapshot(s).latest_bbo is not None)
        return e

    def hold(self, symbol: str, price: str, bid: str | None = None, ask: str | None = None) -> None:
        fields: dict[str, Any] = {"symbol": symbol, "price": price}
        if bid is not None:
            fields.update(bid=bid, ask=ask)
        self.px.admin("POST", "/price", api_key=self.key, **fields)

    async def hold_and_see(self, symbol: str, price: str, bid: str, ask: str) -> None:
        self.hold(symbol, price, bid, ask)
        await until(f"{symbol} at {bid}/{ask} in the cache", lambda: (b := self.cache.snapshot(symbol).latest_bbo)
                    is not None and Decimal(str(b.bid_price)) == Decimal(bid) and Decimal(str(b.ask_price)) == Decimal(ask))

    async def advance_to(self, utc_minute: int) -> int:
        """Move the venue clock forward to the next time of day `utc_minute` (UTC) and wait until the engine's
        clock (the market cache's venue time) is there."""
        now = self.client.now_ms() if not self.cache.venue_now_ms() else self.cache.venue_now_ms()
        info = self.px.admin("GET", "/state")["venue"]
        venue = int(info.get("venue_time") or now)
        day = venue // 86_400_000 * 86_400_000
        target = day + utc_minute * 60_000 + 1_000
        if target <= venue:
            target += 86_400_000
        self.px.admin("POST", "/clock", advance_ms=target - venue)
        await until("the engine's clock past the target", lambda: self.cache.venue_now_ms() >= target, 30)
        await self.resync()
        return target

    async def resync(self) -> None:
        """After a clock jump: the client's venue clock measures a rate from two syncs >= 1 s apart, so the
        second sync (one measuring span later) brings it back to rate 1 with the jumped offset."""
        for _ in range(3):                     # a span may start before the jump: two spans after it
            await self.client.sync_time()
            t0 = time.monotonic()
            await until("a clock-rate measuring span", lambda: time.monotonic() - t0 >= 1.05, 5)
        await self.client.sync_time()

    async def advance_ms(self, ms: int) -> int:
        target = self.cache.venue_now_ms() + ms
        self.px.admin("POST", "/clock", advance_ms=ms)
        await until("the engine's clock past the target", lambda: self.cache.venue_now_ms() >= target, 30)
        await self.resync()
        return target

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.aclose()
        await self.cache.close()
        await self.client.close()
        self.journal.close()
