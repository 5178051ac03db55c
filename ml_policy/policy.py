"""`BanditPolicy`: the bot's one entry point to the bandit and the alpha model.

Life of a candidate signal (see docs/policy.md):
  d = policy.decide(ctx)           LinUCB scores every arm and picks one (seeded tie-breaking).
                                   A SKIP that is enacted (bandit enabled) is learned at once with
                                   reward 0: SKIP's A gains x x^T and its b gains 0 * x.
  policy.note_entry(id, ctx, arm)  the bot entered a trade with bucket `arm`.
  policy.note_exit(id, r)          the trade closed with R multiple `r` net of fees; the arm learns
                                   reward = r x size multiplier of its bucket (taken at entry).
With ASTER_BANDIT_ENABLED=false (shadow mode) the bot trades the fixed M bucket; the policy still
decides, learns from the M trades actually taken and records what it would have chosen.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mraster.logs import get_logger

from ml_policy.alpha import AlphaModel, EdgeEstimate
from ml_policy.config import ARMS, FIXED_ARM, TRADE_ARMS, PolicyConfig
from ml_policy.context import SignalContext
from ml_policy.features import FeatureMap
from ml_policy.linucb import LinUCB, choose
from ml_policy.stats import ArmStats, ShadowStats

log = get_logger("ml_policy")

R_CLIP = 20.0         # |R| above this is clipped (with a warning): a bad risk denominator must not poison A, b
MAX_PENDING = 1000    # open entries remembered; the oldest is dropped (with a warning) beyond this
_RECENT = 256         # recent decisions remembered per signal candle (symbol, side, time_ms)
_ARM_INDEX = {arm: i for i, arm in enumerate(ARMS)}


@dataclass(frozen=True)
class Decision:
    arm: str                                 # what the policy chooses: SKIP, S, M or L
    effective_arm: str                       # what the bot must do: arm, or M in shadow mode
    shadow: bool                             # True when the bandit is disabled (shadow mode)
    scores: dict[str, dict[str, float]]      # arm -> {"mean", "bonus", "score"}
    propensity: float                        # P(effective_arm | context) under this policy (ties < 1)
    size_mult: float                         # multiplier of effective_arm (SKIP 0)
    features: dict[str, float] = field(default_factory=dict)  # standardised features used
    symbol: str = ""
    time_ms: int = 0

    @property
    def take(self) -> bool:
        return self.effective_arm != "SKIP"

    def to_json(self) -> dict[str, Any]:
        return {"arm": self.arm, "effective_arm": self.effective_arm, "shadow": self.shadow,
                "scores": self.scores, "propensity": self.propensity, "size_mult": self.size_mult,
                "features": self.features, "symbol": self.symbol, "time_ms": self.time_ms}


@dataclass(frozen=True, slots=True)
class _Remembered:
    """A decision in compact form (no per-decision dicts), kept for rescans of its candle."""
    arm: str
    effective_arm: str
    shadow: bool
    propensity: float
    size_mult: float
    scores: tuple[list[float], list[float], list[float]]   # means, bonuses, scores in ARMS order
    x: np.ndarray

    def decision(self, names: tuple[str, ...], candle: tuple[str, int, int]) -> Decision:
        means, bonuses, totals = self.scores
        return Decision(
            arm=self.arm, effective_arm=self.effective_arm, shadow=self.shadow,
            scores={a: {"mean": m, "bonus": b, "score": s} for a, m, b, s in zip(ARMS, means, bonuses, totals)},
            propensity=self.propensity, size_mult=self.size_mult,
            features=dict(zip(names, self.x[1:].tolist())), symbol=candle[0], time_ms=candle[2])


@dataclass
class PendingTrade:
    x: list[float]            # the feature vector the decision used (bias first)
    arm: str                  # bucket actually taken
    size_mult: float          # its multiplier at entry
    shadow_arm: str | None    # what the policy wanted, when it differed or ran in shadow mode
    symbol: str
    time_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"x": self.x, "arm": self.arm, "size_mult": self.size_mult, "shadow_arm": self.shadow_arm,
                "symbol": self.symbol, "time_ms": self.time_ms}


class BanditPolicy:
    def __init__(self, cfg: PolicyConfig):
        self.cfg = cfg
        self.features = FeatureMap(cfg.features)
        self.bandit = LinUCB(len(ARMS), self.features.dim, cfg.lam)
        self.alpha_model = AlphaModel(self.features.names)
        self.rng = np.random.Generator(np.random.PCG64(cfg.seed))
        self.pending: dict[str, PendingTrade] = {}
        self.arm_stats: dict[str, ArmStats] = {arm: ArmStats() for arm in ARMS}
        self.shadow_stats = ShadowStats()
        self.decisions = 0
        self.path: Path | None = None
        # signal candle -> what its decision was made of (compact: a few hundred bytes each); a candle
        # scanned again gets its first decision back, and note_entry learns from exactly that vector
        self._recent: OrderedDict[tuple[str, int, int], _Remembered] = OrderedDict()

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def load_or_create(cls, path: Path | str, cfg: PolicyConfig) -> tuple["BanditPolicy", str | None]:
        """The saved policy, or a fresh one; warning says why a file was kept aside (or None)."""
        from ml_policy.persistence import load_or_create
        return load_or_create(Path(path), cfg)

    def save(self, path: Path | str | None = None) -> Path:
        """Atomic write of the versioned JSON document (default: the path it was loaded from)."""
        from ml_policy.persistence import save
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save() needs a path: this policy was not loaded from a file")
        save(self, target)
        self.path = target
        return target

    def apply_config(self, cfg: PolicyConfig) -> str | None:
        """Take live settings (alpha, enabled, min trades, size multipliers); others need a restart."""
        changed = [name for name, old, new in (("features", self.cfg.features, cfg.features),
                                               ("lambda", self.cfg.lam, cfg.lam)) if old != new]
        self.cfg = cfg.with_values(features=self.cfg.features, lam=self.cfg.lam)
        if changed:
            return f"policy: {', '.join(changed)} change(s) take effect after a restart"
        return None

    # ------------------------------------------------------------------ decisions
    @staticmethod
    def _candle(ctx: SignalContext) -> tuple[str, int, int]:
        return (ctx.symbol, int(ctx.side), int(ctx.time_ms))

    def _vector(self, ctx: SignalContext) -> np.ndarray:
        """The vector a decision on this candle used, else the current standardisation of ctx."""
        recent = self._recent.get(self._candle(ctx))
        if recent is not None:
            return recent.x
        return self.features.transform(self.features.select(ctx))

    def decide(self, ctx: SignalContext) -> Decision:
        """Score every arm and choose (it learns: the standardisation, and an enacted SKIP).

        One decision per signal candle: the same symbol, side and time_ms decided again (the bot
        rescans a candle until it closes) returns the first decision and learns nothing more.
        """
        key = self._candle(ctx)
        recent = self._recent.get(key)
        if recent is not None:
            return recent.decision(self.features.names, key)
        raw = self.features.select(ctx)
        self.features.observe(raw)
        x = self.features.transform(raw)
        scores = self.bandit.scores(x, self.cfg.alpha)
        index, propensity = choose(scores.score, self.rng)
        arm = ARMS[index]
        shadow = not self.cfg.enabled
        effective = FIXED_ARM if shadow else arm
        self.decisions += 1
        self.arm_stats[arm].chosen += 1
        if shadow:
            self.shadow_stats.decisions[arm] += 1
        elif arm == "SKIP":
            self.bandit.update(_ARM_INDEX["SKIP"], x, 0.0)
            self.arm_stats["SKIP"].taken += 1
            self.arm_stats["SKIP"].add_reward(0.0)
        remembered = _Remembered(arm, effective, shadow, 1.0 if shadow else propensity,
                                 self.cfg.size_mult(effective), (scores.mean, scores.bonus, scores.score), x)
        decision = remembered.decision(self.features.names, key)
        self._recent[key] = remembered
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        if log.isEnabledFor(10):
            log.debug("policy.decision", f"{ctx.symbol}: policy {arm}, bot {effective}", **decision.to_json())
        return decision

    def estimate(self, ctx: SignalContext) -> EdgeEstimate:
        """Alpha model's expected R and win probability (confident only after min_trades trades)."""
        return self.alpha_model.estimate(self._vector(ctx)[1:], self.cfg.min_trades)

    # ------------------------------------------------------------------ outcomes
    def note_entry(self, trade_id: str, ctx: SignalContext, arm: str, shadow_arm: str | None = None) -> None:
        """The bot entered `trade_id` with bucket `arm`; shadow_arm = what the policy wanted, if known."""
        if not isinstance(trade_id, str) or not trade_id:
            raise ValueError(f"trade_id must be non-empty text, got {trade_id!r}")
        if arm not in TRADE_ARMS:
            raise ValueError(f"entry arm must be one of {TRADE_ARMS}, got {arm!r}")
        if shadow_arm is not None and shadow_arm not in ARMS:
            raise ValueError(f"shadow_arm must be one of {ARMS} or None, got {shadow_arm!r}")
        if trade_id in self.pending:
            log.warning("policy.duplicate_entry", f"trade {trade_id} already noted; keeping the first entry",
                        trade_id=trade_id)
            return
        if self.cfg.enabled:
            shadow_arm = None  # the shadow comparison is about fixed-M trading only
        x = self._vector(ctx)
        self.pending[trade_id] = PendingTrade([float(v) for v in x], arm, self.cfg.size_mult(arm), shadow_arm,
                                              ctx.symbol, int(ctx.time_ms))
        self.arm_stats[arm].taken += 1
        if len(self.pending) > MAX_PENDING:
            oldest = min(self.pending, key=lambda k: self.pending[k].time_ms)
            self.pending.pop(oldest)
            log.warning("policy.pending_overflow", f"more than {MAX_PENDING} open entries; forgot {oldest}",
                        trade_id=oldest)

    def note_exit(self, trade_id: str, r_multiple_net: float, *, context: SignalContext | None = None,
                  arm: str | None = None) -> bool:
        """Learn from a closed trade: reward = R net of fees x the bucket's size multiplier.

        Unknown ids are reported (warning) and return False; when the bot still has the trade's context
        and bucket (e.g. a policy file that was reset) it may pass them to credit the trade anyway.
        """
        if isinstance(r_multiple_net, bool) or not isinstance(r_multiple_net, (int, float)) \
                or not math.isfinite(r_multiple_net):
            log.warning("policy.bad_reward", f"trade {trade_id}: R multiple {r_multiple_net!r} is not a finite "
                        "number; the trade stays pending", trade_id=trade_id)
            return False
        pending = self.pending.pop(trade_id, None)
        if pending is None and context is not None and arm in TRADE_ARMS:
            x = self._vector(context)
            pending = PendingTrade([float(v) for v in x], arm, self.cfg.size_mult(arm), None, context.symbol,
                                   int(context.time_ms))
            log.info("policy.credited_from_record", f"trade {trade_id} credited from the bot's record",
                     trade_id=trade_id)
        if pending is None:
            log.warning("policy.unknown_trade", f"note_exit for unknown trade {trade_id}; nothing learned",
                        trade_id=trade_id)
            return False
        r = float(r_multiple_net)
        if abs(r) > R_CLIP:
            log.warning("policy.reward_clipped", f"trade {trade_id}: R {r:.3g} clipped to +-{R_CLIP}",
                        trade_id=trade_id, r_multiple=r)
            r = math.copysign(R_CLIP, r)
        self._learn(pending, r)
        return True

    def _learn(self, pending: PendingTrade, r: float) -> None:
        x = np.asarray(pending.x, dtype=float)
        reward = r * pending.size_mult
        self.bandit.update(_ARM_INDEX[pending.arm], x, reward)
        self.arm_stats[pending.arm].add_reward(reward)
        self.alpha_model.learn(x[1:], r)
        if pending.shadow_arm is not None:
            self.shadow_stats.add_closed(pending.shadow_arm, pending.arm, r, pending.size_mult,
                                         self.cfg.size_mult(pending.shadow_arm))

    def drop_entry(self, trade_id: str) -> bool:
        """Forget an entry that never filled (nothing to learn); False if unknown."""
        return self.pending.pop(trade_id, None) is not None

    def pending_trade_ids(self) -> set[str]:
        """Trades entered but not yet credited: reconcile them against trades closed while down."""
        return set(self.pending)

    # ------------------------------------------------------------------ reports
    def summary(self) -> dict[str, Any]:
        """Arm statistics for the state file and `mraster policy show` (JSON-safe)."""
        from ml_policy.report import summary
        return summary(self)

    def hints(self, ctx: SignalContext | None = None) -> dict[str, Any]:
        """The dashboard's "AI hints" block (JSON-safe)."""
        from ml_policy.report import hints
        return hints(self, ctx)
