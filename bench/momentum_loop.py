"""One loop iteration of the momentum engine for 40 symbols, cache to decisions (issue 17: < 20 ms).

In process, no network: a market cache stand-in holds each symbol's latest closed 1m bar, quote and
funding, as the live cache does. Two kinds of iteration are timed:
- bar close: every one of the 40 symbols has a new closed bar, so all 40 are judged by the shared signal
  (the worst second of each minute; T = V = 120 so each judgement reads 121 bars);
- steady: no new bar (the other 59 seconds), the baseline of the same run.
Both are `Engine.tick()` with trading off (cache -> bars -> signals -> decisions -> nothing sent); the
status file is written by the loop after the tick and is timed separately.

    python3 bench/momentum_loop.py [--rounds 300]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mraster.engines import get_kind  # noqa: E402

from momentum.config import config_from  # noqa: E402
from momentum.engine import Engine  # noqa: E402
from momentum.synthetic import MIN, SyntheticCache  # noqa: E402

TARGET_MS = 20.0
N_SYMBOLS = 40


async def main(rounds: int) -> None:
    symbols = [f"S{i:02d}USDT" for i in range(N_SYMBOLS)]
    t0 = 1_770_000_000_000 // MIN * MIN
    cache = SyntheticCache(symbols, t0)
    with tempfile.TemporaryDirectory() as tmp:
        values = {**get_kind("momentum").defaults(), "SYMBOLS": tuple(symbols), "T": 120, "V": 120,
                  "k": 1.0, "n": 1.2, "PARAMS_FILE": str(Path(tmp) / "none.json")}
        cfg = config_from(values, instance="bench", status_path=Path(tmp) / "s.json", state_path=Path(tmp) / "st.json")
        e = Engine(None, cache, cfg)  # type: ignore[arg-type]   # trading off: the client is never called
        e.reload_params()
        for i in range(130):                                        # warm the windows
            cache.close_bar(t0 + i * MIN)
            await e.tick()
        bar_close, steady, status, signals = [], [], [], 0
        for i in range(rounds):
            cache.close_bar(t0 + (130 + i) * MIN)
            t = time.perf_counter()
            d = await e.tick()
            bar_close.append((time.perf_counter() - t) * 1000)
            signals += len(d)
            t = time.perf_counter()
            await e.tick()
            steady.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            e.write_status()
            status.append((time.perf_counter() - t) * 1000)
    p99 = lambda x: sorted(x)[int(len(x) * 0.99)]  # noqa: E731
    med_bc, med_st = statistics.median(bar_close), statistics.median(steady)
    print(f"momentum loop, {N_SYMBOLS} symbols, T=V=120, {rounds} rounds ({signals} dry signals logged)")
    print(f"  bar-close iteration (40 judged): median {med_bc:.2f} ms, p99 {p99(bar_close):.2f} ms "
          f"-> {med_bc / TARGET_MS:.2f} of the 20 ms target (p99 {p99(bar_close) / TARGET_MS:.2f})")
    print(f"  steady iteration (no new bar):   median {med_st:.2f} ms, p99 {p99(steady):.2f} ms "
          f"-> {med_st / TARGET_MS:.3f} of the target; bar close / steady = {med_bc / med_st:.1f}x")
    print(f"  status file write (atomic, fsync): median {statistics.median(status):.2f} ms (after the tick, in a thread)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    asyncio.run(main(ap.parse_args().rounds))
