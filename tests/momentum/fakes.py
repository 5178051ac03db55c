"""An in-process market cache stand-in (closed bars, quotes, funding) and a status file written by a real
engine over it, for the dashboard's tests of the momentum page (the cache itself: momentum/synthetic.py)."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mraster.engines import get_kind

from momentum.config import config_from
from momentum.engine import Engine
from momentum.state import Held
from momentum.synthetic import MIN, SyntheticCache


def write_status(run_dir: Path, instance: str = "mom1", bars: int = 40) -> Engine:
    """A dry engine over the fake cache after `bars` closed bars (T=V=30: warm after 31), one symbol holding a
    position with its plan, then its status file in `run_dir`."""
    symbols = ("ETHUSDT", "BTCUSDT")
    t0 = 1_770_000_000_000 // MIN * MIN
    cache = SyntheticCache(symbols, t0)
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
