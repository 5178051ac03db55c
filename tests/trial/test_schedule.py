"""The fault schedule: seeded, complete, serialised with the promised quiet gaps, inside the run."""
from __future__ import annotations

import pytest

from trial.params import FULL, SHORT, FaultPlan
from trial.schedule import (
    ADMIN, BOT_ENTRY_KILL, BOT_KILL, CONFIG_BURST, DISK_FULL, GUARD_KILL, PAPER_RESTART, VENUE_CANCEL,
    build_schedule,
)


def _build(params, seed=None):
    return build_schedule(params.faults, params.wall_duration_s, params.warmup_s, params.tail_s,
                          params.seed if seed is None else seed)


@pytest.mark.parametrize("params", [FULL, SHORT], ids=["full", "short"])
def test_same_seed_same_schedule_other_seed_other_schedule(params):
    assert _build(params) == _build(params)
    assert _build(params) != _build(params, seed=params.seed + 1)


@pytest.mark.parametrize("params", [FULL, SHORT], ids=["full", "short"])
def test_every_planned_fault_is_scheduled_once(params):
    events = _build(params)
    kinds = [e.kind for e in events]
    plan = params.faults
    assert kinds.count(BOT_KILL) == plan.bot_kills
    assert kinds.count(BOT_ENTRY_KILL) == plan.bot_entry_kills
    assert kinds.count(GUARD_KILL) == plan.guard_kills
    assert sorted(e.params["mode"] for e in events if e.kind == PAPER_RESTART) == sorted(plan.paper_restarts)
    assert sorted(e.params["fault"] for e in events if e.kind == ADMIN) == sorted(plan.admin_faults)
    cancels = [e for e in events if e.kind == VENUE_CANCEL]
    assert len(cancels) == plan.venue_cancels
    assert sum(1 for e in cancels if e.params["target"] == "stop") == plan.venue_stop_cancels
    assert kinds.count(CONFIG_BURST) == plan.config_bursts
    assert kinds.count(DISK_FULL) == plan.disk_fulls
    assert [e.index for e in events] == list(range(len(events)))


@pytest.mark.parametrize("params", [FULL, SHORT], ids=["full", "short"])
def test_faults_are_serialised_with_quiet_gaps_inside_the_window(params):
    events = _build(params)
    assert events[0].kind == BOT_ENTRY_KILL and events[0].at_s == 0 and events[0].params["first_entry"]
    timed = events[1:]
    assert timed[0].at_s >= params.warmup_s
    for before, after in zip(timed, timed[1:]):
        assert after.at_s - (before.at_s + before.window_s) >= params.faults.min_gap_s - 0.02
    last = timed[-1]
    assert last.at_s + last.window_s <= params.wall_duration_s - params.tail_s + 0.02


def test_config_bursts_mix_valid_and_invalid_requests():
    events = _build(FULL)
    for burst in (e for e in events if e.kind == CONFIG_BURST):
        reqs = burst.params["requests"]
        assert any(r["valid"] for r in reqs) and any(not r["valid"] for r in reqs)
        assert all(r["method"] == "PATCH" for r in reqs if r["valid"])   # a PUT would reset the trial's config
        assert sum(r["method"] == "PUT" for r in reqs) == 1


def test_full_plan_has_the_late_processing_and_disk_full_faults():
    events = _build(FULL)
    (late,) = [e for e in events if e.kind == ADMIN and e.params["fault"] == "late_order"]
    assert 1 <= late.params["value"] <= 3 and 8 <= late.window_s <= 15
    (disk,) = [e for e in events if e.kind == DISK_FULL]
    assert 8 <= disk.window_s <= 15 and "disk full" in disk.describe()
    assert FULL.faults.count() == len(events)


def test_admin_fault_windows_are_bounded():
    for e in (e for e in _build(FULL) if e.kind == ADMIN):
        assert 0 <= e.window_s <= 15
        if e.params["fault"] in ("ws_disconnect",):
            assert e.window_s == 0


def test_a_plan_that_does_not_fit_is_refused_with_the_numbers():
    crowded = FaultPlan(bot_kills=30, min_gap_s=20.0)
    with pytest.raises(ValueError, match="need .* s of wall time"):
        build_schedule(crowded, 300.0, 10.0, 10.0, 1)
