"""Seeded synthetic contexts and a synthetic linear world for the policy tests and benchmarks."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ml_policy import ARMS, PolicyConfig, SignalContext
from ml_policy.features import raw_features

T0_MS = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC, a Tuesday


def make_ctx(rng: np.random.Generator, i: int, symbol: str = "BTCUSDT") -> SignalContext:
    """A plausible candidate signal; every field drawn from the seeded generator."""
    return SignalContext(
        symbol=symbol, side=int(rng.choice([1, -1])), time_ms=T0_MS + i * 300_000,
        rsi=float(rng.uniform(20, 80)), htf_rsi=float(rng.uniform(20, 80)),
        atr_frac=float(math.exp(rng.normal(-5.5, 0.5))), spread_frac=float(rng.uniform(0, 8e-4)),
        funding_rate=float(rng.normal(0, 1e-4)), wickiness=float(rng.uniform(0.3, 0.8)),
        recent_vol=float(math.exp(rng.normal(-6.2, 0.5))), liquidity_rank=float(rng.uniform(0, 1)),
        reward_risk=1.5)


def with_numpy_scalars(ctx: SignalContext) -> SignalContext:
    """The same context with numpy scalars, as a bot that slices numpy arrays would build it."""
    values = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in ctx.to_json().items()}
    return SignalContext(**values | {"side": np.int64(ctx.side), "time_ms": np.int64(ctx.time_ms)})


@dataclass
class LinearWorld:
    """Expected R of a signal is linear in its raw features; a bucket earns R x its multiplier, SKIP 0."""
    weights: np.ndarray
    bias: float
    noise: float
    mults: dict[str, float]

    def expected_r(self, ctx: SignalContext) -> float:
        return float(raw_features(ctx) @ self.weights + self.bias)

    def expected_reward(self, ctx: SignalContext, arm: str) -> float:
        return 0.0 if arm == "SKIP" else self.mults[arm] * self.expected_r(ctx)

    def best_reward(self, ctx: SignalContext) -> float:
        return max(self.expected_reward(ctx, arm) for arm in ARMS)

    def draw_r(self, ctx: SignalContext, rng: np.random.Generator) -> float:
        return self.expected_r(ctx) + float(rng.normal(0.0, self.noise))


def linear_world(cfg: PolicyConfig, noise: float = 1.0) -> LinearWorld:
    """RSI momentum and HTF momentum help, wicky markets and illiquid symbols hurt."""
    w = np.zeros(len(raw_features(make_ctx(np.random.default_rng(0), 0))))
    w[0], w[1], w[8], w[13] = 1.2, 0.6, -0.8, -0.3
    return LinearWorld(w, 0.15 + 0.8 * 0.55, noise, dict(cfg.size_mults))
