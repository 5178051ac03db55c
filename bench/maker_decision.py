"""Coordinator decision (market data in, instructions out): p50/p99 of one round of `maker.logic.decide`
plus turning its instructions into signed wire bodies, over seeded random states. Baseline in the same run:
parsing one bookTicker WebSocket message (JSON) into the book the decision reads.

    python3 bench/maker_decision.py [N]
"""
from __future__ import annotations

import json
import random
import sys
import time
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maker.coordinator import to_wire                      # noqa: E402
from maker.logic import Book, CycleState, ExecView, Params, Resting, decide   # noqa: E402
from mraster.domain.ownership import OrderIds               # noqa: E402
from mraster.domain.signed import headers                    # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main(n: int = 20_000) -> None:
    rng = random.Random(3)
    ids, params = OrderIds("maker"), Params()
    states = []
    for _ in range(n):
        bid = D(str(round(rng.uniform(60_000, 110_000), 1)))
        book = Book(bid, bid + D("0.1"))
        views = {s: ExecView(s, D(rng.randint(-50, 50)) * D("0.001"), D("5000"),
                             tuple(Resting(f"maker:{s}.mk.{k}", rng.choice(("BUY", "SELL")), D("0.002"), bid)
                                   for k in range(rng.randint(0, 3)))) for s in ("B", "C")}
        states.append((CycleState(rng.choice((1, 2)), 0), book, views))
    msg = json.dumps({"e": "bookTicker", "u": 1, "s": "BTCUSDT", "b": "100000.0", "B": "1.2", "a": "100000.1",
                      "A": "0.8", "T": 1, "E": 1})
    decide_t, cpu_t, base_t, count = [], [], [], 0
    for state, book, views in states:
        t, c = time.perf_counter(), time.thread_time()
        d = decide(state, book, views, params, 0, lambda: rng.uniform(0, 5), ids)
        for ins in d.instructions:
            body = to_wire(ins).body()
            headers("secret", 0, body)
        cpu_t.append(time.thread_time() - c)
        decide_t.append(time.perf_counter() - t)
        count += len(d.instructions)
        t = time.perf_counter()
        m = json.loads(msg)
        Book(D(m["b"]), D(m["a"]))
        base_t.append(time.perf_counter() - t)
    p50, p99 = pct(decide_t, 0.5) * 1e6, pct(decide_t, 0.99) * 1e6
    b50, b99 = pct(base_t, 0.5) * 1e6, pct(base_t, 0.99) * 1e6
    print(f"decisions: {n}, instructions out: {count} ({count / n:.2f} per round)")
    print(f"decide + sign: p50 {p50:.1f} us, p90 {pct(decide_t, 0.9) * 1e6:.1f} us, p99 {p99:.1f} us (wall clock)")
    print(f"decide + sign, CPU time of the thread (no preemption by other processes): p50 "
          f"{pct(cpu_t, 0.5) * 1e6:.1f} us, p99 {pct(cpu_t, 0.99) * 1e6:.1f} us")
    print(f"baseline (parse one bookTicker message): p50 {b50:.1f} us, p99 {b99:.1f} us")
    print(f"ratio p50: {p50 / b50:.1f}x, p99 (wall): {p99 / b99:.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
