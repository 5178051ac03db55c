"""The whole-system trial: a paper trading day under faults, with nothing lost (docs/trial.md).

`mraster trial` starts the dashboard (which starts the paper exchange), the guard and the bot as
a user would, runs a seeded fault schedule over an accelerated market day, checks the invariants
continuously and at the end, and writes report.md and equity.png.
"""
from trial.params import FULL, PRESETS, SHORT, FaultPlan, TrialParams
from trial.runner import run_trial

__all__ = ["FULL", "PRESETS", "SHORT", "FaultPlan", "TrialParams", "run_trial"]
