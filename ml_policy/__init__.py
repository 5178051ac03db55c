"""LinUCB bandit for trade admission and size buckets, plus the alpha model (docs/policy.md).

The public surface the bot uses; everything else is internal and may change. Names are
loaded on first use, so `mraster` subcommands that only register `policy` (every process
does) do not pay for importing numpy and scikit-learn.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ARMS": "config", "PolicyConfig": "config",
    "SignalContext": "context",
    "FEATURE_NAMES": "features", "ContextError": "features",
    "EdgeEstimate": "alpha",
    "BanditPolicy": "policy", "Decision": "policy",
    "POLICY_FILE_NAME": "persistence", "policy_path_for": "persistence",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from ml_policy.alpha import EdgeEstimate as EdgeEstimate
    from ml_policy.config import ARMS as ARMS, PolicyConfig as PolicyConfig
    from ml_policy.context import SignalContext as SignalContext
    from ml_policy.features import FEATURE_NAMES as FEATURE_NAMES, ContextError as ContextError
    from ml_policy.persistence import POLICY_FILE_NAME as POLICY_FILE_NAME, policy_path_for as policy_path_for
    from ml_policy.policy import BanditPolicy as BanditPolicy, Decision as Decision


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ml_policy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
