"""Look-ahead check: a signal computed on data cut at bar t must equal the full-history signal up to t.

Any difference means some bar's decision used data from after its close. The sweep runs this on a
sample of configurations of every symbol and group before ranking, and stops loudly if it fails.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from backtest.prep import GROUP_KEYS, prepare


class LookaheadError(RuntimeError):
    pass


def truncate(arrays: dict, t: int) -> dict:
    return {k: (v[:t] if isinstance(v, np.ndarray) and v.ndim == 1 else v) for k, v in arrays.items()}


def check_signal_fn(fn: Callable[[dict], np.ndarray], arrays: dict, cuts: list[int], label: str = "") -> None:
    """`fn(arrays) -> array (bars, ...)`; raises LookaheadError naming the first changed bar."""
    full = np.asarray(fn(arrays))
    for t in cuts:
        part = np.asarray(fn(truncate(arrays, t)))
        ref = full[:t]
        same = (part == ref) | (np.isnan(part) & np.isnan(ref)) if part.dtype.kind == "f" else part == ref
        if not np.all(same):
            bad = np.argwhere(~same)[0]
            raise LookaheadError(f"look-ahead {label}: with data cut at bar {t}, bar {bad[0]} changes "
                                 f"({ref[tuple(bad)]} on full data, {part[tuple(bad)]} on cut data)")


def default_cuts(n: int, k: int = 4) -> list[int]:
    return sorted({int(x) for x in np.linspace(n * 0.35, n - 1, k)} - {0})


def check_sweep(strategy: str, arrays: dict[str, dict], configs: pd.DataFrame, cooldown: int,
                per_group: int = 2, n_cuts: int = 4) -> int:
    """Check signals and per-bar stop inputs of up to `per_group` configurations of each symbol and
    signal group; returns the number of configurations checked."""
    checked = 0
    for sym, cs in configs.groupby("symbol"):
        a = arrays[sym]
        cuts = default_cuts(len(a["c"]), n_cuts)
        for _, g in cs.groupby(GROUP_KEYS[strategy]):
            sample = g.head(per_group).reset_index(drop=True)

            def fn(arr, sample=sample):
                bars, sig, _, _ = prepare(strategy, arr, sample, cooldown)
                return np.column_stack([sig.astype(float), bars["aux_a"], bars["aux_b"], bars["aux_c"]])

            check_signal_fn(fn, a, cuts, label=f"{sym} configs {list(sample['config_id'])}")
            checked += len(sample)
    return checked
