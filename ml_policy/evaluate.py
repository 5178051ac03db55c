"""Offline evaluation of the policy on logged events (`mraster policy eval`).

Replay (Li, Chu, Langford and Schapire 2010, section 4; Li et al. 2011): walk the
logged events in time order; whenever the evaluated policy, given only the
events it has accepted so far, picks the arm that was logged, the event is
accepted: its reward counts and the policy learns from it; otherwise it is
discarded as if it never happened. The mean reward over accepted events is an
unbiased estimate of the policy's per-decision value when the logged arms were
chosen uniformly at random, independently of the context. With any other
logging policy it is not, and the report says so: a deterministic logger (the
bot's own LinUCB, or fixed M in shadow mode) only shows what happens on the
events where the evaluated policy agrees with it.

Where every accepted event has a logged propensity p, the self-normalised
inverse-propensity mean sum(r/p)/sum(1/p) over accepted events is reported too;
under uniform logging it equals the replay mean.

Second view, "bucket scaling": the R multiple of a trade does not depend on its
bucket (ignoring size-dependent slippage), so on every event where a trade was
taken and closed the reward of each arm is known: R x multiplier (SKIP 0). On
those events any policy can be compared with always-M event by event (paired),
at the price of seeing only the contexts the logger chose to trade.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Protocol

import numpy as np

from ml_policy.config import ARMS, PolicyConfig
from ml_policy.context import SignalContext
from ml_policy.eventlog import LoggedEvent
from ml_policy.linucb import choose
from ml_policy.policy import BanditPolicy

Z95 = 1.959963984540054
_ARM_INDEX = {arm: i for i, arm in enumerate(ARMS)}


class Chooser(Protocol):
    name: str

    def choose(self, ctx: SignalContext) -> str: ...

    def accept(self, arm: str, reward: float) -> None: ...

    def reject(self) -> None: ...


class FixedArm:
    """Always the same arm: the baselines."""

    def __init__(self, arm: str):
        self.arm, self.name = arm, f"always-{arm}"

    def choose(self, ctx: SignalContext) -> str:
        return self.arm

    def accept(self, arm: str, reward: float) -> None:
        pass

    def reject(self) -> None:
        pass


class ReplayBandit:
    """A fresh LinUCB policy whose state (statistics and scaler) grows only from accepted events.

    Tie-breaking keeps drawing from its generator on rejected events too: randomness is not history,
    and replaying the same draw after every rejection would lock a fresh policy onto one arm.
    """

    def __init__(self, cfg: PolicyConfig):
        self.name = f"LinUCB(alpha={cfg.alpha:g})"
        self.cfg = cfg
        fresh = BanditPolicy(cfg)
        self.features, self.bandit, self.rng = fresh.features, fresh.bandit, fresh.rng
        self._saved: tuple[Any, ...] = ()
        self._x = np.zeros(self.features.dim)

    def choose(self, ctx: SignalContext) -> str:
        fm = self.features
        self._saved = (fm.count.copy(), fm.mean.copy(), fm.m2.copy())
        raw = fm.select(ctx)
        fm.observe(raw)
        self._x = fm.transform(raw)
        index, _ = choose(self.bandit.scores(self._x, self.cfg.alpha).score, self.rng)
        return ARMS[index]

    def accept(self, arm: str, reward: float) -> None:
        self.bandit.update(_ARM_INDEX[arm], self._x, reward)

    def reject(self) -> None:
        self.features.restore(*self._saved)


@dataclass(frozen=True)
class Estimate:
    name: str
    events: int                  # events offered
    matched: int                 # events accepted (the evaluated arm equals the logged arm)
    mean: float | None           # mean reward per accepted event
    ci_low: float | None         # 95 % normal-approximation interval of that mean
    ci_high: float | None
    ips_mean: float | None       # self-normalised inverse-propensity mean, when propensities are known

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def mean_ci(values: Iterable[float]) -> tuple[float | None, float | None, float | None]:
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return None, None, None
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, None, None
    half = Z95 * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return mean, mean - half, mean + half


def replay(events: list[LoggedEvent], chooser: Chooser) -> Estimate:
    """Li et al.'s replay over resolved events (oldest first)."""
    rewards, weights = [], []
    for event in events:
        arm = chooser.choose(event.ctx)
        if arm != event.arm:
            chooser.reject()
            continue
        chooser.accept(arm, event.reward)
        rewards.append(event.reward)
        weights.append(None if not event.propensity else 1.0 / event.propensity)
    mean, low, high = mean_ci(rewards)
    ips = None
    if rewards and all(w is not None for w in weights):
        w = np.asarray(weights)
        ips = float(np.dot(w, rewards) / w.sum())
    return Estimate(chooser.name, len(events), len(rewards), mean, low, high, ips)


def bucket_scaled(events: list[LoggedEvent], cfg: PolicyConfig) -> dict[str, Any]:
    """Policy vs always-M on closed trades, every arm's reward known by re-scaling R (paired)."""
    traded = [e for e in events if e.arm != "SKIP" and e.r_multiple is not None]
    learner = ReplayBandit(cfg)
    policy_rewards, m_rewards, picks = [], [], {a: 0 for a in ARMS}
    for e in traded:
        arm = learner.choose(e.ctx)
        reward = e.r_multiple * cfg.size_mult(arm)
        learner.accept(arm, reward)
        picks[arm] += 1
        policy_rewards.append(reward)
        m_rewards.append(e.r_multiple * cfg.size_mult("M"))
    p_mean, p_low, p_high = mean_ci(policy_rewards)
    m_mean, m_low, m_high = mean_ci(m_rewards)
    d_mean, d_low, d_high = mean_ci(np.subtract(policy_rewards, m_rewards))
    return {"events": len(traded), "policy_picks": picks,
            "policy": {"mean": p_mean, "ci_low": p_low, "ci_high": p_high},
            "always_M": {"mean": m_mean, "ci_low": m_low, "ci_high": m_high},
            "difference": {"mean": d_mean, "ci_low": d_low, "ci_high": d_high}}


def logging_verdict(events: list[LoggedEvent]) -> tuple[str, str]:
    """(kind, explanation) of how the logged arms were chosen, from their propensities."""
    props = [e.propensity for e in events]
    if not events:
        return "none", "no resolved events"
    if any(p is None for p in props):
        return "unknown", ("some events have no logged propensity: the replay estimate is unbiased only if "
                           "the logged arms were chosen uniformly at random, which cannot be checked")
    if all(abs(p - 1.0 / len(ARMS)) < 1e-9 for p in props):
        return "uniform", "arms were logged uniformly at random: the replay estimate is unbiased (Li et al.)"
    if all(p >= 1.0 - 1e-9 for p in props):
        return "deterministic", ("the logging policy was deterministic (propensity 1): the replay mean describes "
                                 "only the events where the evaluated policy agrees with the log and is not an "
                                 "unbiased estimate of its value; use the bucket-scaling comparison and the "
                                 "matched counts with that in mind")
    return "randomised", ("arms were logged with known, non-uniform propensities: compare the inverse-"
                          "propensity mean (ips_mean); the plain replay mean is biased towards arms the logger "
                          "favoured, and arms the logger never plays in a context cannot be evaluated there")


def evaluate(events: list[LoggedEvent], cfg: PolicyConfig) -> dict[str, Any]:
    """The full report of `mraster policy eval` (JSON-safe)."""
    resolved = [e for e in events if e.resolved]
    kind, explanation = logging_verdict(resolved)
    logged = {a: sum(1 for e in resolved if e.arm == a) for a in ARMS}
    estimates = [replay(resolved, chooser)
                 for chooser in (ReplayBandit(cfg), FixedArm("M"), FixedArm("SKIP"))]
    return {
        "events": len(events), "resolved": len(resolved), "unresolved": len(events) - len(resolved),
        "logged_arms": logged, "logging": kind, "validity": explanation,
        "config": {"alpha": cfg.alpha, "lambda": cfg.lam, "seed": cfg.seed, "features": list(cfg.features),
                   "size_mults": cfg.size_mults},
        "replay": dict(zip(("policy", "always_M", "always_SKIP"), (e.to_json() for e in estimates))),
        "bucket_scaling": bucket_scaled(resolved, cfg),
    }
