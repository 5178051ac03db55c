"""JSON-safe views of a policy: the state file's `policy` block, `policy show`, the "AI hints"."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ml_policy.config import ARMS

if TYPE_CHECKING:
    from ml_policy.context import SignalContext
    from ml_policy.policy import BanditPolicy


def summary(policy: "BanditPolicy") -> dict[str, Any]:
    arms = {}
    for i, arm in enumerate(ARMS):
        stats = policy.arm_stats[arm].to_json()
        stats["updates"] = int(policy.bandit.pulls[i])
        stats["theta_norm"] = float(np.linalg.norm(policy.bandit.theta[i]))
        stats["size_mult"] = policy.cfg.size_mult(arm)
        arms[arm] = stats
    shadow = policy.shadow_stats
    out: dict[str, Any] = {
        "mode": "active" if policy.cfg.enabled else "shadow",
        "decisions": policy.decisions,
        "pending": len(policy.pending),
        "alpha": policy.cfg.alpha, "lambda": policy.bandit.lam,
        "features": list(policy.features.names),
        "arms": arms,
        "alpha_model": {"n_trades": policy.alpha_model.n_trades, "min_trades": policy.cfg.min_trades,
                        "confident": policy.alpha_model.n_trades >= policy.cfg.min_trades,
                        "win_rate": (policy.alpha_model.wins / policy.alpha_model.n_trades
                                     if policy.alpha_model.n_trades else None),
                        "mean_r": (policy.alpha_model.r_sum / policy.alpha_model.n_trades
                                   if policy.alpha_model.n_trades else None)},
    }
    if sum(shadow.decisions.values()) or shadow.closed:
        out["shadow"] = {**shadow.to_json(),
                         "note": "fixed M = what the bot earned trading every signal at M; would = the same "
                                 "trades re-scaled to the policy's bucket (SKIP 0), assuming R does not depend "
                                 "on the bucket; agreed = trades where the policy also chose M"}
    return out


def hints(policy: "BanditPolicy", ctx: "SignalContext | None") -> dict[str, Any]:
    alpha = policy.alpha_model
    confident = alpha.n_trades >= policy.cfg.min_trades
    out: dict[str, Any] = {
        "mode": "active" if policy.cfg.enabled else "shadow",
        "n_trades": alpha.n_trades, "min_trades": policy.cfg.min_trades, "confident": confident,
        "message": (f"learned from {alpha.n_trades} trades" if confident
                    else f"learning: {alpha.n_trades} of {policy.cfg.min_trades} trades"),
        "win_rate": alpha.wins / alpha.n_trades if alpha.n_trades else None,
        "mean_r": alpha.r_sum / alpha.n_trades if alpha.n_trades else None,
        "arm_means": {arm: policy.arm_stats[arm].to_json()["reward_mean"] for arm in ARMS},
    }
    if ctx is not None:
        est = policy.estimate(ctx)
        out["symbol"] = ctx.symbol
        out["estimate"] = est.to_json()
        out["message"] = est.message
    return out
