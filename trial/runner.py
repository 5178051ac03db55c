"""One whole-system trial, from an empty work directory to the report.

1. Write the work directory (settings files as a user would), start `mraster dashboard` there;
   it starts the paper exchange. Start the guard, then the bot, through the dashboard's API.
2. Run the seeded fault schedule while the monitor checks the invariants, until the market has
   run `market_hours` of venue time.
3. Clear faults, wait for recovery, freeze the market, let the bot reconcile, stop bot and guard,
   read venue, state and journal, stop everything, scan files for secrets, write the report.
"""
from __future__ import annotations

import asyncio
import json
import signal
import time
import traceback
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from trial import final, ledger as ledger_mod, results as res
from trial.clients import DashboardClient, LeakScanner, VenueAdmin
from trial.deltaneutral_part import LONE_LEG_LIMIT_S, NAMES as DN_NAMES, OperatorPart
from trial.faults import FaultExecutor, FaultRecord
from trial.machine import machine_info
from trial.momentum_part import MomentumPart, journal_trades
from trial.monitor import Monitor
from trial.params import TrialParams
from trial.processes import kill_leftovers, start_dashboard, stop_dashboard, wait_for
from trial.schedule import build_schedule
from trial.workdir import WorkDir, create

START_TIMEOUT_S = 90.0
OPERATOR_GRACE_S = 60.0     # how long the operator's last fault may still take once the run has ended


async def run_trial(params: TrialParams, out_dir: Path, command: str = "",
                    say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the trial in `out_dir` (created); returns the result (also written as result.json)."""
    schedule = build_schedule(params.faults, params.wall_duration_s, params.warmup_s, params.tail_s, params.seed)
    work = create(out_dir, params)      # after the schedule: bad parameters leave no work directory behind
    (work.path / "schedule.json").write_text(json.dumps([asdict(e) for e in schedule], indent=1, default=str))
    say(f"trial {params.name}: seed {params.seed}, {params.market_hours:g} market hours at {params.speed:g}x "
        f"(~{params.wall_duration_s:.0f} s), {len(params.symbols)} symbols, {len(schedule)} faults; in {work.path}")
    result: dict[str, Any] = {"params": _params_json(params), "command": command, "work_dir": str(work.path),
                              "machine_start": machine_info(), "schedule": [asdict(e) for e in schedule]}
    part = MomentumPart(work, tuple(params.symbols[:params.momentum_symbols])) if params.momentum else None
    secrets = {**work.secrets.values(), **({"MOMENTUM_PAPER_KEY": part.key, "MOMENTUM_PAPER_SECRET": part.secret}
                                           if part else {})}
    scanner = LeakScanner(secrets)
    started = time.time()
    dash = start_dashboard(work)
    dashboard = DashboardClient(work.dashboard_url, work.secrets.dashboard_token, scanner)
    venue = VenueAdmin(work.paper_url, work.secrets.paper_api_key, scanner)
    monitor = Monitor(work, params, dashboard, venue)
    task: asyncio.Task | None = None
    executor: FaultExecutor | None = None
    op_part = OperatorPart(work.path, params.speed, params.paper_seed, params.market_ms)
    part_tasks: list[asyncio.Task] = []
    _stop_on_sigterm(asyncio.current_task())
    try:
        await wait_for("the dashboard", dashboard.processes, START_TIMEOUT_S, alive=lambda: dash.poll() is None)
        await wait_for("the paper exchange", venue.info, START_TIMEOUT_S)
        task = asyncio.create_task(monitor.run())
        await wait_for("the first venue snapshot", lambda: monitor.latest is not None, START_TIMEOUT_S)
        await op_part.start()
        part_tasks = [asyncio.create_task(op_part.monitor()),
                      asyncio.create_task(op_part.faults_run(params.wall_duration_s))]
        await dashboard.act("guard", "start")
        await wait_for("the guard", lambda: _guard_reports(monitor), START_TIMEOUT_S)
        executor = FaultExecutor(work, params, monitor, dashboard, venue, lambda: dashboard.act("bot", "start"))
        if not (schedule and schedule[0].params.get("first_entry")):
            await dashboard.act("bot", "start")
        kill_task = None
        if part is not None:
            await part.start(venue)
            monitor.second_account = part.key
            kill_task = asyncio.create_task(_momentum_kill(part, params))
        venue_t0 = monitor.venue_ms()
        result["t0_wall"] = time.time()
        say(f"trading started at venue time {venue_t0}; dashboard {work.dashboard_url}")
        records = await executor.run(schedule, lambda r: say(
            f"  fault {r.index:2d} at {r.started_s:7.1f} s {r.kind}: {r.outcome}"))
        while monitor.observed_venue_ms() - venue_t0 < params.market_ms:
            await asyncio.sleep(0.5)
        result["faults"] = [asdict(r) for r in records]
        if kill_task is not None:
            await kill_task
        result.update(await _finish(work, params, monitor, dashboard, venue, task, venue_t0, part))
        task = None
        result["operator"] = await _finish_operator(op_part, part_tasks)
        result["invariants_partial"] = result.get("invariants_partial", []) + op_part.invariants()
        result["operator_problems"] = op_part.problems(result["operator"])
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
        say(f"trial failed: {result['error']}")
    finally:
        if executor is not None and "faults" not in result:
            result["faults"] = [asdict(r) for r in executor.records]
        if task is not None:
            await final.stop_monitor(monitor, task)
        if part is not None and part.running():
            await part.stop()
        for t in part_tasks:
            t.cancel()
        await op_part.close()
        await _shutdown(work, dashboard, venue, dash, result)
    result["wall_s"] = round(time.time() - started, 1)
    result["machine_end"] = machine_info()
    _verdict(result, work, monitor, scanner, params, secrets)
    (work.path / "result.json").write_text(json.dumps(result, indent=1, default=str))
    from trial.report import write_report
    write_report(work.path, result)
    return result


def _stop_on_sigterm(main: asyncio.Task | None) -> None:
    """A SIGTERM (a cancelled CI job, `kill`) cancels the run, so the `finally` still stops every process
    of the trial instead of leaving dashboard, paper exchange, bot and guard running."""
    if main is None:
        return
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    except (NotImplementedError, RuntimeError, ValueError):   # not the main thread, or no signals here
        pass


async def _finish_operator(part: OperatorPart, tasks: list[asyncio.Task]) -> dict[str, Any]:
    """The operator's faults get a grace period to land after the run's end (a loaded machine is slow
    to restart a process); a fault still waiting after it is reported as not carried out."""
    pending = [t for t in tasks[1:] if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=OPERATOR_GRACE_S)
    for t in tasks[1:]:
        if not t.done():
            t.cancel()
    await asyncio.gather(*tasks[1:], return_exceptions=True)
    summary = await part.finish()
    await asyncio.gather(*tasks[:1], return_exceptions=True)
    return summary


def _guard_reports(monitor: Monitor) -> bool:
    pid, beat = monitor.guard_heartbeat
    st = monitor.statuses.get("guard", {})
    return bool(pid and pid == st.get("pid") and beat > 0)


async def _momentum_kill(part: MomentumPart, params: TrialParams) -> None:
    """Once, near the middle of the run: SIGKILL the momentum engine while it holds a position with its
    exits, start it again, and check the adoption (the monitor watches stop gaps and duplicates)."""
    await asyncio.sleep(params.warmup_s + 0.3 * params.wall_duration_s)
    await part.kill_and_restart(wait_for_position_s=0.3 * params.wall_duration_s)


async def _finish(work: WorkDir, params: TrialParams, monitor: Monitor, dashboard: DashboardClient,
                  venue: VenueAdmin, task: asyncio.Task, venue_t0: int,
                  part: MomentumPart | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"market_ms": monitor.observed_venue_ms() - venue_t0}   # as the venue reported it
    await venue.clear_faults()
    out["not_recovered_at_end"] = await monitor.wait_healthy(params.recovery_timeout_s)
    out["frozen_symbols"] = await final.freeze_market(venue)
    out["bot_reconciled_after_freeze"] = await final.wait_bot_cycles(work.path / "aster_state.json", 2, 90.0)
    if part is not None:
        await part.stop()
        n = journal_trades(work.path / "momentum_journal.sqlite")
        out["momentum"] = {**part.summary(n), "positions_seen": monitor.second_positions_seen}
        out["momentum_problems"] = part.problems(n)
    out["exit_codes"] = await final.stop_trading(dashboard)
    await final.stop_monitor(monitor, task)
    settings = work.load_settings().settings
    state = final.read_state(work.path / "aster_state.json")
    trades = list(state.closed_trades) + list(state.open_trades.values())
    facts = await final.read_venue(settings, params.symbols, venue_t0 - 3_600_000, trades)
    rows, fill_totals = final.read_journal(work.path / "aster_journal.sqlite")
    cycles = ledger_mod.lifecycles(facts.fills)
    ledger_mod.attach_funding(cycles, facts.income)
    ledger = ledger_mod.reconcile_ledger(state.closed_trades, state.open_trades.values(), rows, fill_totals, cycles,
                                         facts.entry_ids)
    cap, tolerance = Decimal(str(settings.max_notional_usdt)), Decimal(str(params.notional_tolerance))
    journal_notional = [f"{t.trade_id}: notional at entry {t.notional} (state) > {cap} + {tolerance:%}"
                        for t in trades
                        if not t.adopted and t.notional is not None and t.notional > cap * (1 + tolerance)]
    out["invariants_partial"] = [
        res.limits_invariant(ledger_mod.over_limit(cycles, settings.max_open_global, settings.max_open_per_symbol),
                             ledger_mod.over_notional(cycles, cap, tolerance),
                             journal_notional, monitor.max_positions_seen, ledger_mod.largest_entry(cycles), cap,
                             tolerance),
        res.ledger_invariant(ledger),
        res.stop_honoured_invariant(state.closed_trades, params.max_loss_r),
        res.duplicates_invariant(monitor, ledger_mod.duplicate_entries(cycles)),
    ]
    out["trades"] = [asdict(c) for c in ledger.checks]
    out["totals"] = res.totals(ledger.checks)
    out["policy"] = res.policy_summary(trades, params.policy)
    out["venue_end"] = {"positions": facts.positions, "open_orders": facts.open_orders, "fills": len(facts.fills),
                        "funding_payments": len(facts.income)}
    out["open_trades_end"] = sorted(state.open_trades)
    out["equity"] = [(v, round(w, 3), b) for v, w, b in monitor.equity]
    out["equity_state"] = state.equity_curve[-2000:]
    out["venue_t0"] = venue_t0
    out["monitor"] = {"venue_polls": monitor.venue_polls, "venue_failures": monitor.venue_failures,
                      "longest_poll_gap_s": round(monitor.longest_poll_gap_s, 3), "errors": monitor.errors[:20],
                      "venue_clock_steps_back": monitor.clock_steps_back}
    return out


async def _shutdown(work: WorkDir, dashboard: DashboardClient, venue: VenueAdmin, dash: Any,
                    result: dict[str, Any]) -> None:
    """Stop every process of the trial; children through the dashboard first."""
    for name in ("bot", "guard", "paper"):
        try:
            await dashboard.act(name, "stop")
        except Exception:  # the dashboard may be gone: the pid files are the fallback
            pass
    await dashboard.close()
    await venue.close()
    result["dashboard_exit_code"] = await asyncio.to_thread(stop_dashboard, dash)
    result["leftover_processes"] = await asyncio.to_thread(kill_leftovers, work)


def _verdict(result: dict[str, Any], work: WorkDir, monitor: Monitor, scanner: LeakScanner,
             params: TrialParams, secrets: dict[str, str] | None = None) -> None:
    scan = final.scan_files(work.path, secrets or work.secrets.values())
    invariants = [res.stop_gap_invariant(monitor, params.stop_gap_limit_s)]
    invariants += result.pop("invariants_partial", [])
    measured = {i["name"] for i in invariants}
    faults = [_record(f) for f in result.get("faults", [])]
    invariants += [res.config_invariant(monitor, faults),
                   res.secrets_invariant(scanner.hits, scan.hits, scanner.responses, scan.files),
                   res.restarts_invariant(monitor.kills, params.recovery_timeout_s)]
    for name in (res.LIMITS, res.LEDGER, res.DUPLICATES, res.STOP_HONOURED, *DN_NAMES):
        if name not in measured:   # the run ended early: unmeasured counts as failed
            invariants.append(res.invariant(name, 1, ["not measured: the run did not reach its end"]))
    invariants.sort(key=lambda i: res.ORDER.index(i["name"]))
    for inv in invariants:
        inv["title"] = res.TITLES[inv["name"]].format(limit=params.stop_gap_limit_s, max_loss_r=params.max_loss_r,
                                                       lone=LONE_LEG_LIMIT_S)
    result["invariants"] = invariants
    result["kills"] = [res.kill_json(k) for k in monitor.kills]
    result["plan"] = plan_fulfilment(result.get("faults", []), params)
    result["violations"] = sum(i["violations"] for i in invariants)
    result["end_problems"] = end_problems(result, monitor)
    result["passed"] = result["violations"] == 0 and "error" not in result and not result["end_problems"]
    result["plan_fulfilled"] = all(p["done"] >= p["planned"] for p in result["plan"].values())


def end_problems(result: dict[str, Any], monitor: Monitor) -> list[str]:
    """How the run ended, beyond the invariants: a run that ends broken, idle or unobserved proves less
    than its zero counts suggest, so each of these fails it."""
    if "error" in result:
        return []       # already failed, with its reason
    out = [f"not back to normal at the end: {p}" for p in result.get("not_recovered_at_end", [])]
    if result.get("bot_reconciled_after_freeze") is False:
        out.append("the bot did not complete two cycles after the market was frozen")
    out += [f"{name} exited with code {code} when stopped" for name, code in result.get("exit_codes", {}).items()
            if code != 0]
    out += [f"left running: {name} pid {pid}" for name, pid in result.get("leftover_processes", {}).items()]
    if not result.get("totals", {}).get("trades"):
        out.append("no closed trade: the ledger check had nothing to compare")
    policy = result.get("policy") or {}
    if policy.get("mode") == "active" and not policy.get("sized_by_policy"):
        out.append("policy active, but the bandit admitted and sized no entry: the policy was not exercised")
    out += result.get("momentum_problems", [])
    if monitor.venue_polls == 0:
        out.append("the monitor never read the venue")
    out += result.get("operator_problems", [])
    out += [f"the monitor could not check a snapshot: {e}" for e in monitor.observe_errors[:5]]
    return out


def _record(data: dict[str, Any]) -> FaultRecord:
    return FaultRecord(**data)


def plan_fulfilment(faults: list[dict[str, Any]], params: TrialParams) -> dict[str, dict[str, int]]:
    """Planned and carried-out counts per fault kind (an entry kill counts when it landed)."""
    plan = params.faults
    planned = {"bot_kill": plan.bot_kills, "bot_entry_kill": plan.bot_entry_kills, "guard_kill": plan.guard_kills,
               "paper_restart": len(plan.paper_restarts), "admin_fault": len(plan.admin_faults),
               "venue_cancel": plan.venue_cancels, "venue_stop_cancel": plan.venue_stop_cancels,
               "config_burst": plan.config_bursts, "disk_full": plan.disk_fulls}
    done = {k: 0 for k in planned}
    for f in faults:
        if not f["done"]:
            continue
        if f["kind"] == "bot_entry_kill":
            done["bot_entry_kill"] += 1 if f["details"].get("landed") else 0
            continue
        done[f["kind"]] += 1
        if f["kind"] == "venue_cancel" and f["details"].get("stop"):
            done["venue_stop_cancel"] += 1
    return {k: {"planned": planned[k], "done": done[k]} for k in planned}


def _params_json(params: TrialParams) -> dict[str, Any]:
    data = asdict(params)
    data["wall_duration_s"] = params.wall_duration_s
    return data
