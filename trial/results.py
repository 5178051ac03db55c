"""The trial's verdict: one violation count per invariant, and the totals of the trading day (pure)."""
from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any, Iterable

from trial.faults import FaultRecord
from trial.ledger import LedgerResult, TradeCheck
from trial.monitor import KillRecord, Monitor

STOP_GAP, STOP_HONOURED, DUPLICATES, LIMITS, LEDGER, CONFIG, SECRETS, RESTARTS = (
    "stop_gap", "stop_honoured", "duplicates", "limits", "ledger", "config", "secrets", "restarts")
DN_LONE, DN_DELTA, DN_ONE_PAIR = "dn_lone_leg", "dn_net_delta", "dn_one_pair"     # trial/deltaneutral_part.py
ORDER = (STOP_GAP, STOP_HONOURED, DUPLICATES, LIMITS, LEDGER, CONFIG, SECRETS, RESTARTS, DN_LONE, DN_DELTA,
         DN_ONE_PAIR)
TITLES = {
    STOP_GAP: "no position without a resting stop for more than {limit:g} s",
    STOP_HONOURED: "no position lost more than its stop allows ({max_loss_r:g} R) and none was liquidated",
    DUPLICATES: "no duplicate orders (one trade's role, or one position's stop/take-profit slot, held twice)",
    LIMITS: "no position opened beyond ASTER_MAX_OPEN_GLOBAL / per symbol, or above ASTER_MAX_NOTIONAL_USDT",
    LEDGER: "journal, aster_state.json and the venue agree on every closed trade's PnL and fees",
    CONFIG: "no invalid config value ever written",
    SECRETS: "no secret in any log file or API response",
    RESTARTS: "every killed process came back, and the dashboard showed it",
    DN_LONE: "operator: no leg alone for more than {lone:g} s (venue liquidations and SIGKILLs included)",
    DN_DELTA: "operator: net delta of a held pair within MAX_PNL_DRIFT_PCT of a leg's notional",
    DN_ONE_PAIR: "operator: never more than one pair's size on the venue (no second pair after a restart)",
}


def invariant(name: str, violations: int, details: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "violations": violations, "details": details[:50], **extra}


def stop_gap_invariant(monitor: Monitor, limit_s: float) -> dict[str, Any]:
    eps = monitor.stop_gaps.episodes()
    now, venue = monitor.stop_gaps.last_wall or 0.0, monitor.stop_gaps.last_venue
    longest = monitor.stop_gaps.longest()
    bad = [ep.to_json(now, venue) for ep in eps if ep.violated]
    return invariant(STOP_GAP, len(bad), [f"{b['detail']}: {b['length_s']} s" for b in bad], limit_s=limit_s,
                     gaps=len(eps), longest=longest.to_json(now, venue) if longest else None,
                     gap_lengths_s=sorted(round(ep.length_s(now), 3) for ep in eps))


def stop_honoured_invariant(trades: Iterable[Any], max_loss_r: float) -> dict[str, Any]:
    """A position with a resting stop loses about 1 R plus fees and the stop's slippage; far more, or a
    liquidation, means the stop did not do its job (or the venue did something no venue may)."""
    closed = [t for t in trades if t.entry_qty]
    bad = [t for t in closed if t.exit_reason == "liquidation"
           or (t.r_multiple is not None and t.r_multiple < -max_loss_r)]
    worst = min((t.r_multiple for t in closed if t.r_multiple is not None), default=None)
    return invariant(STOP_HONOURED, len(bad),
                     [f"{t.trade_id}: {t.exit_reason} at {t.exit_price}, PnL {t.realized_pnl}, R "
                      + ("unknown" if t.r_multiple is None else f"{t.r_multiple:.2f}") for t in bad], worst_r=None if worst is None else round(worst, 3), max_loss_r=max_loss_r)


def duplicates_invariant(monitor: Monitor, duplicate_entries: list[str]) -> dict[str, Any]:
    eps = monitor.duplicates.episodes()
    bad = [ep for ep in eps if ep.violated]
    longest = monitor.duplicates.longest()
    return invariant(DUPLICATES, len(bad) + len(duplicate_entries),
                     [f"{ep.detail} for {ep.length_s(monitor.duplicates.last_wall or 0):.2f} s" for ep in bad]
                     + duplicate_entries, brief_overlaps=len(eps) - len(bad),
                     longest_overlap_s=round(longest.length_s(monitor.duplicates.last_wall or 0), 3) if longest else 0)


def limits_invariant(over_limit: list[str], over_notional: list[str], journal_notional: list[str],
                     max_seen: int, largest_entry: Decimal, cap: Decimal, tolerance: Decimal) -> dict[str, Any]:
    details = over_limit + over_notional + journal_notional
    return invariant(LIMITS, len(details), details, max_positions_seen=max_seen,
                     largest_entry=f"{largest_entry:.4f}", cap=str(cap), tolerance=str(tolerance),
                     largest_entry_ratio=round(float(largest_entry / cap), 5) if cap else None)


def ledger_invariant(ledger: LedgerResult) -> dict[str, Any]:
    details = [f"{c.trade_id}: {'; '.join(c.problems)}" for c in ledger.checks if not c.ok] + ledger.problems
    return invariant(LEDGER, ledger.violations, details, trades_checked=len(ledger.checks),
                     venue_positions=len(ledger.cycles))


def config_invariant(monitor: Monitor, faults: Iterable[FaultRecord]) -> dict[str, Any]:
    details = list(monitor.config.violations)
    refused = 0
    for rec in faults:
        for r in rec.details.get("requests", []) if rec.kind == "config_burst" else []:
            if not r["valid"]:
                if r["status"] == 422 and not r["written"]:
                    refused += 1
                else:
                    details.append(f"invalid {r['method']} {r['changes']} answered {r['status']}"
                                   + (" and written" if r["written"] else ""))
    return invariant(CONFIG, len(details), details, versions_validated=monitor.config.versions,
                     invalid_refused=refused)


def secrets_invariant(api_hits: list[tuple[str, str]], file_hits: list[tuple[str, str]], responses: int,
                      files: int) -> dict[str, Any]:
    details = [f"{name} in {where}" for where, name in api_hits + file_hits]
    return invariant(SECRETS, len(details), details, responses_scanned=responses, files_scanned=files)


def restarts_invariant(kills: list[KillRecord], timeout_s: float) -> dict[str, Any]:
    bad = [k for k in kills if not k.recovered or (k.recovery_s or 0) > timeout_s]
    details = [f"{k.name} pid {k.pid} ({k.how}): " + ("dashboard never showed it back" if k.dashboard_seen is None
                                                      else "it never reported itself" if k.heartbeat_seen is None
                                                      else f"back only after {k.recovery_s:.1f} s") for k in bad]
    return invariant(RESTARTS, len(bad), details, kills=len(kills),
                     recovery_s=[None if k.recovery_s is None else round(k.recovery_s, 2) for k in kills])


def totals(checks: list[TradeCheck]) -> dict[str, str | int]:
    pnl = sum((Decimal(c.values["realized_pnl"]["venue"] or c.values["realized_pnl"]["state"] or 0) for c in checks),
              Decimal(0))
    fees = sum((Decimal(c.values["fees"]["venue"] or c.values["fees"]["state"] or 0) for c in checks), Decimal(0))
    funding = sum((Decimal(c.funding or 0) for c in checks), Decimal(0))
    wins = sum(1 for c in checks
               if Decimal(c.values["realized_pnl"]["state"] or 0) - Decimal(c.values["fees"]["state"] or 0) > 0)
    return {"trades": len(checks), "wins": wins, "realized_pnl": str(pnl), "fees": str(fees), "funding": str(funding),
            "net": str(pnl - fees + funding)}


POLICY_ARMS = ("S", "M", "L")


def policy_summary(trades: Iterable[Any], mode: str) -> dict[str, Any]:
    """How the bandit took part: entries per bucket, and how many it admitted and sized itself (bucket
    S/M/L, not in shadow mode). An "active" run in which it sized no entry did not exercise it."""
    own = [t for t in trades if not t.adopted and t.entry_qty]
    buckets: dict[str, int] = {}
    for t in own:
        buckets[t.bucket] = buckets.get(t.bucket, 0) + 1
    sized = [t for t in own if t.bucket in POLICY_ARMS and not (t.decision or {}).get("shadow", True)]
    return {"mode": mode, "entries": len(own), "by_bucket": dict(sorted(buckets.items())),
            "sized_by_policy": len(sized), "buckets_used": sorted({t.bucket for t in sized})}


def kill_json(k: KillRecord) -> dict[str, Any]:
    out = asdict(k)
    out["recovery_s"] = None if k.recovery_s is None else round(k.recovery_s, 2)
    return out
