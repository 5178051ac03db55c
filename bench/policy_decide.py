"""Benchmark: BanditPolicy.decide and note_exit with 16 features x 4 arms; memory per policy.

Targets (issue 6): under 100 microseconds per call each; under 1 MB per policy.
Baseline in the same run: the textbook computation that inverts A for every arm at every
decision instead of keeping A^-1 up to date (Sherman-Morrison).
Run: python3 bench/policy_decide.py  (timings are noisy on a shared machine).
"""
from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_policy import BanditPolicy, PolicyConfig  # noqa: E402
from tests.policy.synth import linear_world, make_ctx  # noqa: E402

WARM = 2000      # decisions and closed trades before timing, so statistics are not trivial
N = 20000        # timed calls per figure
ROUND = 200      # calls per timed round: short rounds, so some run undisturbed by other processes


def warm_policy(seed: int = 1) -> BanditPolicy:
    cfg = PolicyConfig(seed=seed)
    policy, world, rng = BanditPolicy(cfg), linear_world(cfg), np.random.default_rng(seed)
    for t in range(WARM):
        c = make_ctx(rng, t)
        d = policy.decide(c)
        if d.take:
            policy.note_entry(f"w{t}", c, d.effective_arm)
            policy.note_exit(f"w{t}", world.draw_r(c, rng))
    policy.alpha_model.sync()
    return policy


def per_call_us(fn, items) -> float:
    """Mean microseconds per call over a tight loop (garbage collection paused)."""
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for item in items:
            fn(item)
        mean = (time.perf_counter_ns() - start) / len(items) / 1000
    finally:
        gc.enable()
    return mean


def timed_each(fn, items) -> tuple[float, float]:
    """(median, 99th percentile) microseconds of individually timed calls."""
    samples = []
    gc.disable()
    try:
        for item in items:
            t0 = time.perf_counter_ns()
            fn(item)
            samples.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(0.99 * len(samples))] / 1000


def naive_scores(policy: BanditPolicy, x: np.ndarray) -> np.ndarray:
    """The baseline: invert A of every arm for every decision."""
    out = np.empty(4)
    for arm in range(4):
        A_inv = np.linalg.inv(policy.bandit.A[arm])
        theta = A_inv @ policy.bandit.b[arm]
        out[arm] = theta @ x + policy.cfg.alpha * np.sqrt(x @ A_inv @ x)
    return out


def main() -> None:
    policy = warm_policy()
    dim = policy.features.dim
    rng = np.random.default_rng(7)
    contexts = [make_ctx(rng, 100_000 + i) for i in range(N)]
    print(f"policy: {dim} dimensions (bias + {dim - 1} features) x 4 arms, warmed with {WARM} decisions; "
          f"{N} timed calls per figure; pid {os.getpid()}, {os.cpu_count()} cpus (shared machine: noisy)")

    decide_rounds = [per_call_us(policy.decide, contexts[i:i + ROUND]) for i in range(0, N, ROUND)]
    decide_med, decide_p99 = timed_each(policy.decide, contexts[: N // 4])

    # note_exit needs entered trades: enter a round of them (untimed), then time their exits
    round_size = ROUND                     # far below the policy's cap on pending entries
    outcomes = rng.normal(0.1, 1.0, N).tolist()
    exit_rounds = []
    for start in range(0, N, round_size):
        batch = [(f"b{i}", contexts[i], outcomes[i]) for i in range(start, min(start + round_size, N))]
        for tid, c, _ in batch:
            policy.note_entry(tid, c, "M")
        if start == 0:                     # the first round timed call by call
            exit_med, exit_p99 = timed_each(lambda item: policy.note_exit(item[0], item[2]), batch)
            continue
        exit_rounds.append(per_call_us(lambda item: policy.note_exit(item[0], item[2]), batch))

    # the deferred alpha-model training a closed trade costs later (first estimate after the exit)
    queued = policy.alpha_model.queued
    t0 = time.perf_counter_ns()
    policy.alpha_model.sync()
    batch_us = (time.perf_counter_ns() - t0) / 1000
    single = []
    for _ in range(50):
        policy.alpha_model.learn(np.zeros(dim - 1), 0.1)
        t0 = time.perf_counter_ns()
        policy.alpha_model.sync()
        single.append((time.perf_counter_ns() - t0) / 1000)
    est_mean = per_call_us(policy.estimate, contexts[:5000])

    x = policy.features.transform(policy.features.select(contexts[0]))
    inc_mean = per_call_us(lambda _: policy.bandit.scores(x, 0.6), range(5000))
    naive_mean = per_call_us(lambda _: naive_scores(policy, x), range(5000))

    print(f"per call, microseconds, over {N // ROUND} rounds of {ROUND} calls: best round (least disturbed by "
          "other processes), median round, mean; then median and p99 of individually timed calls")
    for name, rounds, med, p99 in (("decide", decide_rounds, decide_med, decide_p99),
                                   ("note_exit", exit_rounds, exit_med, exit_p99)):
        best, typical, mean = min(rounds), statistics.median(rounds), statistics.fmean(rounds)
        verdict = "OK" if typical < 100 else "OK in the best round" if best < 100 else "MISSED"
        print(f"{name:<10} best {best:6.1f}   median round {typical:6.1f}   mean {mean:6.1f}   "
              f"| single calls: median {med:6.1f}  p99 {p99:8.1f}   target < 100: {verdict}")
    print(f"alpha training deferred from note_exit: {batch_us / max(queued, 1):.1f} us per trade in a batch of "
          f"{queued}; {statistics.median(single):.0f} us when one trade is trained alone")
    print(f"estimate      mean {est_mean:7.1f} us")
    print(f"LinUCB scores: incremental A^-1 {inc_mean:.1f} us vs inverting A per decision {naive_mean:.1f} us "
          f"(ratio {naive_mean / inc_mean:.1f}x)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "aster_policy.json"
        policy.save(path)
        size = path.stat().st_size
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = warm_policy(seed=2)
    after = tracemalloc.take_snapshot()
    retained = sum(s.size_diff for s in after.compare_to(before, "filename"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"memory per policy: {retained / 1024:.0f} KiB retained after {WARM} decisions (tracemalloc), "
          f"peak while learning {peak / 1024:.0f} KiB; saved file {size / 1024:.0f} KiB   "
          f"target < 1 MB: {'OK' if max(retained, size) < 1_000_000 else 'MISSED'}")
    del kept


if __name__ == "__main__":
    main()
