"""Offline replay evaluation on cases whose answer is known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ml_policy import ARMS, PolicyConfig, SignalContext
from ml_policy.evaluate import FixedArm, ReplayBandit, evaluate, logging_verdict, mean_ci, replay
from ml_policy.eventlog import LoggedEvent

from tests.policy.synth import make_ctx

MULTS = {"SKIP": 0.0, "S": 1.0, "M": 1.4, "L": 1.9}


def event(i: int, ctx: SignalContext, arm: str, r: float | None, propensity: float | None) -> LoggedEvent:
    reward = 0.0 if arm == "SKIP" else (None if r is None else r * MULTS[arm])
    return LoggedEvent(f"e{i}", ctx.time_ms, ctx, arm, propensity, MULTS[arm],
                       None if arm == "SKIP" else r, reward)


def side_world_log(n: int, seed: int, pick) -> list[LoggedEvent]:
    """R = +1 for longs, -1 for shorts (no noise); `pick(ctx, rng) -> (arm, propensity)` is the logger."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = make_ctx(rng, i)
        arm, p = pick(c, rng)
        out.append(event(i, c, arm, float(c.side), p))
    return out


def uniform(ctx, rng):
    return ARMS[int(rng.integers(4))], 0.25


class LongsLargeShortsSkip:
    name = "longs-L-shorts-SKIP"

    def choose(self, ctx):
        return "L" if ctx.side > 0 else "SKIP"

    def accept(self, arm, reward):
        pass

    def reject(self):
        pass


def test_hand_computed_replay(rng):
    cs = [make_ctx(rng, i) for i in range(6)]
    log = [event(0, cs[0], "M", 1.0, 1.0), event(1, cs[1], "SKIP", None, 1.0), event(2, cs[2], "M", -0.5, 1.0),
           event(3, cs[3], "L", 2.0, 1.0), event(4, cs[4], "M", 0.25, 1.0), event(5, cs[5], "SKIP", None, 1.0)]
    m = replay(log, FixedArm("M"))
    rewards = [1.4, -0.7, 0.35]
    assert (m.events, m.matched) == (6, 3)
    assert m.mean == pytest.approx(sum(rewards) / 3)
    half = 1.959963984540054 * np.std(rewards, ddof=1) / math.sqrt(3)
    assert (m.ci_low, m.ci_high) == (pytest.approx(m.mean - half), pytest.approx(m.mean + half))
    skip = replay(log, FixedArm("SKIP"))
    assert (skip.matched, skip.mean, skip.ci_low, skip.ci_high) == (2, 0.0, 0.0, 0.0)
    assert replay(log, FixedArm("S")).matched == 0 and replay(log, FixedArm("S")).mean is None
    assert mean_ci([2.0]) == (2.0, None, None)


def test_uniform_logging_recovers_a_known_policy_value():
    log = side_world_log(6000, 1, uniform)
    est = replay(log, LongsLargeShortsSkip())
    truth = 0.5 * 1.9          # half the signals are longs earning 1.9, shorts are skipped (0)
    assert est.ci_low < truth < est.ci_high
    assert est.mean == pytest.approx(truth, abs=0.08)
    assert est.matched == pytest.approx(6000 / 4, rel=0.1)
    always_m = replay(log, FixedArm("M"))
    assert always_m.ci_low < 0.0 < always_m.ci_high            # 1.4 x E[R] = 0 on balanced sides
    assert est.ips_mean == pytest.approx(est.mean)            # uniform propensities: the same number


def test_the_learning_policy_approaches_the_optimum_under_uniform_logging():
    cfg = PolicyConfig(seed=3)
    report = evaluate(side_world_log(8000, 2, uniform), cfg)
    assert report["logging"] == "uniform" and "unbiased" in report["validity"]
    policy, m, skip = (report["replay"][k] for k in ("policy", "always_M", "always_SKIP"))
    assert policy["mean"] > m["ci_high"] and policy["mean"] > 0.0 == skip["mean"]
    assert policy["mean"] > 0.75                              # the optimum is 0.95
    assert policy["matched"] > 1500 and skip["matched"] == report["logged_arms"]["SKIP"]


def test_ips_corrects_a_context_dependent_logger():
    def favour_long_large(ctx, rng):
        p_l = 0.7 if ctx.side > 0 else 0.1
        others = (1 - p_l) / 3
        arm = rng.choice(ARMS, p=[others, others, others, p_l])
        return str(arm), p_l if arm == "L" else others
    log = side_world_log(8000, 3, favour_long_large)
    est = replay(log, FixedArm("L"))
    assert est.mean > 1.0                  # plain replay: mostly long L trades, biased upwards
    assert est.ips_mean == pytest.approx(0.0, abs=0.1)   # always-L truly earns 1.9 x E[R] = 0
    assert logging_verdict(log)[0] == "randomised"


def test_deterministic_logs_are_flagged_and_bucket_scaling_compares_paired():
    log = side_world_log(3000, 4, lambda ctx, rng: ("M", 1.0))
    report = evaluate(log, PolicyConfig(seed=1))
    assert report["logging"] == "deterministic" and "not an unbiased" in report["validity"]
    assert report["replay"]["always_M"]["matched"] == 3000
    assert report["replay"]["always_SKIP"]["matched"] == 0
    b = report["bucket_scaling"]
    assert b["events"] == 3000
    assert b["always_M"]["mean"] == pytest.approx(1.4 * np.mean([e.r_multiple for e in log]))
    assert b["difference"]["ci_low"] > 0.5      # learns L for longs, SKIP for shorts
    assert b["policy_picks"]["L"] > 1000 and b["policy_picks"]["SKIP"] > 1000


def test_open_trades_are_counted_but_not_replayed(rng):
    cs = [make_ctx(rng, i) for i in range(3)]
    log = [event(0, cs[0], "M", 1.0, None), event(1, cs[1], "M", None, None), event(2, cs[2], "SKIP", None, None)]
    report = evaluate(log, PolicyConfig())
    assert (report["events"], report["resolved"], report["unresolved"]) == (3, 2, 1)
    assert report["logging"] == "unknown"
    assert report["replay"]["always_M"]["ips_mean"] is None


def test_replay_bandit_forgets_rejected_contexts(rng):
    bandit = ReplayBandit(PolicyConfig())
    before = bandit.features.mean.copy()
    bandit.choose(make_ctx(rng, 0))
    bandit.reject()
    np.testing.assert_array_equal(bandit.features.mean, before)
    bandit.choose(make_ctx(rng, 1))
    bandit.accept("M", 1.0)
    assert bandit.bandit.pulls.tolist() == [0, 0, 1, 0] and not np.array_equal(bandit.features.mean, before)
