"""The policy file: exact round trip, atomic JSON without pickle, corrupt and incompatible files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ml_policy import BanditPolicy, PolicyConfig, policy_path_for
from ml_policy.persistence import FORMAT, VERSION

from tests.policy.synth import linear_world, make_ctx


def trained_policy(path: Path, cfg: PolicyConfig, steps: int, seed: int = 2) -> BanditPolicy:
    policy, _ = BanditPolicy.load_or_create(path, cfg)
    world = linear_world(cfg)
    rng = np.random.default_rng(seed)
    for t in range(steps):
        c = make_ctx(rng, t)
        d = policy.decide(c)
        if d.take:
            policy.note_entry(f"t{t}", c, d.effective_arm, shadow_arm=d.arm)
            if t % 7:  # leave some trades open across the save
                policy.note_exit(f"t{t}", world.draw_r(c, rng))
    return policy


def play(policy: BanditPolicy, contexts, outcomes) -> list:
    out = []
    for i, (c, r) in enumerate(zip(contexts, outcomes)):
        d = policy.decide(c)
        out.append((d.to_json(), policy.estimate(c).to_json()))
        if d.take:
            policy.note_entry(f"after{i}", c, d.effective_arm)
            policy.note_exit(f"after{i}", r)
    return out


@pytest.mark.parametrize("enabled", [True, False])
def test_round_trip_gives_identical_decisions(tmp_path, enabled):
    path = tmp_path / "aster_policy.json"
    cfg = PolicyConfig(enabled=enabled, min_trades=10)
    original = trained_policy(path, cfg, 400)
    original.save()
    loaded, warning = BanditPolicy.load_or_create(path, cfg)
    assert warning is None
    assert loaded.pending_trade_ids() == original.pending_trade_ids() != set()
    assert loaded.summary() == original.summary()
    rng = np.random.default_rng(77)
    contexts = [make_ctx(rng, 1000 + i) for i in range(150)]
    outcomes = rng.normal(0.1, 1.0, size=150).tolist()
    assert play(loaded, contexts, outcomes) == play(original, contexts, outcomes)
    # and saving again gives the same document
    original.save(tmp_path / "a.json")
    loaded.save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_file_is_versioned_json_and_small(tmp_path):
    path = tmp_path / "aster_policy.json"
    trained_policy(path, PolicyConfig(), 300).save()
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert set(doc) >= {"config", "features", "linucb", "alpha_model", "rng", "arms", "shadow", "pending"}
    assert path.stat().st_size < 1_000_000
    assert not list(tmp_path.glob(".*.tmp")), "atomic write leaves no temporary file"


@pytest.mark.parametrize("content,tag", [
    (b"{not json", "corrupt"),
    (b"", "corrupt"),
    (b"\xff\xfe garbage", "corrupt"),
    (json.dumps({"format": FORMAT, "version": VERSION, "features": {"names": []}}).encode(), "incompatible"),
    (json.dumps({"format": FORMAT, "version": VERSION + 1}).encode(), "incompatible"),
    (json.dumps({"format": "something-else"}).encode(), "corrupt"),
])
def test_bad_files_are_kept_aside_and_a_fresh_policy_starts(tmp_path, content, tag):
    path = tmp_path / "aster_policy.json"
    path.write_bytes(content)
    policy, warning = BanditPolicy.load_or_create(path, PolicyConfig())
    assert warning and tag in warning and "fresh policy" in warning
    kept = list(tmp_path.glob(f"aster_policy.json.{tag}-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert not path.exists() and policy.decisions == 0
    policy.save()
    assert BanditPolicy.load_or_create(path, PolicyConfig())[1] is None


def test_damaged_statistics_are_detected(tmp_path):
    path = tmp_path / "aster_policy.json"
    trained_policy(path, PolicyConfig(), 100).save()
    doc = json.loads(path.read_text())
    doc["linucb"]["A_inv"][2][0][0] += 5.0   # no longer the inverse of A
    path.write_text(json.dumps(doc))
    _, warning = BanditPolicy.load_or_create(path, PolicyConfig())
    assert "corrupt" in warning and "inverse" in warning


def test_a_different_feature_set_is_incompatible(tmp_path):
    path = tmp_path / "aster_policy.json"
    trained_policy(path, PolicyConfig(), 50).save()
    policy, warning = BanditPolicy.load_or_create(path, PolicyConfig(features=("rsi", "htf_rsi", "side")))
    assert "incompatible" in warning and "ASTER_BANDIT_FEATURES" in warning
    assert policy.features.dim == 4


def test_a_new_lambda_adjusts_the_statistics(tmp_path):
    path = tmp_path / "aster_policy.json"
    saved = trained_policy(path, PolicyConfig(lam=1.0), 200)
    saved.save()
    policy, warning = BanditPolicy.load_or_create(path, PolicyConfig(lam=3.0))
    assert "lambda changed" in warning
    np.testing.assert_allclose(policy.bandit.A, saved.bandit.A + 2.0 * np.eye(16)[None])
    np.testing.assert_allclose(policy.bandit.A_inv, np.linalg.inv(policy.bandit.A), rtol=1e-9)


def test_policy_path_is_next_to_the_state_file(tmp_path):
    assert policy_path_for(tmp_path / "run" / "aster_state.json") == tmp_path / "run" / "aster_policy.json"
    assert policy_path_for("aster_state.json") == Path("aster_policy.json")


def test_save_needs_a_path_when_created_in_memory():
    with pytest.raises(ValueError, match="path"):
        BanditPolicy(PolicyConfig()).save()
