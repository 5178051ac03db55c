"""Signal-to-acknowledged-entry latency of the momentum engine on the paper exchange (issue 17): p50, p99.

A real paper exchange (child process, loopback HTTP) and the engine's own client and market cache. Each
round forces a signal on one symbol and runs one tick: the figure is from the moment the signal is judged
to the venue's answer to the IOC entry (the engine's `latencies_ms`), exits are armed after it and are
not in the figure. The position is then closed (outside the timing) so the next round can enter again.
Baseline in the same run: a bare signed GET of the server time through the same client (the floor of any
round trip).

    python3 bench/momentum_latency.py [--rounds 100]
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

from paper.testing import PaperExchange  # noqa: E402

from tests.momentum.rig import Rig  # noqa: E402

SYM = "ETHUSDT"


async def run(px: PaperExchange, wd: Path, rounds: int) -> None:
    rig = Rig(px, wd, "bench-latency", COOLDOWN_MIN=0)
    try:
        e = await rig.start()
        await rig.hold_and_see(SYM, "2000.00", "1999.90", "2000.10")
        base = []
        for _ in range(rounds):
            t = time.perf_counter()
            await rig.client.account()
            base.append((time.perf_counter() - t) * 1000)
        for i in range(rounds):
            e.forced[SYM] = 1 if i % 2 == 0 else -1
            d = await e.tick()
            assert d and d[0].action == "enter", d
            pos = e.held_position(await rig.client.positions(SYM), SYM)
            assert pos is not None
            await e.trading.close(pos, "bench")
        lat = sorted(e.latencies_ms)
        p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))]  # noqa: E731
        b50 = statistics.median(base)
        print(f"momentum signal -> acknowledged IOC entry on the paper exchange, {len(lat)} entries")
        print(f"  p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {lat[-1]:.2f} ms")
        print(f"  baseline signed GET /fapi/v2/account through the same client: p50 {b50:.2f} ms "
              f"-> entry p50 / baseline = {p(0.5) / b50:.2f}x")
    finally:
        await rig.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    rounds = ap.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        with PaperExchange(Path(tmp) / "px", symbols=("BTCUSDT", SYM), seed=4) as px:
            asyncio.run(run(px, Path(tmp) / "w", rounds))


if __name__ == "__main__":
    main()
