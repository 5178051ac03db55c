"""Disjoint LinUCB (Li, Chu, Langford and Schapire 2010, Algorithm 1), pure numpy.

Per arm a:  A_a = lambda I + sum x x^T,   b_a = sum r x,   theta_a = A_a^-1 b_a,
score_a(x) = theta_a^T x + alpha sqrt(x^T A_a^-1 x).
A_a^-1 is kept up to date with the Sherman-Morrison identity (O(d^2) per
update, no inversion per decision); A_a itself is kept too, so A_a^-1 can be
refreshed from it every REFRESH_EVERY updates to stop rounding drift, and so
the saved file carries the definitive statistics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg.blas import dger

REFRESH_EVERY = 500      # updates of one arm between exact re-inversions of A
TIE_TOLERANCE = 1e-12    # scores this close (relative) are a tie, broken by the seeded generator


@dataclass(frozen=True)
class ArmScores:
    mean: list[float]    # theta_a^T x per arm
    bonus: list[float]   # alpha sqrt(x^T A_a^-1 x) per arm
    score: list[float]   # mean + bonus


class LinUCB:
    def __init__(self, n_arms: int, dim: int, lam: float):
        if n_arms < 1 or dim < 1 or not lam > 0:
            raise ValueError("LinUCB needs at least one arm, one dimension and lambda > 0")
        self.n_arms, self.dim, self.lam = n_arms, dim, float(lam)
        self.A = np.repeat(np.eye(dim)[None] * self.lam, n_arms, axis=0)
        self.A_inv = np.repeat(np.eye(dim)[None] / self.lam, n_arms, axis=0)
        self.b = np.zeros((n_arms, dim))
        self.theta = np.zeros((n_arms, dim))
        self.pulls = np.zeros(n_arms, dtype=np.int64)
        self._b_zero = [True] * n_arms  # theta stays 0 while every reward was 0 (always, for SKIP)

    def scores(self, x: np.ndarray, alpha: float) -> ArmScores:
        """Per-arm scores as plain floats (for 4 arms, Python arithmetic beats more numpy calls)."""
        mean = (self.theta @ x).tolist()
        width = ((self.A_inv @ x) @ x).tolist()
        bonus = [alpha * math.sqrt(w) if w > 0.0 else 0.0 for w in width]
        return ArmScores(mean, bonus, [m + b for m, b in zip(mean, bonus)])

    def update(self, arm: int, x: np.ndarray, reward: float) -> None:
        """Add one observation (x, reward) to `arm`: A += x x^T, b += r x, A^-1 by Sherman-Morrison."""
        A_inv = self.A_inv[arm]
        ax = A_inv @ x
        # rank-one updates in place through BLAS dger (half the time of np.outer at this size); the
        # transposed C-contiguous slice is Fortran-contiguous, which lets dger overwrite it
        dger(-1.0 / (1.0 + x @ ax), ax, ax, a=A_inv.T, overwrite_a=True)
        dger(1.0, x, x, a=self.A[arm].T, overwrite_a=True)
        if reward != 0.0:
            self.b[arm] += reward * x
            self._b_zero[arm] = False
        self.pulls[arm] += 1
        if self.pulls[arm] % REFRESH_EVERY == 0:
            self.A_inv[arm] = np.linalg.inv(self.A[arm])
        if not self._b_zero[arm]:
            self.theta[arm] = self.A_inv[arm] @ self.b[arm]

    def set_lambda(self, lam: float) -> None:
        """Move every arm to a new ridge term: A += (new - old) I, then re-invert exactly."""
        self.A += (float(lam) - self.lam) * np.eye(self.dim)[None]
        self.lam = float(lam)
        self.A_inv = np.linalg.inv(self.A)
        self.refresh_theta()

    def refresh_theta(self) -> None:
        """theta = A^-1 b per arm, computed exactly as `update` does (bit-identical after a reload)."""
        for arm in range(self.n_arms):
            self._b_zero[arm] = not self.b[arm].any()
            self.theta[arm] = self.A_inv[arm] @ self.b[arm]


def choose(score: np.ndarray | list[float], rng: np.random.Generator) -> tuple[int, float]:
    """Index of the best score and the propensity of that choice (1 / number of tied arms)."""
    values = score.tolist() if isinstance(score, np.ndarray) else score  # plain floats: faster for 4 arms
    best = max(values)
    floor = best - TIE_TOLERANCE * max(1.0, abs(best))
    tied = [i for i, v in enumerate(values) if v >= floor]
    if len(tied) == 1:
        return tied[0], 1.0
    return tied[int(rng.integers(len(tied)))], 1.0 / len(tied)


def linucb_to_json(model: LinUCB) -> dict[str, Any]:
    return {"lambda": model.lam, "dim": model.dim, "A": model.A.tolist(), "A_inv": model.A_inv.tolist(),
            "b": model.b.tolist(), "pulls": model.pulls.tolist()}


def linucb_from_json(data: dict[str, Any], n_arms: int) -> LinUCB:
    dim = int(data["dim"])
    model = LinUCB(n_arms, dim, float(data["lambda"]))
    shapes = {"A": (n_arms, dim, dim), "A_inv": (n_arms, dim, dim), "b": (n_arms, dim)}
    for key, shape in shapes.items():
        arr = np.asarray(data[key], dtype=float)
        if arr.shape != shape or not np.all(np.isfinite(arr)):
            raise ValueError(f"LinUCB {key} must be finite with shape {shape}")
        setattr(model, key, arr)
    pulls = np.asarray(data["pulls"], dtype=np.int64)
    if pulls.shape != (n_arms,) or np.any(pulls < 0):
        raise ValueError(f"LinUCB pulls must be {n_arms} counts >= 0")
    model.pulls = pulls
    if not np.allclose(model.A, np.swapaxes(model.A, 1, 2)):
        raise ValueError("LinUCB A is not symmetric")
    eye = np.eye(dim)[None]
    if not np.allclose(model.A @ model.A_inv, eye, atol=1e-6):
        raise ValueError("LinUCB A_inv is not the inverse of A")
    model.refresh_theta()
    return model
