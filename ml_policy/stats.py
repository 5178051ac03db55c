"""Counters the policy keeps for `mraster policy show`, the state file and shadow-mode comparison.

Pure bookkeeping, no learning: the LinUCB statistics live in linucb.py.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ml_policy.config import ARMS


@dataclass
class ArmStats:
    chosen: int = 0          # decisions where the policy picked this arm
    taken: int = 0           # trades entered (or skips enacted) with this arm
    rewarded: int = 0        # rewards learned for this arm (SKIP: at decision time, 0)
    reward_sum: float = 0.0  # sum of rewards (R net of fees x size multiplier)
    last_reward: float | None = None

    def add_reward(self, reward: float) -> None:
        self.rewarded += 1
        self.reward_sum += reward
        self.last_reward = reward

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["reward_mean"] = self.reward_sum / self.rewarded if self.rewarded else None
        return out


@dataclass
class ShadowStats:
    """Shadow mode: the bot trades the fixed M bucket while the policy says what it would have done."""
    decisions: dict[str, int] = field(default_factory=lambda: {a: 0 for a in ARMS})  # policy's choice
    closed: int = 0                     # shadow trades closed (all traded at M)
    fixed_reward_sum: float = 0.0       # what fixed M earned: R x M multiplier
    agreed: int = 0                     # closed trades where the policy also wanted M
    agreed_reward_sum: float = 0.0
    would_reward_sum: float = 0.0       # R x multiplier of the policy's bucket (SKIP 0); assumes R
                                        # does not depend on the bucket size
    closed_by_policy_arm: dict[str, int] = field(default_factory=lambda: {a: 0 for a in ARMS})
    r_sum_by_policy_arm: dict[str, float] = field(default_factory=lambda: {a: 0.0 for a in ARMS})

    def add_closed(self, policy_arm: str, taken_arm: str, r_multiple: float, taken_mult: float,
                   policy_mult: float) -> None:
        self.closed += 1
        self.fixed_reward_sum += r_multiple * taken_mult
        if policy_arm == taken_arm:
            self.agreed += 1
            self.agreed_reward_sum += r_multiple * taken_mult
        self.would_reward_sum += r_multiple * policy_mult
        self.closed_by_policy_arm[policy_arm] += 1
        self.r_sum_by_policy_arm[policy_arm] += r_multiple

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def stats_from_json(data: dict[str, Any]) -> tuple[dict[str, ArmStats], ShadowStats]:
    arms = {}
    for arm in ARMS:
        raw = data["arms"][arm]
        arms[arm] = ArmStats(**{f.name: raw[f.name] for f in fields(ArmStats)})
        if min(arms[arm].chosen, arms[arm].taken, arms[arm].rewarded) < 0:
            raise ValueError(f"arm {arm}: negative counter")
    shadow_raw = data["shadow"]
    shadow = ShadowStats(**{f.name: shadow_raw[f.name] for f in fields(ShadowStats)})
    for name in ("decisions", "closed_by_policy_arm", "r_sum_by_policy_arm"):
        if set(getattr(shadow, name)) != set(ARMS):
            raise ValueError(f"shadow {name} must name every arm")
    return arms, shadow
