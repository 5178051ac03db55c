"""report.md and equity.png from a result: what a reader needs is there, and failures are loud."""
from __future__ import annotations

from dataclasses import asdict

from trial.params import SHORT
from trial.report import render, write_report
from trial.runner import plan_fulfilment

T0 = 1_800_000_000_000


def result(passed=True):
    trade = {"trade_id": "BTCUSDT.abc", "symbol": "BTCUSDT", "side": "LONG", "exit_reason": "stop",
             "values": {"realized_pnl": {"state": "-1.5", "journal": "-1.5", "journal fills": "-1.5", "venue": "-1.5"},
                        "fees": {"state": "0.24", "journal": "0.24", "journal fills": "0.24", "venue": "0.24"}},
             "problems": [] if passed else ["fees disagree: state 0.24, venue 0.25"], "entry_time_ms": T0 + 600_000,
             "exit_time_ms": T0 + 4_200_000, "entry_price": "100", "exit_price": "98.5", "qty": "1", "funding": "0",
             "adopted": False}
    faults = [{"index": 0, "kind": "guard_kill", "description": "SIGKILL guard", "nominal_s": 10.0, "window_s": 0.0,
               "started_s": 10.2, "wall": 1.0, "venue_ms": T0 + 1_200_000, "done": True,
               "outcome": "guard pid 7 killed", "waited_s": 0.0, "not_healthy": [], "details": {"pid": 7}},
              {"index": 1, "kind": "admin_fault", "description": "error_rate=0.3 for 8 s", "nominal_s": 30.0,
               "window_s": 8.0, "started_s": 30.0, "wall": 2.0, "venue_ms": T0 + 3_600_000, "done": True,
               "outcome": "error_rate=0.3, cleared after 8 s", "waited_s": 1.5, "not_healthy": [],
               "details": {"answer": {"faults": {"error_rate": 0.3}}}}]
    invariants = [{"name": "stop_gap", "title": "no position without a resting stop for more than 2 s",
                   "violations": 0 if passed else 1,
                   "details": [] if passed else ["BTCUSDT 1 without a resting stop: 3.1 s"],
                   "gaps": 3, "longest": {"length_s": 0.4, "at_most_s": 0.55, "market_ms": 48_000}},
                  {"name": "ledger", "title": "journal, state and venue agree", "violations": 0 if passed else 1,
                   "details": [] if passed else ["BTCUSDT.abc: fees disagree: state 0.24, venue 0.25"],
                   "trades_checked": 1, "venue_positions": 1}]
    return {"params": {**asdict(SHORT), "wall_duration_s": SHORT.wall_duration_s}, "command": "mraster trial --short",
            "venue_t0": T0, "market_ms": 3 * 3_600_000, "wall_s": 101.0, "passed": passed, "plan_fulfilled": True,
            "invariants": invariants, "faults": faults, "plan": plan_fulfilment(faults, SHORT),
            "kills": [{"name": "guard", "how": "SIGKILL", "pid": 7, "new_pid": 9, "restart_count_before": 0,
                       "restart_count_after": 1, "recovery_s": 2.1}],
            "trades": [trade], "totals": {"trades": 1, "wins": 0, "realized_pnl": "-1.5", "fees": "0.24",
                                          "funding": "0", "net": "-1.74"},
            "equity": [(T0 + i * 60_000, i, 10_000 + (i % 7) - 3.0) for i in range(180)],
            "machine_start": {"python": "3.11", "commit": "abc"}, "machine_end": {},
            "exit_codes": {"bot": 0, "guard": 0}, "not_recovered_at_end": [] if passed else ["guard is crashed"],
            "frozen_symbols": 12, "bot_reconciled_after_freeze": True, "leftover_processes": {}}


def test_a_passing_report_names_seed_command_invariants_faults_and_trades():
    text = render(result())
    assert text.startswith("# Whole-system trial (short): PASSED")
    assert f"Seed **{SHORT.seed}**" in text and "`mraster trial --short`" in text
    assert "| no position without a resting stop for more than 2 s | **0** | 3 gaps; longest 0.4 s wall" in text
    assert "| 1 | 30.0 | 1:00 | admin_fault | error_rate=0.3 for 8 s |" in text
    assert "| BTCUSDT.abc | LONG | 0:10 | 1:10 | stop | 1 | 100 | 98.5 | -1.5000 | 0.2400 | 0.0000 | yes |" in text
    assert "| guard | SIGKILL | 7 | 9 | 0 -> 1 | 2.1 |" in text
    assert "| guard_kill | 1 | 1 |" in text and "| bot_kill | 0 | 0 |" in text
    assert "back to normal at once" in text and "exit codes 0 / 0; nothing left running." in text


def test_a_failing_report_says_so_and_lists_each_violation():
    text = render(result(passed=False))
    assert text.startswith("# Whole-system trial (short): FAILED")
    assert "- BTCUSDT 1 without a resting stop: 3.1 s" in text
    assert "NO: fees disagree" in text
    assert "NOT within the timeout (guard is crashed)" in text


def test_write_report_draws_the_equity_curve(tmp_path):
    path = write_report(tmp_path, result())
    assert path.read_text().count("![equity curve with fault moments](equity.png)") == 1
    png = (tmp_path / "equity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
