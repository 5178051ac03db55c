"""The trial's policy profile (issue 12, item 16): settings it writes and how the report judges it."""
from __future__ import annotations

import argparse
from decimal import Decimal

from mraster.state.model import Trade
from trial import SHORT
from trial.cli import params_from_args
from trial.params import FULL
from trial.results import policy_summary


def args(**kw):
    base = dict(short=False, seed=None, hours=None, speed=None, symbols=None, policy=None, assign=[])
    base.update(kw)
    return argparse.Namespace(**base)


def test_short_runs_the_bandit_active_and_full_keeps_shadow_as_an_option():
    assert SHORT.settings("http://x", 1)["ASTER_BANDIT_ENABLED"] is True
    assert FULL.settings("http://x", 1)["ASTER_BANDIT_ENABLED"] is False
    assert params_from_args(args(policy="active")).settings("http://x", 1)["ASTER_BANDIT_ENABLED"] is True
    assert params_from_args(args(short=True, policy="shadow")).policy == "shadow"


def trade(tid, bucket, shadow, adopted=False):
    return Trade(tid, "BTCUSDT", "LONG", entry_qty=Decimal(1), bucket=bucket, adopted=adopted,
                 decision={"shadow": shadow})


def test_policy_summary_counts_only_entries_the_bandit_sized():
    s = policy_summary([trade("a", "S", False), trade("b", "L", False), trade("c", "BASE", True),
                        trade("d", "-", True, adopted=True)], "active")
    assert s == {"mode": "active", "entries": 3, "by_bucket": {"BASE": 1, "L": 1, "S": 1}, "sized_by_policy": 2,
                 "buckets_used": ["L", "S"]}
    assert policy_summary([trade("c", "BASE", True)], "active")["sized_by_policy"] == 0


def test_an_active_run_in_which_the_bandit_sized_nothing_fails_at_its_end():
    from types import SimpleNamespace

    from trial.runner import end_problems
    monitor = SimpleNamespace(venue_polls=10, observe_errors=[])
    base = {"totals": {"trades": 3}}
    idle = end_problems({**base, "policy": {"mode": "active", "sized_by_policy": 0}}, monitor)
    assert any("policy was not exercised" in p for p in idle)
    assert end_problems({**base, "policy": {"mode": "active", "sized_by_policy": 2}}, monitor) == []
    assert end_problems({**base, "policy": {"mode": "shadow", "sized_by_policy": 0}}, monitor) == []
