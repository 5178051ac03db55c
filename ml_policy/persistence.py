"""The policy file (`aster_policy.json`, next to the state file): versioned JSON, no pickle.

Layout (docs/policy.md has it field by field):
  {"format": "mraster-policy", "version": 1, "config": {...}, "features": {...scaler...},
   "linucb": {"lambda", "dim", "A", "A_inv", "b", "pulls"}, "alpha_model": {...}, "rng": {...},
   "decisions": n, "arms": {arm: counters}, "shadow": {...}, "pending": {trade_id: entry}}
Floats are written with Python's shortest round-trip repr, so a save/load round trip is bit-exact
and a loaded policy decides exactly as the saved one would have. A file that cannot be read is
moved aside (`.corrupt-<time>`), one written for another feature set or format version is moved
aside (`.incompatible-<time>`); either way a fresh policy starts and the caller gets a warning.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mraster.logs import get_logger
from mraster.storage.atomic import quarantine, write_json_atomic

from ml_policy.alpha import AlphaModel
from ml_policy.config import ARMS, TRADE_ARMS, PolicyConfig
from ml_policy.features import FeatureMap
from ml_policy.linucb import linucb_from_json, linucb_to_json
from ml_policy.policy import BanditPolicy, PendingTrade
from ml_policy.stats import stats_from_json

FORMAT = "mraster-policy"
VERSION = 1
POLICY_FILE_NAME = "aster_policy.json"
log = get_logger("ml_policy")


class IncompatiblePolicyFile(ValueError):
    """A readable policy file written for another format version or feature set."""


def policy_path_for(state_file: str | Path) -> Path:
    """The policy file lives next to the state file: <dir of ASTER_STATE_FILE>/aster_policy.json."""
    return Path(state_file).parent / POLICY_FILE_NAME


def to_document(policy: BanditPolicy) -> dict[str, Any]:
    return {
        "format": FORMAT, "version": VERSION,
        "config": policy.cfg.to_json(),
        "features": policy.features.to_json(),
        "linucb": linucb_to_json(policy.bandit),
        "alpha_model": policy.alpha_model.to_json(),
        "rng": policy.rng.bit_generator.state,
        "decisions": policy.decisions,
        "arms": {arm: policy.arm_stats[arm].to_json() for arm in ARMS},
        "shadow": policy.shadow_stats.to_json(),
        "pending": {tid: p.to_json() for tid, p in policy.pending.items()},
    }


def from_document(doc: Any, cfg: PolicyConfig) -> tuple[BanditPolicy, str | None]:
    """Rebuild a policy. IncompatiblePolicyFile for another version/feature set, ValueError if broken."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} document")
    if doc.get("version") != VERSION:
        raise IncompatiblePolicyFile(f"format version {doc.get('version')!r}, this build reads {VERSION}")
    names = tuple(doc["features"]["names"])
    if names != cfg.features:
        raise IncompatiblePolicyFile(f"saved for features {','.join(names)}; ASTER_BANDIT_FEATURES now selects "
                                     f"{','.join(cfg.features)}")
    policy = BanditPolicy(cfg)
    policy.features = FeatureMap.from_json(doc["features"])
    policy.bandit = linucb_from_json(doc["linucb"], len(ARMS))
    if policy.bandit.dim != policy.features.dim:
        raise ValueError("LinUCB dimension does not match the feature list")
    policy.alpha_model = AlphaModel.from_json(doc["alpha_model"])
    if policy.alpha_model.feature_names != names:
        raise ValueError("alpha model features do not match the feature list")
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = doc["rng"]
    policy.rng = rng
    policy.decisions = int(doc["decisions"])
    policy.arm_stats, policy.shadow_stats = stats_from_json(doc)
    policy.pending = {str(tid): _pending_from_json(raw, policy.features.dim)
                      for tid, raw in doc["pending"].items()}
    warning = None
    if policy.bandit.lam != cfg.lam:
        warning = f"policy: ridge lambda changed from {policy.bandit.lam} to {cfg.lam}; statistics adjusted"
        policy.bandit.set_lambda(cfg.lam)
    return policy, warning


def _pending_from_json(raw: dict[str, Any], dim: int) -> PendingTrade:
    x = [float(v) for v in raw["x"]]
    if len(x) != dim or not np.all(np.isfinite(x)):
        raise ValueError(f"pending entry needs {dim} finite features")
    if raw["arm"] not in TRADE_ARMS or raw["shadow_arm"] not in (None, *ARMS):
        raise ValueError(f"pending entry has bad arm {raw['arm']!r}/{raw['shadow_arm']!r}")
    return PendingTrade(x, raw["arm"], float(raw["size_mult"]), raw["shadow_arm"], str(raw["symbol"]),
                        int(raw["time_ms"]))


def read_policy_file(path: Path, cfg: PolicyConfig) -> tuple[BanditPolicy, str | None]:
    """Load without touching the file (for `policy show`). FileNotFoundError, ValueError on problems."""
    text = path.read_bytes().decode("utf-8")
    if not text.strip():
        raise ValueError("the file is empty")
    policy, warning = from_document(json.loads(text), cfg)
    policy.path = path
    return policy, warning


def load_or_create(path: Path, cfg: PolicyConfig) -> tuple[BanditPolicy, str | None]:
    try:
        policy, warning = read_policy_file(path, cfg)
    except FileNotFoundError:
        policy = BanditPolicy(cfg)
        policy.path = path
        return policy, None
    except IncompatiblePolicyFile as exc:
        warning = _reset(path, "incompatible", str(exc))
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        warning = _reset(path, "corrupt", f"{type(exc).__name__}: {exc}")
    else:
        if warning:
            log.warning("policy.adjusted", warning, path=str(path))
        return policy, warning
    policy = BanditPolicy(cfg)
    policy.path = path
    return policy, warning


def _reset(path: Path, tag: str, reason: str) -> str:
    moved = quarantine(path, tag)
    warning = (f"policy file {path} is {tag} ({reason}); kept aside as {moved.name}; "
               "a fresh policy starts learning from zero")
    log.warning("policy.file_reset", warning, path=str(path), kept_as=str(moved))
    return warning


def save(policy: BanditPolicy, path: Path) -> None:
    write_json_atomic(path, to_document(policy), indent=None)
