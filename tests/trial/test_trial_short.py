"""The short version of the whole-system trial: fails the build on any broken invariant.

Real processes (dashboard, paper exchange, bot, guard), real HTTP and WebSockets on free ports,
real SIGKILLs; about two minutes of wall time for three market hours at 120x. The assertions are
about counts (invariant violations, faults carried out), never about timings.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from trial import SHORT
from trial.results import ORDER

from tests.trial.conftest import explain

pytestmark = pytest.mark.timeout(600)


def test_the_trial_ran_to_its_end(short_trial):
    result, _ = short_trial
    assert "error" not in result, explain(result)
    assert result["market_ms"] >= SHORT.market_ms, explain(result)
    assert result["exit_codes"] == {"bot": 0, "guard": 0}, explain(result)   # stopped cleanly at the end
    assert result["end_problems"] == [] and result["passed"], explain(result)


@pytest.mark.parametrize("name", ORDER)
def test_invariant_holds(short_trial, name):
    result, _ = short_trial
    inv = {i["name"]: i for i in result["invariants"]}[name]
    assert inv["violations"] == 0, explain(result)


def test_every_planned_fault_was_carried_out(short_trial):
    result, _ = short_trial
    faults = {f["kind"]: f for f in result["faults"]}
    assert all(f["done"] for f in result["faults"]), explain(result)
    assert result["plan_fulfilled"], explain(result)           # every kind as often as planned, entry kill landed
    entry = faults["bot_entry_kill"]["details"]
    assert entry["attempts"], explain(result)                 # the bot was SIGKILLed at an entry fill
    assert faults["venue_cancel"]["details"]["stop"], explain(result)   # ... and the venue cancelled a stop
    assert faults["admin_fault"]["details"]["answer"]["faults"], explain(result)
    inv = {i["name"]: i for i in result["invariants"]}
    assert inv["config"]["invalid_refused"] >= 2 and inv["config"]["versions_validated"] >= 2, explain(result)


def test_killed_processes_came_back_and_the_dashboard_counted_them(short_trial):
    result, _ = short_trial
    kills = result["kills"]
    assert {k["name"] for k in kills} >= {"bot", "guard"}, explain(result)
    for k in kills:
        assert k["new_pid"] and k["new_pid"] != k["pid"], explain(result)
        assert k["restart_count_after"] > k["restart_count_before"], explain(result)


def test_the_ledger_check_is_not_vacuous(short_trial):
    result, _ = short_trial
    assert result["totals"]["trades"] >= 1, explain(result)
    for trade in result["trades"]:
        sources = trade["values"]["realized_pnl"]
        assert set(sources) == {"state", "journal", "journal fills", "venue"}
        assert len(set(sources.values())) == 1 and None not in sources.values()


def test_report_and_equity_curve_are_written(short_trial):
    result, work = short_trial
    report = (work / "report.md").read_text()
    assert "PASSED" in report and f"Seed **{SHORT.seed}**" in report and "mraster trial --short" in report
    png = (work / "equity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_no_process_of_the_trial_is_left_running(short_trial):
    result, work = short_trial
    assert result["leftover_processes"] == {}
    ours = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).resolve() == work.resolve():
                    ours.append(int(entry.name))
            except OSError:
                continue
    assert ours == []


def test_the_bandit_admitted_and_sized_real_entries(short_trial):
    """The short trial runs the policy active (issue 12, item 16): its own buckets size real entries
    under the same fault schedule."""
    result, _ = short_trial
    pol = result["policy"]
    assert pol["mode"] == "active" and pol["sized_by_policy"] >= 1, explain(result)
    assert set(pol["buckets_used"]) <= {"S", "M", "L"} and "BASE" not in pol["by_bucket"], explain(result)


def test_the_momentum_engine_traded_beside_the_scanner_and_was_adopted_after_a_kill(short_trial):
    """Issue 17: the momentum engine runs on a second paper account under the same faults; the venue-side
    invariants above include its account; killed once while holding, it adopts what it held."""
    result, work = short_trial
    mom = result["momentum"]
    assert mom["entries"] > 0 and mom["exit_code"] == 0 and mom["state"] == "stopped" and mom["starts"] == 2
    assert mom["kill"]["adopted"] is True and mom["kill"]["recovery_s"] is not None
    assert result["momentum_problems"] == []
    con = sqlite3.connect(f"file:{work / 'momentum_journal.sqlite'}?mode=ro", uri=True)
    try:       # its rows name it (the dashboard's trade history and engine curves split by them)
        owners = set(con.execute("SELECT DISTINCT instance FROM trades"))
    finally:
        con.close()
    assert owners == {("momentum",)}
def test_the_delta_neutral_operator_took_part(short_trial):
    """Seed 004's operator ran beside the scanner: it held pairs, was SIGKILLed and adopted its pair, lost a
    leg to a forced liquidation and closed the other; its invariants (above) measured real episodes."""
    result, _ = short_trial
    op = result["operator"]
    assert op["exit_code"] == 0 and op["pairs"] >= 2 and op["trades"] >= 4, explain(result)
    faults = {f["kind"]: f for f in op["faults"]}
    assert set(faults) == {"operator_kill", "leg_liquidated"}, explain(result)
    assert faults["leg_liquidated"]["liquidated"], explain(result)
    assert "lone_leg" in op["close_reasons"], explain(result)
    inv = {i["name"]: i for i in result["invariants"]}
    assert inv["dn_lone_leg"]["episodes"] >= 1, explain(result)          # the liquidation was seen
    assert result["operator_problems"] == [], explain(result)
