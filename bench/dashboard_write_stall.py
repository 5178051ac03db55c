"""Event-loop stall while the dashboard saves settings: writes in a worker thread vs on the loop.

A settings save writes dashboard_config.json atomically (fsync of the file and its directory) and
appends an fsynced audit line. The dashboard now does both in a worker thread (issue 12 item 14);
the baseline runs the same writes on the event loop, as before. A 5 ms ticker on the loop measures
how long the loop stood still (what every page, log stream and the supervisor feel), while 100
saves run on the real disk. Run: python3 bench/dashboard_write_stall.py [--saves 100]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mraster.settings import load_settings  # noqa: E402
from dashboard.services import configstore  # noqa: E402
from dashboard.services.configstore import AuditLog, ConfigStore  # noqa: E402

TICK_S = 0.005


async def inline(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The baseline: the work runs on the event loop itself."""
    return fn(*args, **kwargs)


async def run(saves: int, workdir: Path, threaded: bool) -> dict[str, float]:
    (workdir / "dashboard_config.json").write_text('{"ASTER_PAPER": true}\n')
    env = {"ASTER_CONFIG_FILE": str(workdir / "dashboard_config.json"),
           "ASTER_DOTENV_FILE": str(workdir / ".env")}
    loader = lambda: load_settings(env=env, cwd=workdir)  # noqa: E731
    store = ConfigStore(loader, loader(), AuditLog(workdir / "dashboard_audit.jsonl"))
    real = configstore.asyncio.to_thread
    configstore.asyncio.to_thread = real if threaded else inline
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            gaps.append(now - last - TICK_S)
            last = now
    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    try:
        for i in range(saves):
            await store.apply({"ASTER_LEVERAGE": 2 + i % 3}, who="bench")
            await asyncio.sleep(0.01)
    finally:
        done.set()
        await ticker
        configstore.asyncio.to_thread = real
    gaps.sort()
    return {"max_ms": gaps[-1] * 1000, "p99_ms": gaps[int(len(gaps) * 0.99)] * 1000,
            "mean_ms": statistics.fmean(gaps) * 1000, "wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=100)
    args = parser.parse_args()
    base = Path(os.environ.get("BENCH_DIR", Path(__file__).resolve().parent.parent))
    results = {}
    for name, threaded in (("on the loop (before)", False), ("worker thread (now)", True)):
        with tempfile.TemporaryDirectory(prefix="mraster-bench-", dir=base) as tmp:
            results[name] = asyncio.run(run(args.saves, Path(tmp), threaded))
    for name, r in results.items():
        print(f"{name:22s} loop stall max {r['max_ms']:7.2f} ms, p99 {r['p99_ms']:6.2f} ms, "
              f"mean {r['mean_ms']:5.2f} ms; {args.saves} saves in {r['wall_s']:.2f} s")
    before, now = results["on the loop (before)"], results["worker thread (now)"]
    print(f"ratio before/now: max stall {before['max_ms'] / max(now['max_ms'], 1e-6):.1f}x, "
          f"p99 {before['p99_ms'] / max(now['p99_ms'], 1e-6):.1f}x")
    print(json.dumps({k: {m: round(v, 3) for m, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    main()
