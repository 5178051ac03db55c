"""The alpha model: expected R and win probability of a signal, learned online.

Two scikit-learn linear models trained one closed trade at a time with
`partial_fit` on the policy's standardised features (without the bias column;
scikit-learn fits its own intercept):
- SGDRegressor (squared error) -> expected R multiple net of fees,
- SGDClassifier (log loss)     -> probability that R > 0.
A closed trade is queued by `learn` (microseconds, so `note_exit` stays fast) and
the queue is trained in order, in one `partial_fit` call per model (shuffle off:
the same single pass as one call per trade), before the next estimate or save.
Until `min_trades` trades were learned the estimate says so (confident=False,
no numbers) instead of inventing confidence. Persistence stores coefficients,
intercepts and the learning-rate step counter as JSON and rebuilds the
estimators, never pickle; a rebuilt model continues exactly where it stopped.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TOP_FEATURES = 3
# Chosen for single-sample streaming on standardised inputs: a small, decaying step and mild ridge.
REGRESSOR_PARAMS = dict(loss="squared_error", penalty="l2", alpha=1e-3, learning_rate="invscaling",
                        eta0=0.02, power_t=0.25, shuffle=False)
CLASSIFIER_PARAMS = dict(loss="log_loss", penalty="l2", alpha=1e-3, learning_rate="invscaling",
                         eta0=0.05, power_t=0.25, shuffle=False)
_CLASSES = np.array([0, 1])


@dataclass(frozen=True)
class EdgeEstimate:
    expected_r: float | None          # None until confident
    win_prob: float | None            # None until confident
    confident: bool
    n_trades: int
    min_trades: int
    top_features: list[tuple[str, float]] = field(default_factory=list)  # (name, contribution to expected R)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"expected_r": self.expected_r, "win_prob": self.win_prob, "confident": self.confident,
                "n_trades": self.n_trades, "min_trades": self.min_trades,
                "top_features": [[n, c] for n, c in self.top_features], "message": self.message}


def _new_estimators() -> tuple[Any, Any]:
    """Imported on first need: scikit-learn takes seconds to import and most processes never train."""
    from sklearn.linear_model import SGDClassifier, SGDRegressor
    return SGDRegressor(**REGRESSOR_PARAMS), SGDClassifier(**CLASSIFIER_PARAMS)


class AlphaModel:
    def __init__(self, feature_names: tuple[str, ...]):
        self.feature_names = tuple(feature_names)
        self.regressor: Any = None      # built by the first training or by from_json
        self.classifier: Any = None
        self.n_trades = 0
        self.wins = 0
        self.r_sum = 0.0
        self._queue: list[tuple[np.ndarray, float]] = []

    def learn(self, z: np.ndarray, r_multiple: float) -> None:
        """One closed trade: standardised features z (no bias) and its realised R net of fees (queued)."""
        self._queue.append((np.array(z, dtype=float), float(r_multiple)))
        self.n_trades += 1
        self.wins += int(r_multiple > 0)
        self.r_sum += float(r_multiple)

    @property
    def queued(self) -> int:
        """Closed trades learned but not yet trained into the estimators."""
        return len(self._queue)

    def sync(self) -> None:
        """Train the queued trades, oldest first."""
        if not self._queue:
            return
        rows = np.vstack([z for z, _ in self._queue])
        r = np.array([r for _, r in self._queue])
        self._queue = []
        if self.regressor is None:
            self.regressor, self.classifier = _new_estimators()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns about single-pass convergence; expected here
            self.regressor.partial_fit(rows, r)
            self.classifier.partial_fit(rows, (r > 0).astype(int), classes=_CLASSES)

    def estimate(self, z: np.ndarray, min_trades: int) -> EdgeEstimate:
        self.sync()
        if self.n_trades < min_trades:
            return EdgeEstimate(None, None, False, self.n_trades, min_trades, [],
                                f"learning: {self.n_trades} of {min_trades} trades")
        coef = self.regressor.coef_
        expected = float(coef @ z + self.regressor.intercept_[0])
        logit = float(self.classifier.coef_[0] @ z + self.classifier.intercept_[0])
        win = 1.0 / (1.0 + math.exp(-max(min(logit, 500.0), -500.0)))
        contrib = coef * z
        order = np.argsort(-np.abs(contrib), kind="stable")[:TOP_FEATURES]
        top = [(self.feature_names[i], float(contrib[i])) for i in order]
        drivers = ", ".join(f"{n} {c:+.2f}R" for n, c in top)
        return EdgeEstimate(expected, win, True, self.n_trades, min_trades, top,
                            f"expected {expected:+.2f}R, win {win:.0%}, from {self.n_trades} trades; "
                            f"most weight: {drivers}")

    def to_json(self) -> dict[str, Any]:
        self.sync()
        out: dict[str, Any] = {"feature_names": list(self.feature_names), "n_trades": self.n_trades,
                               "wins": self.wins, "r_sum": self.r_sum}
        if self.n_trades:
            for key, model in (("regressor", self.regressor), ("classifier", self.classifier)):
                out[key] = {"coef": np.ravel(model.coef_).tolist(), "intercept": model.intercept_.tolist(),
                            "t": float(model.t_), "n_iter": int(model.n_iter_)}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AlphaModel":
        model = cls(tuple(data["feature_names"]))
        model.n_trades, model.wins, model.r_sum = int(data["n_trades"]), int(data["wins"]), float(data["r_sum"])
        if model.n_trades < 0 or not 0 <= model.wins <= model.n_trades or not math.isfinite(model.r_sum):
            raise ValueError("alpha model counters are inconsistent")
        if model.n_trades == 0:
            return model
        model.regressor, model.classifier = _new_estimators()
        k = len(model.feature_names)
        for key, est in (("regressor", model.regressor), ("classifier", model.classifier)):
            part = data[key]
            coef = np.asarray(part["coef"], dtype=float)
            intercept = np.asarray(part["intercept"], dtype=float)
            if coef.shape != (k,) or intercept.shape != (1,) or not np.all(np.isfinite(coef)) \
                    or not np.all(np.isfinite(intercept)):
                raise ValueError(f"alpha {key} needs {k} finite coefficients and one intercept")
            est.coef_ = coef if key == "regressor" else coef.reshape(1, k)
            est.intercept_ = intercept
            est.t_ = float(part["t"])
            est.n_iter_ = int(part["n_iter"])
            est.n_features_in_ = k
        model.classifier.classes_ = _CLASSES.copy()
        return model
