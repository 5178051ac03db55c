"""The instance's status file (`<ASTER_RUN_DIR>/<instance>.status.json`), read by the dashboard's page
`#/engine/<instance>`: per symbol the last bar's ret_bps against k * RS_vol, the volume ratio, each
blocker, warm-up progress, position, armed exits with the trailing state, cooldown; the daily schedule,
the kill-switch, the parameters in force. Written atomically every tick (docs/momentum.md)."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from momentum.orders import schedule_phase

if TYPE_CHECKING:
    from momentum.engine import Engine

SCHEMA = 1


def _next_utc(now_ms: int, minute: int) -> int:
    day = now_ms // 86_400_000 * 86_400_000
    t = day + minute * 60_000
    return t if t > now_ms else t + 86_400_000


def _trailing(held: dict[str, Any], mark: float | None) -> dict[str, Any]:
    """Armed (waiting for the activation price) or active (past it: the stop follows at callback % from the
    best price); the best price is the venue's, estimated here from the mark since entry is not kept."""
    plan = held.get("plan") or {}
    act = float(plan.get("activation_price", 0) or 0)
    side = int(held.get("side", 0))
    reached = mark is not None and act > 0 and ((side > 0 and mark >= act) or (side < 0 and mark <= act))
    return {"activation_price": plan.get("activation_price"), "callback_rate_pct": plan.get("callback_rate"),
            "state": "active (trailing)" if reached else "armed (waiting for activation)"}


def build_status(e: "Engine", final: bool = False) -> dict[str, Any]:
    now = e.now_ms()
    symbols: dict[str, Any] = {}
    for sym, run in e.runs.items():
        st = e.states[sym]
        snap = e.cache.snapshot(sym)
        mark = snap.latest_funding.mark_price if snap.latest_funding is not None else None
        sig = run.signal.to_json() if run.signal else None
        held = None
        if st.held is not None:
            h = st.held
            held = {"trade_id": h.trade_id, "side": "LONG" if h.side > 0 else "SHORT", "qty": h.qty,
                    "entry_price": h.entry_price, "entry_time_ms": h.entry_time_ms, "adopted": h.adopted,
                    "exits": h.exits, "plan": h.plan, "config": h.config, "close_reason": h.close_reason,
                    "trailing": _trailing({"plan": h.plan, "side": h.side}, mark)}
        p = run.params
        symbols[sym] = {
            "params": e.config_of(sym),
            "bars": len(run.bars), "warmup_bars": p.warmup_bars,
            "warmup_pct": round(100 * min(1.0, len(run.bars) / p.warmup_bars), 1),
            "last_bar_open_ms": run.bars.last_open,
            "signal": sig,
            "bid": snap.latest_bbo.bid_price if snap.latest_bbo else None,
            "ask": snap.latest_bbo.ask_price if snap.latest_bbo else None,
            "mark": mark,
            "position": held,
            "pending_entry": st.pending_entry,
            "cooldown_until_ms": st.cooldown_until_ms if st.cooldown_until_ms > now else 0,
            "cooldown_s": max(0, (st.cooldown_until_ms - now) // 1000),
            "last_exit": st.last_exit,
            "leftovers": st.leftovers,
            "last_action": run.last_action,
        }
    lat = sorted(e.latencies_ms)
    claims = [{"account": e.cfg.account, "symbol": sym, "position_side": "BOTH"} for sym, st in sorted(e.states.items())
              if st.held is not None or st.pending_entry]
    return {
        "schema": SCHEMA, "kind": "momentum", "instance": e.cfg.instance, "pid": os.getpid(),
        "account": e.cfg.account,
        "positions": claims,          # what it holds or is entering (mraster/engines/owners.py reads these claims)
        "state": "stopped" if final else "running", "updated_wall_ms": int(time.time() * 1000), "venue_ms": now,
        "trading": e.cfg.enable_trading, "order_notional": e.cfg.order_notional, "taker_fee_bps": e.trading.fee_bps,
        "schedule": {"phase": schedule_phase(now, e.cfg.halt_min, e.cfg.force_min),
                     "entry_halt_utc": e.cfg.entry_halt_utc, "force_exit_utc": e.cfg.force_exit_utc,
                     "next_halt_ms": _next_utc(now, e.cfg.halt_min), "next_force_exit_ms": _next_utc(now, e.cfg.force_min)},
        "kill_switch": {"latched": e.entries_blocked(), **e.kill, "threshold": e.cfg.safety_multiple},
        "params_file": str(e.cfg.params_file), "params_problem": e.params_problem,
        "ticks": e.ticks, "tick_ms": round(e.tick_ms, 3),
        "entry_latency_ms": {"n": len(lat), "p50": lat[len(lat) // 2] if lat else None,
                             "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None},
        "problems": e.problems[-10:],
        "decisions": [{"symbol": d.symbol, "side": d.side, "action": d.action} for d in e.decisions[-20:]],
        "symbols": symbols,
    }
