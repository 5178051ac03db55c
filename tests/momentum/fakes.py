"""An in-process market cache stand-in (closed bars, quotes, funding) and a status file written by a real
engine over it, for the dashboard's tests of the momentum page."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mraster.domain.types import BookTicker, Kline, MarkPrice
from mraster.engines import get_kind
from mraster.exchange.market_cache import SymbolSnapshot

from momentum.config import config_from
from momentum.engine import Engine
from momentum.state import Held

MIN = 60_000


class FakeCache:
    def __init__(self, symbols, t0: int, seed: int = 1):
        self.rng = np.random.default_rng(seed)
        self.px = {s: 100.0 + i for i, s in enumerate(symbols)}
        self.closed: dict[str, Kline] = {}
        self.now = t0
        self.symbols = list(symbols)

    def close_bar(self, open_ms: int) -> None:
        for s in self.symbols:
            o = self.px[s]
            r = self.rng.normal(0, 8e-4, 3)
            c = o * (1 + r[0])
            h, lo = max(o, c) * (1 + abs(r[1]) / 3), min(o, c) * (1 - abs(r[2]) / 3)
            self.closed[s] = Kline(open_ms, o, h, lo, c, float(self.rng.lognormal(3, 1)), open_ms + MIN - 1)
            self.px[s] = c
        self.now = open_ms + MIN + 200

    def snapshot(self, s: str) -> SymbolSnapshot:
        p = self.px[s]
        return SymbolSnapshot(s, self.closed.get(s), BookTicker(s, p * 0.9999, 1, p * 1.0001, 1),
                              MarkPrice(s, p, p, 1e-4, 0, self.now), None, (), self.closed.get(s))

    def venue_now_ms(self) -> int:
        return self.now


def write_status(run_dir: Path, instance: str = "mom1", bars: int = 40) -> Engine:
    """A dry engine over the fake cache after `bars` closed bars (T=V=30: warm after 31), one symbol holding a
    position with its plan, then its status file in `run_dir`."""
    symbols = ("ETHUSDT", "BTCUSDT")
    t0 = 1_770_000_000_000 // MIN * MIN
    cache = FakeCache(symbols, t0)
    values = {**get_kind("momentum").defaults(), "SYMBOLS": symbols, "PARAMS_FILE": str(run_dir / "none.json")}
    cfg = config_from(values, instance=instance, status_path=run_dir / f"{instance}.status.json",
                      state_path=run_dir / f"{instance}.state.json")
    e = Engine(None, cache, cfg)  # type: ignore[arg-type]
    e.reload_params()

    async def feed() -> None:
        for i in range(bars):
            cache.close_bar(t0 + i * MIN)
            await e.tick()
    with ThreadPoolExecutor(1) as pool:          # its own thread: the caller may run an event loop (Playwright)
        pool.submit(asyncio.run, feed()).result()
    e.states["ETHUSDT"].held = Held("mom1-ETHUSDT-x", 1, "0.100", "100.00", cache.now, "mom1:ETHUSDT.EN.x",
                                    {"TP": "mom1:ETHUSDT.TP.x", "SL": "mom1:ETHUSDT.SL.x", "TR": "mom1:ETHUSDT.TR.x"},
                                    {"side": 1, "entry_price": "100.00", "be_floor_bps": 11.0, "activation_bps": 15.0,
                                     "take_profit_bps": 60.0, "sl_bps": 40.0, "callback_bps": 10.0,
                                     "take_profit_price": "100.60", "stop_price": "99.60",
                                     "activation_price": "100.15", "callback_rate": "0.1"},
                                    e.config_of("ETHUSDT"))
    e.states["BTCUSDT"].cooldown_until_ms = cache.now + 120_000
    e.write_status()
    return e
