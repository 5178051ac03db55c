"""Benchmark: one scan cycle of the bot over 40 symbols (ASTER_INTERVAL 5m + ASTER_HTF_INTERVAL 30m,
360 klines each) against the real paper exchange (a child process) with 50 ms latency injected on
every request. Prints wall time of a cold cycle (nothing cached in the bot) and of warm cycles, the signal
computation time inside them, and the REST weight per cycle, counted per call with the venue's
weight table and compared with the venue's limit of 2400 per minute at the default loop sleep.

    python3 bench/bot_scan_cycle.py [--symbols 40] [--latency-ms 50] [--warm 5]

Entries are switched off (ASTER_MAX_OPEN_GLOBAL=0) so the figure is the scan itself; order
placement adds about one round trip per order. The machine is shared: timings are noisy.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mraster.exchange.factory import make_exchange  # noqa: E402
from paper.testing import PaperExchange  # noqa: E402
from bot.runtime.cycle import FeeBook, run_cycle  # noqa: E402
from bot.runtime.loop import Bot  # noqa: E402
from mraster.settings import load_settings  # noqa: E402

WEIGHT_LIMIT = 2400
DEFAULT_LOOP_SLEEP = 20.0
BASES = ("BTC ETH SOL BNB XRP DOGE ADA AVAX LINK LTC DOT NEAR ALGO FIL ATOM TRX UNI AAVE ETC XLM APT ARB OP "
         "SUI INJ SEI TIA RUNE FTM SAND MANA GALA AXS CRV LDO MKR SNX COMP DYDX ZEC BCH EOS").split()


def kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class Counted:
    """Wraps a venue and adds up the venue's request weight of every call (reference §3.2); with
    `latency_s` it also waits that long before each call (used for the in-process venue)."""
    FIXED = {"symbol_rules": 1, "tickers_24h": 40, "book_tickers": 2, "mark_prices": 1, "account": 5,
             "open_orders": 40, "commission_rate": 20, "user_trades": 5, "income": 30, "get_order": 1,
             "place_order": 1, "cancel_order": 1, "set_leverage": 1, "set_margin_type": 1, "sync_time": 1,
             "positions": 5}

    def __init__(self, inner: Any, latency_s: float = 0.0):
        self._inner = inner
        self.latency_s = latency_s
        self.weight = 0
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kw: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name == "klines":
                self.weight += kline_weight(kw.get("limit", args[2] if len(args) > 2 else 500))
            else:
                self.weight += self.FIXED.get(name, 1)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            return await attr(*args, **kw)
        return call


async def bench(venue_env: dict[str, str], workdir: Path, symbols: list[str], warm: int,
                make_venue: Any = None) -> dict[str, Any]:
    env = {**venue_env, "ASTER_CONFIG_FILE": str(workdir / "none.json"), "ASTER_DOTENV_FILE": str(workdir / "none.env"),
           "ASTER_STATE_FILE": str(workdir / "state.json"), "ASTER_JOURNAL_FILE": str(workdir / "journal.sqlite"),
           "ASTER_LOG_DIR": str(workdir / "logs"), "ASTER_RUN_DIR": str(workdir / "run"),
           "ASTER_INCLUDE_SYMBOLS": ",".join(symbols), "ASTER_UNIVERSE_MAX": str(len(symbols)),
           "ASTER_MIN_QUOTE_VOL_USDT": "0", "ASTER_KLINES": "360", "ASTER_INTERVAL": "5m",
           "ASTER_HTF_INTERVAL": "30m", "ASTER_MAX_OPEN_GLOBAL": "0", "ASTER_LOGLEVEL": "WARNING"}
    loaded = load_settings(env=env)
    counted: Counted | None = None

    def factory(s: Any) -> Any:
        nonlocal counted
        counted = make_venue() if make_venue else Counted(make_exchange(s))
        return counted
    bot = Bot(loaded, env=env, exchange_factory=factory)
    rt = bot._build()
    await rt.exchange.sync_time()
    fees = FeeBook()
    runs = []
    try:
        for i in range(1 + warm):
            w0 = counted.weight
            t0 = time.perf_counter()
            res = await run_cycle(rt, fees, lambda aw: aw, lambda: False)
            wall = time.perf_counter() - t0
            runs.append({"wall_s": wall, "signal_ms": res.signal_ms, "weight": counted.weight - w0,
                         "scanned": res.scanned, "kline_requests": res.kline_requests,
                         "venue_weight_1m": res.weight_used})
            if i == 0:
                cold_calls = dict(counted.calls)
    finally:
        rt.journal.close()
        await rt.exchange.close()
    return {"runs": runs, "calls": cold_calls}


def wait_history_warm(url: str, deadline_s: float = 120.0) -> float:
    """Seconds until the paper exchange reports its start-up synthesis of recent klines done."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < deadline_s:
        if httpx.get(url + "/paper/info", timeout=5).json().get("history_warm"):
            return time.perf_counter() - t0
        time.sleep(0.05)    # polling a child process's readiness, not timing anything
    raise RuntimeError(f"the paper exchange did not finish its history synthesis within {deadline_s:.0f} s")


def report(title: str, out: dict[str, Any]) -> None:
    cold, warm = out["runs"][0], out["runs"][1:]
    print(title)
    print(f"  cold cycle : {cold['wall_s'] * 1000:7.0f} ms wall (budget 1500 ms), signals {cold['signal_ms']:.1f} ms "
          f"(budget 50 ms), weight {cold['weight']}, klines requests {cold['kline_requests']}")
    if warm:
        print(f"  warm cycle : {statistics.median(r['wall_s'] for r in warm) * 1000:7.0f} ms wall (median of "
              f"{len(warm)}), signals {statistics.median(r['signal_ms'] for r in warm):.1f} ms, weight "
              f"{statistics.median(r['weight'] for r in warm):.0f}, klines requests "
              f"{statistics.median(r['kline_requests'] for r in warm):.0f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=40)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--warm", type=int, default=5)
    a = ap.parse_args()
    symbols = [b + "USDT" for b in BASES[:a.symbols]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with PaperExchange(work / "px", symbols=symbols, seed=7, faults=f"latency_ms={a.latency_ms}") as px:
            synth_s = wait_history_warm(px.url)
            out = asyncio.run(bench(px.env(), work / "a", symbols, a.warm))
        with PaperExchange(work / "px0", symbols=symbols, seed=7) as px0:
            wait_history_warm(px0.url)
            no_latency = asyncio.run(bench(px0.env(), work / "c", symbols, 0))
        sys.path.insert(0, str(ROOT / "tests" / "bot"))
        from fakevenue import FakeVenue     # the tests' in-memory venue: answers in ~0 ms after the latency
        fake = asyncio.run(bench({"ASTER_PAPER": "true", "ASTER_PAPER_URL": "http://127.0.0.1:9"}, work / "b",
                                 symbols, a.warm,
                                 make_venue=lambda: Counted(FakeVenue(symbols=symbols), a.latency_ms / 1000)))
    head = f"{out['runs'][0]['scanned']} symbols, 5m + 30m x 360 klines, {a.latency_ms} ms latency per request"
    report(f"bot scan cycle against the paper exchange (child process): {head}", out)
    print(f"  the same cold cycle without injected latency: {no_latency['runs'][0]['wall_s'] * 1000:.0f} ms")
    print(f"  (before the bot's first cycle, the paper exchange synthesised the recent history of its {len(symbols)} "
          f"symbols once, at start, in {synth_s:.2f} s: a real venue has it ready, so it is not part of the cycle)")
    report(f"bot scan cycle against an in-process venue that answers after the latency alone: {head}", fake)
    cold = out["runs"][0]
    per_min = 60.0 / (DEFAULT_LOOP_SLEEP + cold["wall_s"])
    warm = out["runs"][1:]
    w = statistics.median(r["weight"] for r in warm) if warm else cold["weight"]
    print(f"weight per minute at ASTER_LOOP_SLEEP={DEFAULT_LOOP_SLEEP:.0f} s: cold cycles {cold['weight'] * per_min:.0f} "
          f"({cold['weight'] * per_min / WEIGHT_LIMIT:.1%} of {WEIGHT_LIMIT}), warm cycles {w * per_min:.0f} "
          f"({w * per_min / WEIGHT_LIMIT:.1%})")
    print(f"calls in the cold cycle: {out['calls']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
