"""The policy's settings, taken from the one settings model (group `policy` plus the size buckets).

`PolicyConfig` is a frozen value: the policy never reads the environment
itself, so tests and the offline evaluator can build one directly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ml_policy.features import parse_feature_list

ARMS: tuple[str, ...] = ("SKIP", "S", "M", "L")
TRADE_ARMS: tuple[str, ...] = ("S", "M", "L")
FIXED_ARM = "M"  # what the bot does when the bandit is disabled (shadow mode)


@dataclass(frozen=True)
class PolicyConfig:
    alpha: float = 0.6                 # ASTER_BANDIT_ALPHA: exploration strength
    lam: float = 1.0                   # ASTER_BANDIT_LAMBDA: ridge term, A starts as lam * I
    features: tuple[str, ...] = ()     # ASTER_BANDIT_FEATURES, parsed; () means all
    seed: int = 7                      # ASTER_BANDIT_SEED: tie-breaking of a fresh policy
    min_trades: int = 30               # ASTER_ALPHA_MIN_TRADES: alpha model confidence threshold
    size_mults: dict[str, float] = field(default_factory=lambda: {"S": 1.0, "M": 1.4, "L": 1.9})
    enabled: bool = True               # ASTER_BANDIT_ENABLED; False = shadow mode (fixed M)

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            problems.append(f"alpha must be a finite number >= 0, got {self.alpha!r}")
        if not (math.isfinite(self.lam) and self.lam > 0):
            problems.append(f"lam must be a finite number > 0, got {self.lam!r}")
        if not isinstance(self.min_trades, int) or self.min_trades < 1:
            problems.append(f"min_trades must be an integer >= 1, got {self.min_trades!r}")
        if set(self.size_mults) != set(TRADE_ARMS):
            problems.append(f"size_mults needs exactly the buckets {TRADE_ARMS}, got {sorted(self.size_mults)}")
        elif not all(math.isfinite(v) and v >= 0 for v in self.size_mults.values()):
            problems.append(f"size multipliers must be finite and >= 0, got {self.size_mults}")
        if problems:
            raise ValueError("invalid policy configuration: " + "; ".join(problems))
        # Normalise the feature list (validates names; () -> every feature, in canonical order).
        object.__setattr__(self, "features", parse_feature_list(",".join(self.features) or "all"))
        object.__setattr__(self, "size_mults", {k: float(self.size_mults[k]) for k in TRADE_ARMS})

    @classmethod
    def from_settings(cls, settings: Any) -> "PolicyConfig":
        """Build from `Settings` (mraster.settings). A bad ASTER_BANDIT_FEATURES raises SettingsError."""
        from mraster.settings import SettingsError

        try:
            features = parse_feature_list(settings.bandit_features)
        except ValueError as exc:
            raise SettingsError([f"ASTER_BANDIT_FEATURES={settings.bandit_features!r}: {exc}"]) from None
        return cls(alpha=float(settings.bandit_alpha), lam=float(settings.bandit_lambda), features=features,
                   seed=int(settings.bandit_seed), min_trades=int(settings.alpha_min_trades),
                   size_mults={"S": float(settings.size_mult_s), "M": float(settings.size_mult_m),
                               "L": float(settings.size_mult_l)},
                   enabled=bool(settings.bandit_enabled))

    def size_mult(self, arm: str) -> float:
        """Reward multiplier of a bucket; SKIP opens nothing and earns 0."""
        return 0.0 if arm == "SKIP" else self.size_mults[arm]

    def with_values(self, **values: Any) -> "PolicyConfig":
        return replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "lambda": self.lam, "features": list(self.features), "seed": self.seed,
                "min_trades": self.min_trades, "size_mults": dict(self.size_mults), "enabled": self.enabled}
