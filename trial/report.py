"""report.md (and equity.png) from a trial's result: what a reader needs to check the run."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from trial.plot import plot_equity


def _market(ms: int | None, t0: int) -> str:
    if not ms or not t0:
        return "-"
    minutes = (ms - t0) / 60_000
    return f"{int(minutes // 60):d}:{int(minutes % 60):02d}"


def _money(value: Any, places: int = 4) -> str:
    if value in (None, ""):
        return "-"
    return f"{Decimal(str(value)):.{places}f}"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header))] + [_row(r) for r in rows]


def render(result: dict[str, Any], png_name: str | None = "equity.png") -> str:
    p, t0 = result["params"], result.get("venue_t0", 0)
    verdict = "PASSED" if result.get("passed") else "FAILED"
    out = [f"# Whole-system trial ({p['name']}): {verdict}", ""]
    out += [f"Command: `{result.get('command') or 'mraster trial'}`", "",
            f"Seed **{p['seed']}** (fault schedule and every random choice), synthetic market seed {p['paper_seed']}; "
            f"{p['market_hours']:g} market hours at {p['speed']:g}x on {len(p['symbols'])} symbols; "
            f"wall time {result.get('wall_s', '-')} s. Market time covered: "
            f"{(result.get('market_ms') or 0) / 3_600_000:.2f} h."]
    if result.get("error"):
        out += ["", f"**The run stopped early:** `{result['error']}`"]
    if result.get("end_problems"):
        out += ["", "**The run ended in a state that fails it:**", ""] + [f"- {e}" for e in result["end_problems"]]
    if not result.get("plan_fulfilled", True):
        out += ["", "**Not every planned fault could be carried out** (see the plan table)."]
    out += ["", "## Invariants", ""]
    out += _table(["invariant", "violations", "measured"], [[i["title"], f"**{i['violations']}**", _measured(i)]
                                                            for i in result.get("invariants", [])])
    for i in result.get("invariants", []):
        if i["details"]:
            out += ["", f"{i['name']} violations:", ""] + [f"- {d}" for d in i["details"]]
    out += _end_of_run(result)
    out += ["", "## Fault plan", ""]
    out += _table(["kind", "planned", "carried out"], [[k, v["planned"], v["done"]]
                                                       for k, v in result.get("plan", {}).items()])
    out += ["", "## Fault timeline", "",
            "Wall seconds after trading started; market time as h:mm since then. *waited*: seconds spent waiting "
            "for the system to be back to normal (processes up and reporting, no fault active, every position "
            "with a stop) before the fault.", ""]
    out += _table(["#", "wall s", "market", "kind", "fault", "outcome", "waited s"],
                  [[f["index"], f["started_s"], _market(f["venue_ms"], t0), f["kind"], f["description"], f["outcome"],
                    f["waited_s"]] for f in result.get("faults", [])])
    out += ["", "## Processes killed and restarted", ""]
    out += _table(["process", "how", "pid", "new pid", "dashboard restart count", "back after s"],
                  [[k["name"], k["how"], k["pid"], k["new_pid"] or "-",
                    f"{k['restart_count_before']} -> "
                    f"{k['restart_count_after'] if k['restart_count_after'] is not None else '-'}",
                    k["recovery_s"] if k["recovery_s"] is not None else "never"] for k in result.get("kills", [])])
    out += ["", "*back after*: until the dashboard showed the process running with a new pid and a raised restart "
            "count, and the new process itself reported (bot: state file heartbeat; guard: status file; paper "
            "exchange: its start time in `/admin/state`)."]
    out += _trades(result, t0)
    out += _momentum(result)
    out += _operator(result)
    out += _config(result)
    out += ["", "## Parameters", ""]
    out += _table(["parameter", "value"], [[k, v] for k, v in p.items() if k not in ("faults", "symbols")]
                  + [["symbols", ", ".join(p["symbols"])]]
                  + [[f"faults.{k}", v] for k, v in p["faults"].items()])
    m0, m1 = result.get("machine_start", {}), result.get("machine_end", {})
    out += ["", "## Machine and versions", ""]
    out += _table(["", ""], [["python", m0.get("python")], ["mraster", m0.get("mraster")], ["commit", m0.get("commit")],
                             ["platform", m0.get("platform")], ["CPUs", m0.get("cpus")],
                             ["memory MiB", m0.get("memory_mib")],
                             ["load average at start / end", f"{m0.get('load_average')} / {m1.get('load_average')}"]])
    mon = result.get("monitor", {})
    if mon:
        out += ["", f"Monitor: {mon['venue_polls']} venue polls ({mon['venue_failures']} failed, longest gap between "
                    f"polls {mon['longest_poll_gap_s']} s, e.g. while the paper exchange restarted)."]
        steps = mon.get("venue_clock_steps_back")
        out += [] if steps is None else ["", "Venue clock: " + ("never went back between two polls." if not steps else
                f"went back {len(steps)} time(s) between two polls: " + ", ".join(
                    f"{ms / 60_000:.1f} market min at {wall - _t0_wall(result):.0f} s" for wall, ms in steps[:10])
                + " (wall seconds after trading started; a paper exchange restarts from the clock it last saved).")]
    if png_name:
        out += ["", "## Equity", "", f"![equity curve with fault moments]({png_name})"]
    out += ["", "## Reproduce", "", f"```\n{result.get('command') or 'mraster trial'}\n```", ""]
    return "\n".join(out)


def _end_of_run(result: dict[str, Any]) -> list[str]:
    if "exit_codes" not in result:
        return []
    pending = result.get("not_recovered_at_end") or []
    codes = result["exit_codes"]
    left = result.get("leftover_processes") or {}
    return ["", "End of run: faults cleared; system back to normal " + (
        "at once" if not pending else f"NOT within the timeout ({'; '.join(pending)})") +
        f"; {result.get('frozen_symbols', 0)} symbols' prices held; the bot "
        + ("reconciled twice more" if result.get("bot_reconciled_after_freeze") else "did NOT finish two more cycles")
        + f"; bot and guard stopped through the dashboard with exit codes {codes.get('bot')} / {codes.get('guard')}; "
        + ("nothing left running." if not left else f"left running and terminated: {left}.")]


def _operator(result: dict[str, Any]) -> list[str]:
    """Seed 004's delta-neutral operator beside the scanner (trial/deltaneutral_part.py)."""
    op = result.get("operator")
    if not op:
        return []
    faults = "; ".join(
        f"SIGKILLed and restarted, its pair adopted after {f['recovery_s']} s" if f["kind"] == "operator_kill" else
        f"LONG leg liquidated by the venue, the SHORT closed after {f['other_leg_closed_s']} s"
        for f in op.get("faults", [])) or "none carried out"
    return ["", "## Delta-neutral operator", "",
            f"On its own paper exchange: {op.get('pairs', 0)} pairs, {op.get('trades', 0)} trades, volume "
            f"{op.get('volume', '0')} USDT, pairs closed by {', '.join(op.get('close_reasons', [])) or 'nothing'}; "
            f"faults: {faults}; exit code when stopped {op.get('exit_code')}."]


def _t0_wall(result: dict[str, Any]) -> float:
    if result.get("t0_wall"):
        return float(result["t0_wall"])
    first = (result.get("faults") or [{}])[0]
    return float(first.get("wall", 0.0)) - float(first.get("started_s", 0.0))


def _measured(inv: dict[str, Any]) -> str:
    name = inv["name"]
    if name == "stop_gap":
        lg = inv.get("longest")
        longest = (f"longest {lg['length_s']} s wall (at most {lg['at_most_s']} s), "
                   f"{lg['market_ms'] / 1000:.0f} s market"
                   if lg else "no gap")
        return f"{inv.get('gaps', 0)} gaps; {longest}"
    if name == "stop_honoured":
        return f"worst closed trade {inv.get('worst_r')} R"
    if name == "duplicates":
        return (f"{inv.get('brief_overlaps', 0)} replacement overlaps within the grace; longest "
                f"{inv.get('longest_overlap_s', 0)} s")
    if name == "limits":
        return (f"at most {inv.get('max_positions_seen', 0)} positions open at once (monitor); largest entry "
                f"{inv.get('largest_entry', '-')} USDT = {inv.get('largest_entry_ratio', '-')} x the cap "
                f"(allowed: 1 + {inv.get('tolerance', '-')})")
    if name == "ledger":
        return f"{inv.get('trades_checked', 0)} closed trades, {inv.get('venue_positions', 0)} venue positions"
    if name == "config":
        return (f"{inv.get('versions_validated', 0)} file versions validated; "
                f"{inv.get('invalid_refused', 0)} invalid requests refused")
    if name == "secrets":
        return f"{inv.get('responses_scanned', 0)} API responses, {inv.get('files_scanned', 0)} files"
    if name == "restarts":
        return f"{inv.get('kills', 0)} kills/restarts; back after {inv.get('recovery_s')} s"
    return ""


def _trades(result: dict[str, Any], t0: int) -> list[str]:
    trades = result.get("trades", [])
    out = ["", f"## Trades ({len(trades)} closed)", "",
           "PnL and fees as the venue's fills give them; *agree*: the state file, the journal's trade row, the "
           "journal's fills and the venue's fills hold exactly the same values.", ""]
    out += _table(["trade", "side", "opened", "closed", "exit", "qty", "entry", "exit price", "PnL", "fees",
                   "funding", "agree"],
                  [[t["trade_id"], t["side"], _market(t["entry_time_ms"], t0), _market(t["exit_time_ms"], t0),
                    t["exit_reason"], t["qty"], t["entry_price"], t["exit_price"],
                    _money(t["values"]["realized_pnl"]["venue"]), _money(t["values"]["fees"]["venue"]),
                    _money(t["funding"]), "yes" if not t["problems"] else "NO: " + "; ".join(t["problems"])]
                   for t in trades])
    tot = result.get("totals")
    if tot:
        out += ["", _row(["totals", "trades", "wins (net)", "realised PnL", "fees", "funding", "net"]),
                _row(["---"] * 7), _row(["", tot["trades"], tot["wins"], _money(tot["realized_pnl"]),
                                         _money(tot["fees"]), _money(tot["funding"]), _money(tot["net"])])]
    pol = result.get("policy")
    if pol:
        out += ["", f"Policy ({pol['mode']}): {pol['entries']} entries by bucket {pol['by_bucket'] or '{}'}; "
                    f"admitted and sized by the bandit: {pol['sized_by_policy']}"
                    + (f" (buckets {', '.join(pol['buckets_used'])})" if pol["buckets_used"] else "") + "."]
    end = result.get("venue_end")
    if end:
        out += ["", f"At the end the venue held {end['positions']} open position(s) with {end['open_orders']} open "
                    f"order(s) (trades still open in the state: "
                    f"{', '.join(result.get('open_trades_end', [])) or 'none'});"
                    f" {end['fills']} fills and {end['funding_payments']} funding payments in all."]
    return out


def _momentum(result: dict[str, Any]) -> list[str]:
    m = result.get("momentum")
    if not m:
        return []
    kill = m.get("kill") or {}
    lat = m.get("entry_latency_ms") or {}
    rows = [["symbols", ", ".join(m.get("symbols", []))], ["trades (its journal)", m.get("entries")],
            ["positions held at once (most)", m.get("positions_seen")], ["ticks", m.get("ticks")],
            ["starts", m.get("starts")], ["exit code when stopped", m.get("exit_code")],
            ["killed while holding", ", ".join(f"{s} {t}" for s, t in (kill.get("holding") or {}).items()) or "-"],
            ["adopted after the restart", f"{kill.get('adopted')}: {kill.get('kept', 0)} of {len(kill.get('holding') or {})} "
             "still held under the same trade id, the others closed by their venue-side exits while it was down"],
            ["back after s", kill.get("recovery_s")],
            ["entry latency p50 / p99 ms", f"{lat.get('p50') or 0:.0f} / {lat.get('p99') or 0:.0f}"]]
    return ["", "## Momentum engine (second account)", "",
            "The momentum engine traded beside the scanner on a second paper account; the stop-gap and "
            "duplicates invariants above include its account (docs/trial.md).", ""] + _table(["", ""], rows) + [
        "", "Problems: " + ("; ".join(result.get("momentum_problems") or []) or "none")]


def _config(result: dict[str, Any]) -> list[str]:
    rows = []
    for f in result.get("faults", []):
        for r in f["details"].get("requests", []) if f["kind"] == "config_burst" else []:
            rows.append([f["index"], r["method"], r["changes"], "valid" if r["valid"] else "invalid", r["status"],
                         "yes" if r["written"] else "no", ", ".join(r.get("errors", [])) or "-"])
    if not rows:
        return []
    return ["", "## Config changes through the dashboard API", ""] + _table(
        ["fault", "method", "changes", "expected", "HTTP", "file changed", "fields named in the 422"], rows)


def write_report(directory: Path, result: dict[str, Any]) -> Path:
    png = None
    if result.get("equity"):
        title = (f"mraster trial ({result['params']['name']}, seed {result['params']['seed']}): margin balance, "
                 "faults marked")
        plot_equity(directory / "equity.png", result["equity"], result.get("faults", []), result.get("venue_t0", 0),
                    title, speed=float(result["params"]["speed"]))
        png = "equity.png"
    path = directory / "report.md"
    path.write_text(render(result, png), encoding="utf-8")
    return path
