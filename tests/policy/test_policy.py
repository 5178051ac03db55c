"""BanditPolicy behaviour: learning arithmetic, the bot's calls, shadow mode, regret on a linear world."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from ml_policy import ARMS, BanditPolicy, ContextError, PolicyConfig
from ml_policy.policy import MAX_PENDING, R_CLIP

from tests.policy.synth import linear_world, make_ctx


def arm_index(arm: str) -> int:
    return ARMS.index(arm)


def test_reward_is_r_times_the_bucket_multiplier_taken_at_entry(ctx):
    policy = BanditPolicy(PolicyConfig(size_mults={"S": 1.0, "M": 1.4, "L": 1.9}))
    d = policy.decide(ctx)
    x = np.array([1.0, *d.features.values()])
    policy.note_entry("t1", ctx, "L")
    policy.apply_config(policy.cfg.with_values(size_mults={"S": 1.0, "M": 1.4, "L": 3.0}))
    assert policy.note_exit("t1", 0.5)
    np.testing.assert_allclose(policy.bandit.b[arm_index("L")], 0.5 * 1.9 * x)  # multiplier at entry
    assert policy.arm_stats["L"].reward_sum == pytest.approx(0.95)
    assert policy.alpha_model.n_trades == 1 and policy.alpha_model.r_sum == 0.5  # alpha learns raw R


def test_enacted_skip_learns_zero_at_decision_and_shadow_skip_does_not(rng):
    active = BanditPolicy(PolicyConfig(alpha=0.0, seed=1))
    # make every trading arm look bad so SKIP (mean 0) wins
    for i in range(3):
        c = make_ctx(rng, i)
        active.decide(c)
        for arm in ("S", "M", "L"):
            active.note_entry(f"{arm}{i}", c, arm)
            active.note_exit(f"{arm}{i}", -1.0)
    before = int(active.bandit.pulls[0])
    c = make_ctx(rng, 10)
    d = active.decide(c)
    assert d.arm == d.effective_arm == "SKIP" and not d.take
    assert active.bandit.pulls[0] == before + 1
    np.testing.assert_array_equal(active.bandit.b[0], 0.0)
    assert active.arm_stats["SKIP"].taken == active.arm_stats["SKIP"].rewarded == before + 1

    shadow = BanditPolicy(PolicyConfig(alpha=0.0, seed=1, enabled=False))
    for i in range(3):
        c = make_ctx(rng, 20 + i)
        shadow.decide(c)
        for arm in ("S", "M", "L"):
            shadow.note_entry(f"{arm}{i}", c, arm)
            shadow.note_exit(f"{arm}{i}", -1.0)
    d = shadow.decide(make_ctx(rng, 30))
    assert d.arm == "SKIP" and d.effective_arm == "M" and d.shadow and d.take
    assert shadow.bandit.pulls[0] == 0
    assert shadow.shadow_stats.decisions["SKIP"] >= 1


def test_shadow_mode_records_what_the_policy_would_have_done(rng):
    cfg = PolicyConfig(enabled=False, seed=4)
    policy = BanditPolicy(cfg)
    world = linear_world(cfg)
    wanted, fixed, agreed, would = {a: 0 for a in ARMS}, 0.0, 0.0, 0.0
    for t in range(200):
        c = make_ctx(rng, t)
        d = policy.decide(c)
        assert d.effective_arm == "M" and d.shadow and d.propensity == 1.0 and d.size_mult == 1.4
        wanted[d.arm] += 1
        policy.note_entry(f"t{t}", c, d.effective_arm, shadow_arm=d.arm)
        r = world.draw_r(c, rng)
        policy.note_exit(f"t{t}", r)
        fixed += 1.4 * r
        agreed += 1.4 * r if d.arm == "M" else 0.0
        would += r * cfg.size_mult(d.arm)
    s = policy.summary()
    assert s["mode"] == "shadow"
    assert s["shadow"]["decisions"] == wanted
    assert s["shadow"]["closed"] == 200
    assert s["shadow"]["fixed_reward_sum"] == pytest.approx(fixed)
    assert s["shadow"]["agreed_reward_sum"] == pytest.approx(agreed)
    assert s["shadow"]["would_reward_sum"] == pytest.approx(would)
    assert s["shadow"]["agreed"] == wanted["M"]
    # learning happens only on the arm actually taken
    assert policy.bandit.pulls.tolist() == [0, 0, 200, 0]
    # on this world (positive mean edge, learnable) the policy would have done better than fixed M
    assert would > fixed


def test_a_rescanned_signal_candle_gets_its_first_decision_and_learns_once(rng):
    policy = BanditPolicy(PolicyConfig(alpha=0.0, seed=2))
    c = make_ctx(rng, 0)
    for arm in ("S", "M", "L"):               # every bucket looks bad: SKIP wins on this candle
        policy.note_entry(arm, c, arm)
        policy.note_exit(arm, -1.0)
    first = policy.decide(c)
    assert first.arm == "SKIP"
    scan_again = c.__class__(**{**c.to_json(), "spread_frac": c.spread_frac * 2, "funding_rate": 0.0})
    assert policy.decide(scan_again) == first
    assert policy.decisions == 1 and int(policy.bandit.pulls[0]) == 1
    assert float(policy.features.count[0]) == 21.0          # the standardisation saw the candle once
    later = c.__class__(**{**c.to_json(), "time_ms": c.time_ms + 300_000})
    policy.decide(later)
    assert policy.decisions == 2


def test_unknown_and_repeated_exits_are_reported_not_crashes(ctx, caplog):
    policy = BanditPolicy(PolicyConfig())
    policy.decide(ctx)
    with caplog.at_level(logging.WARNING, logger="ml_policy"):
        assert policy.note_exit("never-entered", 1.0) is False
        policy.note_entry("t1", ctx, "M")
        assert policy.note_exit("t1", float("nan")) is False     # stays pending
        assert policy.pending_trade_ids() == {"t1"}
        assert policy.note_exit("t1", 0.3) is True
        assert policy.note_exit("t1", 0.3) is False              # already credited
    events = [r.event for r in caplog.records]
    assert events.count("policy.unknown_trade") == 2 and "policy.bad_reward" in events
    assert int(policy.bandit.pulls.sum()) == 1


def test_unknown_exit_with_the_bots_record_is_credited(ctx):
    policy = BanditPolicy(PolicyConfig())
    assert policy.note_exit("lost", 1.0, context=ctx, arm="S") is True
    assert policy.bandit.pulls.tolist() == [0, 1, 0, 0]


def test_reconciliation_sees_pending_trades_across_a_restart(tmp_path, rng):
    path = tmp_path / "aster_policy.json"
    policy, warning = BanditPolicy.load_or_create(path, PolicyConfig())
    assert warning is None
    contexts = [make_ctx(rng, i) for i in range(3)]
    for i, c in enumerate(contexts):
        policy.decide(c)
        policy.note_entry(f"t{i}", c, "M")
    policy.save()
    restarted, _ = BanditPolicy.load_or_create(path, PolicyConfig())
    assert restarted.pending_trade_ids() == {"t0", "t1", "t2"}
    assert restarted.note_exit("t1", -1.0) and restarted.drop_entry("t2") and not restarted.drop_entry("t2")
    assert restarted.pending_trade_ids() == {"t0"}


def test_extreme_rewards_are_clipped_and_bad_calls_rejected(ctx, caplog):
    policy = BanditPolicy(PolicyConfig())
    policy.decide(ctx)
    policy.note_entry("t", ctx, "S")
    with caplog.at_level(logging.WARNING, logger="ml_policy"):
        assert policy.note_exit("t", -1e6)
    assert policy.arm_stats["S"].reward_sum == -R_CLIP
    assert any(r.event == "policy.reward_clipped" for r in caplog.records)
    with pytest.raises(ValueError, match="entry arm"):
        policy.note_entry("u", ctx, "SKIP")
    with pytest.raises(ValueError, match="trade_id"):
        policy.note_entry("", ctx, "M")


def test_pending_entries_are_bounded(rng):
    policy = BanditPolicy(PolicyConfig())
    c = make_ctx(rng, 0)
    for i in range(MAX_PENDING + 5):
        policy.note_entry(f"t{i:05d}", c.__class__(**{**c.to_json(), "time_ms": c.time_ms + i}), "M")
    assert len(policy.pending_trade_ids()) == MAX_PENDING
    assert "t00000" not in policy.pending_trade_ids() and f"t{MAX_PENDING + 4:05d}" in policy.pending_trade_ids()


@pytest.mark.parametrize("field,value", [("rsi", float("nan")), ("rsi", 120.0), ("atr_frac", 0.0),
                                         ("side", 0), ("funding_rate", float("inf")), ("time_ms", -5)])
def test_bad_contexts_are_refused_before_anything_is_learned(ctx, field, value):
    policy = BanditPolicy(PolicyConfig())
    bad = ctx.__class__(**{**ctx.to_json(), field: value})
    with pytest.raises(ContextError, match=field):
        policy.decide(bad)
    assert policy.decisions == 0 and float(policy.features.count[0]) == 20.0


def test_apply_config_takes_live_values_and_defers_the_rest():
    policy = BanditPolicy(PolicyConfig(alpha=0.6))
    assert policy.apply_config(PolicyConfig(alpha=1.2, enabled=False)) is None
    assert policy.cfg.alpha == 1.2 and not policy.cfg.enabled
    warning = policy.apply_config(PolicyConfig(features=("rsi", "side"), lam=2.0))
    assert "restart" in warning and policy.cfg.features == policy.features.names and policy.cfg.lam == 1.0


def run_world(T: int, seed: int = 0) -> dict[str, np.ndarray]:
    cfg = PolicyConfig(seed=seed)
    policy = BanditPolicy(cfg)
    world = linear_world(cfg)
    rng = np.random.default_rng(1000 + seed)
    regret, reward, always_m = np.zeros(T), np.zeros(T), np.zeros(T)
    for t in range(T):
        c = make_ctx(rng, t)
        d = policy.decide(c)
        regret[t] = world.best_reward(c) - world.expected_reward(c, d.effective_arm)
        reward[t] = world.expected_reward(c, d.effective_arm)
        always_m[t] = world.expected_reward(c, "M")
        if d.take:
            policy.note_entry(f"t{t}", c, d.effective_arm)
            policy.note_exit(f"t{t}", world.draw_r(c, rng))
    return {"regret": np.cumsum(regret), "reward": reward, "always_m": always_m, "dim": policy.features.dim}


def test_regret_is_sublinear_and_the_policy_beats_fixed_arms():
    T = 3000
    run = run_world(T)
    assert run["dim"] == 16, "the test uses the real feature dimension"
    regret = run["regret"]
    per_step = [regret[n - 1] / n for n in (375, 750, 1500, 3000)]
    assert all(a > b for a, b in zip(per_step, per_step[1:])), per_step   # regret(T)/T decreasing
    assert regret[-1] < 0.7 * 4 * regret[750 - 1], (regret[-1], regret[749])  # well under 4x at 4T
    assert run["reward"].sum() > run["always_m"].sum()
    assert run["reward"].sum() > 0.0                                      # always-SKIP earns exactly 0
    late = slice(T // 2, T)
    assert run["reward"][late].mean() > 0.7 * np.maximum(run["always_m"][late] / 1.4 * 1.9, 0).mean()
