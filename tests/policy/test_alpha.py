"""The alpha model: honest before it has learned, useful after, rebuilt exactly without pickle."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ml_policy import BanditPolicy, EdgeEstimate, PolicyConfig
from ml_policy.alpha import AlphaModel

from tests.policy.synth import linear_world, make_ctx


def test_below_min_trades_it_says_so_instead_of_guessing(ctx):
    policy = BanditPolicy(PolicyConfig(min_trades=30))
    est = policy.estimate(ctx)
    assert isinstance(est, EdgeEstimate)
    assert not est.confident and est.expected_r is None and est.win_prob is None
    assert est.message == "learning: 0 of 30 trades" and est.n_trades == 0
    for i in range(12):
        policy.note_entry(f"t{i}", ctx, "M")
        policy.note_exit(f"t{i}", 1.0)
    est = policy.estimate(ctx)
    assert est.message == "learning: 12 of 30 trades" and not est.confident
    assert json.loads(json.dumps(est.to_json()))["n_trades"] == 12
    hints = policy.hints(ctx)
    assert hints["confident"] is False and hints["message"] == "learning: 12 of 30 trades"


def test_after_learning_it_ranks_signals_and_names_the_driving_features():
    cfg = PolicyConfig(min_trades=30)
    policy = BanditPolicy(cfg)
    world = linear_world(cfg, noise=0.5)
    rng = np.random.default_rng(4)
    for t in range(1500):
        c = make_ctx(rng, t)
        policy.decide(c)                       # the scaler sees every candidate, as in the bot
        policy.note_entry(f"t{t}", c, "M")
        policy.note_exit(f"t{t}", world.draw_r(c, rng))
    tests = [make_ctx(rng, 5000 + i) for i in range(400)]
    estimates = [policy.estimate(c) for c in tests]
    assert all(e.confident and e.n_trades == 1500 for e in estimates)
    predicted = np.array([e.expected_r for e in estimates])
    truth = np.array([world.expected_r(c) for c in tests])
    assert np.corrcoef(predicted, truth)[0, 1] > 0.8
    assert abs(predicted.mean() - truth.mean()) < 0.2
    wins = np.array([e.win_prob for e in estimates])
    assert np.all((wins > 0) & (wins < 1))
    assert wins[truth > 0.5].mean() > wins[truth < -0.5].mean() + 0.2
    # rsi carries the largest weight of the world: it must lead the list for strong-momentum signals
    top_names = [e.top_features[0][0] for e in estimates]
    assert top_names.count("rsi") > len(top_names) / 3
    first = estimates[0]
    assert len(first.top_features) == 3 and first.message.startswith("expected ")
    # "top features" are the three largest |coef_i * z_i| of the expected-R model, with their sign
    contrib = policy.alpha_model.regressor.coef_ * policy.features.transform(policy.features.select(tests[0]))[1:]
    order = np.argsort(-np.abs(contrib))[:3]
    assert first.top_features == [(policy.features.names[i], pytest.approx(contrib[i])) for i in order]


def test_rebuilt_model_continues_exactly_like_the_original():
    rng = np.random.default_rng(9)
    names = tuple(f"f{i}" for i in range(5))
    original = AlphaModel(names)
    data = [(rng.normal(size=5), float(rng.normal())) for _ in range(80)]
    for z, r in data[:40]:
        original.learn(z, r)
    rebuilt = AlphaModel.from_json(json.loads(json.dumps(original.to_json())))
    for z, r in data[40:]:
        original.learn(z, r)
        rebuilt.learn(z, r)
    probe = rng.normal(size=5)
    a, b = original.estimate(probe, 1), rebuilt.estimate(probe, 1)
    assert a == b and a.n_trades == 80
    np.testing.assert_array_equal(original.classifier.coef_, rebuilt.classifier.coef_)


def test_queued_training_equals_one_call_per_trade():
    rng = np.random.default_rng(10)
    batched, single = AlphaModel(("a", "b", "c")), AlphaModel(("a", "b", "c"))
    for _ in range(60):
        z, r = rng.normal(size=3), float(rng.normal())
        batched.learn(z, r)
        single.learn(z, r)
        single.sync()
    batched.sync()
    np.testing.assert_allclose(batched.regressor.coef_, single.regressor.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(batched.classifier.coef_, single.classifier.coef_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("damage", [{"wins": 5, "n_trades": 2}, {"regressor": {"coef": [1.0], "intercept": [0.0],
                                                                              "t": 1.0, "n_iter": 1}}])
def test_inconsistent_saved_model_is_rejected(damage):
    model = AlphaModel(("a", "b"))
    model.learn(np.array([1.0, 2.0]), 1.0)
    doc = {**model.to_json(), **damage}
    with pytest.raises(ValueError):
        AlphaModel.from_json(doc)
